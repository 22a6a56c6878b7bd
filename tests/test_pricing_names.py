"""Which catalog entry prices a name, in the spellings real gateways send.

Each row: the model name as it arrives in ``llm.model``, the gateway's ``llm.provider`` (None when
the span has none), and the entry that must price it (``provider/model id`` in the embedded
snapshot), or ``UNPRICED`` (no entry has the name) or ``AMBIGUOUS`` (entries exist, but none for
this call's provider or the model's owner, or several at different prices). Where a list price
is given it is checked too: it comes from the vendor's pricing page as of the snapshot (models.dev
1.0.398, May 2026), quoted in each group's comment; rows without one check the entry only.

The rules (plano_obs/pricing/_resolve.py): the gateway's provider, then the provider named in the
name (a ``provider/`` prefix that is a provider, or Bedrock for a Bedrock id), then the model's
owner; never another provider's entry.
"""

from __future__ import annotations

import pytest

from plano_obs.pricing import AMBIGUOUS, PRICED, UNPRICED, Pricer

Row = tuple[str, str | None, str, tuple[float, float] | None]

# OpenAI, first party (openai.com/api/pricing, USD per 1M input/output tokens): gpt-4o $2.50/$10,
# gpt-4o-2024-05-13 $5/$15, gpt-4o-mini $0.15/$0.60, gpt-4.1 $2/$8, gpt-4.1-mini $0.40/$1.60,
# gpt-4.1-nano $0.10/$0.40, o1 $15/$60, o3 $2/$8, o3-mini and o4-mini $1.10/$4.40, gpt-5
# $1.25/$10, gpt-5-mini $0.25/$2, gpt-5-nano $0.05/$0.40, gpt-4-turbo $10/$30, gpt-3.5-turbo
# $0.50/$1.50, text-embedding-3-small $0.02, text-embedding-3-large $0.13. Dated snapshots the
# catalog does not list price as their model (the date is a version suffix).
OPENAI: list[Row] = [
    ("gpt-4o", "openai", "openai/gpt-4o", (2.5, 10)),
    ("gpt-4o", None, "openai/gpt-4o", (2.5, 10)),
    ("gpt-4o", "plano(llm)", "openai/gpt-4o", (2.5, 10)),
    ("openai/gpt-4o", None, "openai/gpt-4o", (2.5, 10)),
    ("openai/gpt-4o", "openai", "openai/gpt-4o", (2.5, 10)),
    ("gpt-4o-2024-08-06", "openai", "openai/gpt-4o-2024-08-06", (2.5, 10)),
    ("gpt-4o-2024-05-13", "openai", "openai/gpt-4o-2024-05-13", (5, 15)),
    ("gpt-4o-2024-11-20", "openai", "openai/gpt-4o-2024-11-20", (2.5, 10)),
    ("gpt-4o-mini", "openai", "openai/gpt-4o-mini", (0.15, 0.6)),
    ("gpt-4o-mini-2024-07-18", "openai", "openai/gpt-4o-mini", (0.15, 0.6)),
    ("gpt-4.1", "openai", "openai/gpt-4.1", (2, 8)),
    ("gpt-4.1-2025-04-14", "openai", "openai/gpt-4.1", (2, 8)),
    ("gpt-4-1", None, "openai/gpt-4.1", (2, 8)),
    ("gpt-4.1-mini-2025-04-14", "openai", "openai/gpt-4.1-mini", (0.4, 1.6)),
    ("gpt-4.1-nano", "openai", "openai/gpt-4.1-nano", (0.1, 0.4)),
    ("o1", "openai", "openai/o1", (15, 60)),
    ("o1-2024-12-17", "openai", "openai/o1", (15, 60)),
    ("o3", "openai", "openai/o3", (2, 8)),
    ("o3-2025-04-16", "openai", "openai/o3", (2, 8)),
    ("o3-mini", "openai", "openai/o3-mini", (1.1, 4.4)),
    ("o4-mini-2025-04-16", "openai", "openai/o4-mini", (1.1, 4.4)),
    ("gpt-5", "openai", "openai/gpt-5", (1.25, 10)),
    ("gpt-5-2025-08-07", "openai", "openai/gpt-5", (1.25, 10)),
    ("gpt-5-mini", None, "openai/gpt-5-mini", (0.25, 2)),
    ("gpt-5-nano-2025-08-07", "openai", "openai/gpt-5-nano", (0.05, 0.4)),
    ("gpt-5-chat-latest", "openai", "openai/gpt-5-chat-latest", (1.25, 10)),
    ("gpt-4-turbo", "openai", "openai/gpt-4-turbo", (10, 30)),
    ("gpt-3.5-turbo", "openai", "openai/gpt-3.5-turbo", (0.5, 1.5)),
    ("text-embedding-3-small", "openai", "openai/text-embedding-3-small", (0.02, 0)),
    ("text-embedding-3-large", None, "openai/text-embedding-3-large", (0.13, 0)),
    ("gpt-5.4", "openai", "openai/gpt-5.4", None),
]

# Anthropic, first party (claude.com/pricing): Sonnet 4, 4.5 and 4.6 $3/$15, Haiku 4.5 $1/$5,
# Opus 4 and 4.1 $15/$75, Opus 4.5 and 4.6 $5/$25, Sonnet 3.7 $3/$15, Haiku 3.5 $0.80/$4,
# Haiku 3 $0.25/$1.25, Opus 3 $15/$75. Spellings: dots or dashes, family first or last,
# Vertex's ``@date``, ``-latest`` (the newest dated version), provider prefixes.
ANTHROPIC: list[Row] = [
    ("claude-sonnet-4-20250514", "anthropic", "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("claude-sonnet-4-20250514", None, "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("claude-sonnet-4-0", "anthropic", "anthropic/claude-sonnet-4-0", (3, 15)),
    ("claude-sonnet-4", "anthropic", "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("claude-4-sonnet", None, "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("claude-sonnet-4@20250514", None, "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("anthropic/claude-sonnet-4-20250514", None, "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("claude-sonnet-4-5-20250929", "anthropic", "anthropic/claude-sonnet-4-5-20250929", (3, 15)),
    ("claude-sonnet-4-5", "anthropic", "anthropic/claude-sonnet-4-5", (3, 15)),
    ("claude-sonnet-4.5", None, "anthropic/claude-sonnet-4-5", (3, 15)),
    ("claude-4.5-sonnet", "anthropic", "anthropic/claude-sonnet-4-5", (3, 15)),
    ("claude-sonnet-4-6", "anthropic", "anthropic/claude-sonnet-4-6", (3, 15)),
    ("claude-4.6-sonnet", None, "anthropic/claude-sonnet-4-6", (3, 15)),
    ("anthropic/claude-sonnet-4-6", "anthropic", "anthropic/claude-sonnet-4-6", (3, 15)),
    ("claude-haiku-4-5-20251001", "anthropic", "anthropic/claude-haiku-4-5-20251001", (1, 5)),
    ("anthropic/claude-haiku-4-5", "anthropic", "anthropic/claude-haiku-4-5", (1, 5)),
    ("claude-haiku-4.5", None, "anthropic/claude-haiku-4-5", (1, 5)),
    ("claude-opus-4-1-20250805", "anthropic", "anthropic/claude-opus-4-1-20250805", (15, 75)),
    ("claude-opus-4-20250514", "anthropic", "anthropic/claude-opus-4-20250514", (15, 75)),
    ("claude-opus-4", None, "anthropic/claude-opus-4-20250514", (15, 75)),
    ("claude-opus-4-5", "anthropic", "anthropic/claude-opus-4-5", (5, 25)),
    ("claude-opus-4-5-20251101", "anthropic", "anthropic/claude-opus-4-5-20251101", (5, 25)),
    ("claude-opus-4-6", "anthropic", "anthropic/claude-opus-4-6", (5, 25)),
    ("claude-3-7-sonnet-20250219", "anthropic", "anthropic/claude-3-7-sonnet-20250219", (3, 15)),
    ("claude-3-7-sonnet-latest", "anthropic", "anthropic/claude-3-7-sonnet-20250219", (3, 15)),
    ("claude-3-5-sonnet-latest", None, "anthropic/claude-3-5-sonnet-20241022", (3, 15)),
    ("claude-3-5-haiku-20241022", "anthropic", "anthropic/claude-3-5-haiku-20241022", (0.8, 4)),
    ("claude-3-5-haiku-latest", "anthropic", "anthropic/claude-3-5-haiku-latest", (0.8, 4)),
    ("claude-3-haiku-20240307", "anthropic", "anthropic/claude-3-haiku-20240307", (0.25, 1.25)),
    ("claude-3-opus-20240229", "anthropic", "anthropic/claude-3-opus-20240229", (15, 75)),
    ("claude-sonnet-4-20250514", "claude", "anthropic/claude-sonnet-4-20250514", (3, 15)),
]

# Amazon Bedrock ids (aws.amazon.com/bedrock/pricing: Claude at Anthropic's list prices, Nova Pro
# $0.80/$3.20, Nova Lite $0.06/$0.24, Nova Micro $0.035/$0.14, Llama 3.3 70B $0.72/$0.72,
# DeepSeek-R1 $1.35/$5.40, gpt-oss-120b $0.15/$0.60; regional endpoints of the newest Claude
# models 10% above global). A Bedrock id is priced by Bedrock's own entry (region first, then
# the id without region), else by the model's owner; never by another vendor that happens to
# spell the model alike (DigitalOcean's ``anthropic-claude-sonnet-4``). ``-vN:M`` is Bedrock's
# version suffix, and only on Bedrock ids.
BEDROCK: list[Row] = [
    ("anthropic.claude-sonnet-4-20250514-v1:0", None, "anthropic/claude-sonnet-4-20250514",
     (3, 15)),
    ("anthropic.claude-sonnet-4-20250514-v1:0", "amazon_bedrock",
     "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", "bedrock",
     "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("apac.anthropic.claude-sonnet-4-20250514-v1:0", None,
     "anthropic/claude-sonnet-4-20250514", (3, 15)),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "aws.bedrock",
     "anthropic/claude-3-5-sonnet-20241022", (3, 15)),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", None, "anthropic/claude-3-7-sonnet-20250219",
     (3, 15)),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", None,
     "amazon-bedrock/anthropic.claude-haiku-4-5-20251001-v1:0", (1, 5)),
    ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "amazon_bedrock",
     "amazon-bedrock/eu.anthropic.claude-haiku-4-5-20251001-v1:0", (1, 5)),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", None,
     "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", (3, 15)),
    ("global.anthropic.claude-opus-4-5-20251101-v1:0", "amazon_bedrock",
     "amazon-bedrock/global.anthropic.claude-opus-4-5-20251101-v1:0", (5, 25)),
    ("bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", None,
     "amazon-bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", (3, 15)),
    ("anthropic.claude-opus-4-6-v1", "amazon_bedrock",
     "amazon-bedrock/anthropic.claude-opus-4-6-v1", (5, 25)),
    ("au.anthropic.claude-sonnet-4-6", "amazon_bedrock",
     "amazon-bedrock/au.anthropic.claude-sonnet-4-6", (3.3, 16.5)),
    ("apac.anthropic.claude-sonnet-4-6", "amazon_bedrock",
     "amazon-bedrock/anthropic.claude-sonnet-4-6", (3, 15)),
    ("amazon.nova-pro-v1:0", None, "amazon-bedrock/amazon.nova-pro-v1:0", (0.8, 3.2)),
    ("us.amazon.nova-pro-v1:0", "amazon_bedrock", "amazon-bedrock/amazon.nova-pro-v1:0",
     (0.8, 3.2)),
    ("amazon.nova-lite-v1:0", "amazon_bedrock", "amazon-bedrock/amazon.nova-lite-v1:0",
     (0.06, 0.24)),
    ("amazon.nova-micro-v1:0", None, "amazon-bedrock/amazon.nova-micro-v1:0", (0.035, 0.14)),
    ("meta.llama3-3-70b-instruct-v1:0", "amazon_bedrock",
     "amazon-bedrock/meta.llama3-3-70b-instruct-v1:0", (0.72, 0.72)),
    ("us.meta.llama4-scout-17b-instruct-v1:0", None,
     "amazon-bedrock/us.meta.llama4-scout-17b-instruct-v1:0", None),
    ("deepseek.r1-v1:0", "amazon_bedrock", "amazon-bedrock/deepseek.r1-v1:0", (1.35, 5.4)),
    ("us.deepseek.r1-v1:0", None, "amazon-bedrock/us.deepseek.r1-v1:0", (1.35, 5.4)),
    ("openai.gpt-oss-120b-1:0", "amazon_bedrock", "amazon-bedrock/openai.gpt-oss-120b-1:0",
     (0.15, 0.6)),
    ("qwen.qwen3-32b-v1:0", None, "amazon-bedrock/qwen.qwen3-32b-v1:0", None),
    ("mistral.pixtral-large-2502-v1:0", "amazon_bedrock",
     "amazon-bedrock/mistral.pixtral-large-2502-v1:0", None),
]

# Google, first party (ai.google.dev/gemini-api/docs/pricing): 2.5 Pro $1.25/$10 up to 200k
# tokens, 2.5 Flash $0.30/$2.50, 2.5 Flash-Lite $0.10/$0.40, 2.0 Flash $0.10/$0.40, 2.0
# Flash-Lite $0.075/$0.30, 3 Pro preview $2/$12. The revisions ``-001`` and dated previews
# (``-preview-06-05``, ``-preview-09-2025``) are versions of the model they preview, priced as
# it on the page (2.5 Pro preview 05-06/06-05 at 2.5 Pro's rates, 2.5 Flash-Lite preview 06-17
# at Flash-Lite's, 2.5 Flash preview 09-2025 at Flash's). ``-exp`` models have no price.
GOOGLE: list[Row] = [
    ("gemini-2.5-pro", "google", "google/gemini-2.5-pro", (1.25, 10)),
    ("gemini-2.5-pro", "gemini", "google/gemini-2.5-pro", (1.25, 10)),
    ("gemini-2.5-pro", None, "google/gemini-2.5-pro", (1.25, 10)),
    ("gemini/gemini-2.5-pro", None, "google/gemini-2.5-pro", (1.25, 10)),
    ("google/gemini-2.5-pro", None, "google/gemini-2.5-pro", (1.25, 10)),
    ("models/gemini-2.5-flash", "gcp.gemini", "google/gemini-2.5-flash", (0.3, 2.5)),
    ("gemini-2.5-flash", "google", "google/gemini-2.5-flash", (0.3, 2.5)),
    ("gemini-2.5-flash-lite", "google", "google/gemini-2.5-flash-lite", (0.1, 0.4)),
    ("gemini-2.0-flash", "google", "google/gemini-2.0-flash", (0.1, 0.4)),
    ("gemini-2.0-flash-001", None, "google/gemini-2.0-flash", (0.1, 0.4)),
    ("gemini-2.0-flash-001", "google", "google/gemini-2.0-flash", (0.1, 0.4)),
    ("gemini-2.0-flash-lite-001", "google", "google/gemini-2.0-flash-lite", (0.075, 0.3)),
    ("google/gemini-2.0-flash-001", None, "google/gemini-2.0-flash", (0.1, 0.4)),
    ("gemini-2.5-pro-preview-06-05", None, "google/gemini-2.5-pro", (1.25, 10)),
    ("gemini-2.5-pro-preview-05-06", "google", "google/gemini-2.5-pro", (1.25, 10)),
    ("gemini-2.5-flash-lite-preview-06-17", "google", "google/gemini-2.5-flash-lite",
     (0.1, 0.4)),
    ("gemini-2.5-flash-preview-09-2025", None, "google/gemini-2.5-flash", (0.3, 2.5)),
    ("gemini-3-pro-preview", "google", "google/gemini-3-pro-preview", (2, 12)),
    ("gemini-embedding-001", "google", "google/gemini-embedding-001", (0.15, 0)),
    ("gemini-2.0-flash-thinking-exp-01-21", "google", AMBIGUOUS, None),
]

# Google Vertex AI (cloud.google.com/vertex-ai/generative-ai/pricing): Claude at Anthropic's
# prices, Gemini 2.5 Pro $1.25/$10, Gemini 2.0 Flash $0.15/$0.60 (above the Gemini API's).
VERTEX: list[Row] = [
    ("claude-sonnet-4@20250514", "vertex_ai", "google-vertex/claude-sonnet-4@20250514", (3, 15)),
    ("claude-opus-4-1@20250805", "vertex_ai", "google-vertex/claude-opus-4-1@20250805",
     (15, 75)),
    ("claude-3-5-sonnet-v2@20241022", "vertex_ai", "google-vertex/claude-3-5-sonnet@20241022",
     (3, 15)),
    ("claude-sonnet-4-6", "gcp.vertex_ai", "google-vertex/claude-sonnet-4-6@default", (3, 15)),
    ("vertex_ai/gemini-2.5-pro", None, "google-vertex/gemini-2.5-pro", (1.25, 10)),
    ("gemini-2.0-flash", "vertex_ai", "google-vertex/gemini-2.0-flash", (0.15, 0.6)),
    ("gemini-2.0-flash-001", "vertex_ai", "google-vertex/gemini-2.0-flash", (0.15, 0.6)),
]

# Mistral, first party (mistral.ai/pricing): Large 24.11 $2/$6, Large 3 (2512 = latest)
# $0.50/$1.50, Pixtral 12B $0.15/$0.15, Pixtral Large $2/$6, Codestral $0.30/$0.90, Ministral
# 8B $0.10/$0.10, Ministral 3B $0.04/$0.04, Medium 3 (2505) $0.40/$2, Magistral Medium $2/$5,
# Devstral Small $0.10/$0.30, Nemo $0.15/$0.15. ``-YYMM`` is a release of the same model; a
# bare family name is Mistral's ``-latest``. ``mistral-small-2503`` (Small 3.1) is listed at no
# price of its own, and the Small entries differ: ambiguous.
MISTRAL: list[Row] = [
    ("mistral-large-latest", "mistral", "mistral/mistral-large-latest", (0.5, 1.5)),
    ("mistral-large-2411", "mistral", "mistral/mistral-large-2411", (2, 6)),
    ("mistral-large-2512", None, "mistral/mistral-large-2512", (0.5, 1.5)),
    ("mistral-large", "mistral", "mistral/mistral-large-latest", (0.5, 1.5)),
    ("mistral/mistral-large-latest", None, "mistral/mistral-large-latest", (0.5, 1.5)),
    ("mistralai/mistral-large-2411", None, "mistral/mistral-large-2411", (2, 6)),
    ("pixtral-12b-2409", None, "mistral/pixtral-12b", (0.15, 0.15)),
    ("pixtral-12b-2409", "mistral", "mistral/pixtral-12b", (0.15, 0.15)),
    ("pixtral-large-2411", "mistral", "mistral/pixtral-large-latest", (2, 6)),
    ("codestral-2501", "mistral", "mistral/codestral-latest", (0.3, 0.9)),
    ("codestral-latest", None, "mistral/codestral-latest", (0.3, 0.9)),
    ("ministral-8b-2410", "mistral", "mistral/ministral-8b-latest", (0.1, 0.1)),
    ("ministral-3b-2410", None, "mistral/ministral-3b-latest", (0.04, 0.04)),
    ("mistral-medium-2505", "mistral", "mistral/mistral-medium-2505", (0.4, 2)),
    ("magistral-medium-2506", "mistral", "mistral/magistral-medium-latest", (2, 5)),
    ("devstral-small-2507", "mistral", "mistral/devstral-small-2507", (0.1, 0.3)),
    ("mistral-nemo", "mistral", "mistral/mistral-nemo", (0.15, 0.15)),
    ("open-mixtral-8x22b", "mistral", "mistral/open-mixtral-8x22b", (2, 6)),
    ("mistral-small-2503", "mistral", AMBIGUOUS, None),
]

# Groq (groq.com/pricing): Llama 3.3 70B Versatile $0.59/$0.79, Llama 3.1 8B Instant
# $0.05/$0.08, gpt-oss-120b $0.15/$0.60, Qwen3 32B $0.29/$0.59, Kimi K2 0905 $1/$3. Groq's ids
# keep a family namespace (``qwen/``, ``openai/``, ``meta-llama/``): it is not a provider, and
# the gateway's ``llm.provider`` decides. Without a provider the family's owner prices the name
# (Alibaba for Qwen), or nobody when the owner does not sell it (gpt-oss, Llama).
GROQ: list[Row] = [
    ("qwen/qwen3-32b", "groq", "groq/qwen/qwen3-32b", (0.29, 0.59)),
    ("qwen/qwen3-32b", None, "alibaba/qwen3-32b", None),
    ("openai/gpt-oss-120b", "groq", "groq/openai/gpt-oss-120b", (0.15, 0.6)),
    ("gpt-oss-120b", "groq", "groq/openai/gpt-oss-120b", (0.15, 0.6)),
    ("llama-3.3-70b-versatile", "groq", "groq/llama-3.3-70b-versatile", (0.59, 0.79)),
    ("groq/llama-3.3-70b-versatile", None, "groq/llama-3.3-70b-versatile", (0.59, 0.79)),
    ("llama-3.1-8b-instant", "groq", "groq/llama-3.1-8b-instant", None),
    ("meta-llama/llama-4-scout-17b-16e-instruct", "groq",
     "groq/meta-llama/llama-4-scout-17b-16e-instruct", None),
    ("moonshotai/kimi-k2-instruct-0905", "groq", "groq/moonshotai/kimi-k2-instruct-0905", (1, 3)),
    ("llama-3.3-70b-versatile", None, AMBIGUOUS, None),
]

# DigitalOcean Gradient (digitalocean.com/pricing/gen-ai): its own ids (``openai-gpt-oss-120b``
# $0.10/$0.70, ``anthropic-claude-4.5-haiku`` $1/$5, ``openai-gpt-4o`` $2.50/$10). Its entries
# price calls that went through it, under any spelling of the model; without the provider a
# vendor-prefixed id is priced by the model's owner.
DIGITALOCEAN: list[Row] = [
    ("openai-gpt-oss-120b", "digitalocean", "digitalocean/openai-gpt-oss-120b", (0.1, 0.7)),
    ("do/openai-gpt-oss-120b", None, "digitalocean/openai-gpt-oss-120b", (0.1, 0.7)),
    ("digitalocean/openai-gpt-oss-120b", "plano(llm)", "digitalocean/openai-gpt-oss-120b",
     (0.1, 0.7)),
    ("do/openai-gpt-4o", None, "digitalocean/openai-gpt-4o", (2.5, 10)),
    ("digitalocean/anthropic-claude-4.5-haiku", "digitalocean",
     "digitalocean/anthropic-claude-4.5-haiku", (1, 5)),
    ("anthropic-claude-haiku-4.5", "do_ai", "digitalocean/anthropic-claude-haiku-4.5", (1, 5)),
    ("claude-sonnet-4-20250514", "digitalocean", "digitalocean/anthropic-claude-sonnet-4",
     (3, 15)),
    ("llama3.3-70b-instruct", "digitalocean", "digitalocean/llama3.3-70b-instruct", None),
    ("anthropic-claude-haiku-4.5", None, "anthropic/claude-haiku-4-5", (1, 5)),
    ("openai-gpt-4o", None, "openai/gpt-4o", (2.5, 10)),
    ("openai-gpt-oss-120b", None, AMBIGUOUS, None),
]

# Routers and clouds that resell (openrouter.ai/models, azure.microsoft.com/pricing/details/
# cognitive-services/openai-service, together.ai/pricing, deepinfra.com/pricing,
# fireworks.ai/pricing): their own entry when the call went through them, at their own price.
RESELLERS: list[Row] = [
    ("openrouter/anthropic/claude-sonnet-4", None, "openrouter/anthropic/claude-sonnet-4",
     (3, 15)),
    ("anthropic/claude-sonnet-4", "openrouter", "openrouter/anthropic/claude-sonnet-4", (3, 15)),
    ("anthropic/claude-sonnet-4.5", "openrouter", "openrouter/anthropic/claude-sonnet-4.5",
     (3, 15)),
    ("google/gemini-2.0-flash-001", "openrouter", "openrouter/google/gemini-2.0-flash-001",
     (0.1, 0.4)),
    ("deepseek/deepseek-chat-v3.1", "openrouter", "openrouter/deepseek/deepseek-chat-v3.1", None),
    ("qwen/qwen3-32b", "openrouter", "openrouter/qwen/qwen3-32b", None),
    ("gpt-4o", "azure_openai", "azure/gpt-4o", (2.5, 10)),
    ("gpt-4.1", "azure", "azure/gpt-4.1", (2, 8)),
    ("azure/gpt-4o-mini", None, "azure/gpt-4o-mini", (0.15, 0.6)),
    ("claude-sonnet-4-5", "azure.ai.openai", "azure/claude-sonnet-4-5", (3, 15)),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together_ai",
     "togetherai/meta-llama/Llama-3.3-70B-Instruct-Turbo", (0.88, 0.88)),
    ("deepseek-ai/DeepSeek-V3", "together", "togetherai/deepseek-ai/DeepSeek-V3", None),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepinfra",
     "deepinfra/meta-llama/Llama-3.3-70B-Instruct-Turbo", None),
    ("accounts/fireworks/models/kimi-k2-instruct", "fireworks_ai",
     "fireworks-ai/accounts/fireworks/models/kimi-k2-instruct", None),
    ("gpt-oss-120b", "cerebras", "cerebras/gpt-oss-120b", None),
    # A reseller that does not list the model: the owner's list price.
    ("gpt-4o", "groq", "openai/gpt-4o", (2.5, 10)),
]

# Other first parties (x.ai/api, api-docs.deepseek.com/quick_start/pricing, cohere.com/pricing:
# Command A $2.50/$10, Command R+ 08-2024 $2.50/$10, Command R 08-2024 $0.15/$0.60;
# docs.perplexity.ai pricing: Sonar $1/$1, Sonar Pro $3/$15; alibabacloud.com Model Studio:
# qwen-max $1.60/$6.40; platform.moonshot.ai: kimi-k2-thinking $0.60/$2.50; docs.z.ai:
# GLM-4.6 $0.60/$2.20; minimax.io: MiniMax-M2 $0.30/$1.20). Router namespaces (``x-ai/``,
# ``z-ai/``, ``deepseek/``) name the owner.
OTHER_OWNERS: list[Row] = [
    ("grok-4.3", "xai", "xai/grok-4.3", None),
    ("x-ai/grok-4.3", None, "xai/grok-4.3", None),
    ("xai/grok-4.3", None, "xai/grok-4.3", None),
    ("deepseek-chat", "deepseek", "deepseek/deepseek-chat", None),
    ("deepseek/deepseek-reasoner", None, "deepseek/deepseek-reasoner", None),
    ("command-a-03-2025", "cohere", "cohere/command-a-03-2025", (2.5, 10)),
    ("command-r-plus-08-2024", None, "cohere/command-r-plus-08-2024", (2.5, 10)),
    ("command-r-plus", "cohere", "cohere/command-r-plus-08-2024", (2.5, 10)),
    ("command-r", "cohere", "cohere/command-r-08-2024", (0.15, 0.6)),
    ("sonar", "perplexity", "perplexity/sonar", (1, 1)),
    ("sonar-pro", None, "perplexity/sonar-pro", (3, 15)),
    ("qwen-max", "qwen", "alibaba/qwen-max", (1.6, 6.4)),
    ("qwen-max", None, "alibaba/qwen-max", (1.6, 6.4)),
    ("kimi-k2-thinking", "moonshotai", "moonshotai/kimi-k2-thinking", (0.6, 2.5)),
    ("moonshotai/kimi-k2-thinking", None, "moonshotai/kimi-k2-thinking", (0.6, 2.5)),
    ("glm-4.6", "zai", "zai/glm-4.6", (0.6, 2.2)),
    ("z-ai/glm-4.6", None, "zai/glm-4.6", (0.6, 2.2)),
    ("MiniMax-M2", None, "minimax/MiniMax-M2", (0.3, 1.2)),
    ("minimax/minimax-m2", None, "minimax/MiniMax-M2", (0.3, 1.2)),
]

# Invented names: a ``-vN`` that is not Bedrock's, a version nobody released, a gateway alias or
# router target with no alias configured. Unpriced, never priced as the nearest real model.
INVENTED: list[Row] = [
    ("gpt-4o-v9", None, UNPRICED, None),
    ("gpt-4o-v9", "openai", UNPRICED, None),
    ("claude-sonnet-4-5-v7", None, UNPRICED, None),
    ("claude-sonnet-4-5-v7", "anthropic", UNPRICED, None),
    ("gpt-4o-mini-v2", "openai", UNPRICED, None),
    ("o3-v1", "openai", UNPRICED, None),
    ("gemini-2.5-pro-v3", "google", UNPRICED, None),
    ("deepseek-chat-v9", "deepseek", UNPRICED, None),
    ("claude-sonnet-9", "anthropic", UNPRICED, None),
    ("gpt-9o", "openai", UNPRICED, None),
    ("gemini-9-ultra", None, UNPRICED, None),
    ("acme-llm-9", None, UNPRICED, None),
    ("acme-llm-9", "openai", UNPRICED, None),
    ("smart-llm", "plano(llm)", UNPRICED, None),
    ("router:software-engineering", None, UNPRICED, None),
    ("claude-sonnet-4-5-20990101-v1:0", None, UNPRICED, None),
    ("anthropic.claude-sonnet-9-v1:0", "amazon_bedrock", UNPRICED, None),
]

# Names the catalog lists only at providers the call did not say it went through, or at
# several prices: no price rather than a guess (the "alphabetically first reseller").
AMBIGUOUS_NAMES: list[Row] = [
    ("gpt-oss-120b", None, AMBIGUOUS, None),
    ("gpt-oss-120b", "plano(llm)", AMBIGUOUS, None),
    ("gpt-oss-20b", None, AMBIGUOUS, None),
    ("openai/gpt-oss-120b", None, AMBIGUOUS, None),
    ("gpt-oss-120b", "openai", AMBIGUOUS, None),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", None, AMBIGUOUS, None),
    ("grok-4", None, AMBIGUOUS, None),
    ("grok-4", "xai", AMBIGUOUS, None),
    ("kimi-k2-instruct", None, AMBIGUOUS, None),
    ("deepseek-r1-distill-llama-70b", None, AMBIGUOUS, None),
    ("gemma-3-27b-it", None, AMBIGUOUS, None),
]

ROWS = (OPENAI + ANTHROPIC + BEDROCK + GOOGLE + VERTEX + MISTRAL + GROQ + DIGITALOCEAN
        + RESELLERS + OTHER_OWNERS + INVENTED + AMBIGUOUS_NAMES)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer()


def test_the_table_is_large_and_covers_every_class() -> None:
    assert len(ROWS) >= 150
    assert len({(name, provider) for name, provider, _, _ in ROWS}) == len(ROWS)
    assert sum(1 for *_, expected, _ in ROWS if expected == AMBIGUOUS) >= 15
    assert sum(1 for *_, expected, _ in ROWS if expected == UNPRICED) >= 15


@pytest.mark.parametrize(("name", "provider", "expected", "list_price"), ROWS,
                         ids=[f"{n}@{p}" for n, p, _, _ in ROWS])
def test_name_resolves_to_the_right_entry_or_to_none(pricer: Pricer, name: str,
                                                     provider: str | None, expected: str,
                                                     list_price: tuple[float, float] | None
                                                     ) -> None:
    found = pricer.resolution(name, provider)
    if expected in (UNPRICED, AMBIGUOUS):
        assert (found.status, found.entry) == (expected, None), found.reason
        return
    assert found.status == PRICED and found.entry is not None, found.reason
    assert found.entry.key == expected
    if list_price is not None:
        assert (found.entry.rates.input, found.entry.rates.output) == pytest.approx(list_price)


# Long-context tiers (claude.com/pricing: Sonnet 4 and 4.5 above 200k input tokens $6/$22.50,
# Opus 4.6 $10/$37.50; Gemini API and Vertex: 2.5 Pro above 200k $2.50/$15; openai.com: gpt-5.4
# above 272k $5/$22.50). Anthropic's and Vertex's own entries lack some of them in the catalog;
# entries of the same model at the same base rates carry them, and the winner takes them.
TIERS = [
    ("claude-sonnet-4-20250514", "anthropic", 200_000, (6, 22.5)),
    ("anthropic.claude-sonnet-4-20250514-v1:0", None, 200_000, (6, 22.5)),
    ("claude-sonnet-4-5", "anthropic", 200_000, (6, 22.5)),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", None, 200_000, (6, 22.5)),
    ("claude-opus-4-6", "anthropic", 200_000, (10, 37.5)),
    ("gemini-2.5-pro", "google", 200_000, (2.5, 15)),
    ("gemini-2.5-pro-preview-06-05", None, 200_000, (2.5, 15)),
    ("gemini-2.5-pro", "vertex_ai", 200_000, (2.5, 15)),
    ("gpt-5.4", "openai", 272_000, (5, 22.5)),
]


@pytest.mark.parametrize(("name", "provider", "size", "rates"), TIERS)
def test_long_context_tier_is_kept(pricer: Pricer, name: str, provider: str | None, size: int,
                                   rates: tuple[float, float]) -> None:
    entry = pricer.resolve(name, provider)
    assert entry is not None
    tiers = {s: (r.input, r.output) for s, r in entry.tiers}
    assert tiers.get(size) == pytest.approx(rates)


def test_every_catalog_entry_prices_its_own_id_through_its_own_provider(pricer: Pricer) -> None:
    # No real name loses its price: whatever the rules, an entry's exact id sent through its
    # provider finds that entry (or one of the same provider at the same price).
    wrong = []
    for entry in pricer.entries():
        found = pricer.resolve(entry.model, entry.provider)
        if found is None or (found.provider, found.rates, found.free) != (
                entry.provider, entry.rates, entry.free):
            wrong.append(entry.key)
    assert wrong == []
