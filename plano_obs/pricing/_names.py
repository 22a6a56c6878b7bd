"""How model names are spelled: providers, owners, namespaces and version suffixes.

Pure functions over strings: which provider a gateway value or a ``provider/`` prefix means,
which first party owns a model family, and which suffixes are versions of the same model.
Resolution (``_resolve``) reads these tables; nothing here knows about prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "FAMILY_NAMESPACES",
    "PROVIDER_ALIASES",
    "VERSION_FORM",
    "ParsedName",
    "canonical",
    "identity",
    "name_keys",
    "owner_of",
    "parse_name",
    "provider_from_hint",
    "version_variants",
]

#: Gateway provider values and ``provider/`` prefixes -> catalog provider id. Plano's own ids
#: (``azure_openai``, ``together_ai``, ``amazon_bedrock``, ``do_ai`` …), LiteLLM's prefixes
#: and the OpenTelemetry GenAI ``gen_ai.provider.name``/``gen_ai.system`` values.
PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure_openai": "azure",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "anthropic": "anthropic",
    "claude": "anthropic",
    "do": "digitalocean",
    "do_ai": "digitalocean",
    "digitalocean": "digitalocean",
    "gradient": "digitalocean",
    "google": "google",
    "gemini": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "vertex": "google-vertex",
    "vertex_ai": "google-vertex",
    "vertexai": "google-vertex",
    "gcp.vertex_ai": "google-vertex",
    "google-vertex": "google-vertex",
    "bedrock": "amazon-bedrock",
    "bedrock_converse": "amazon-bedrock",
    "aws": "amazon-bedrock",
    "aws.bedrock": "amazon-bedrock",
    "amazon": "amazon-bedrock",
    "amazon_bedrock": "amazon-bedrock",
    "amazon-bedrock": "amazon-bedrock",
    "groq": "groq",
    "mistral": "mistral",
    "mistral_ai": "mistral",
    "deepseek": "deepseek",
    "xai": "xai",
    "x_ai": "xai",
    "grok": "xai",
    "together": "togetherai",
    "together_ai": "togetherai",
    "togetherai": "togetherai",
    "fireworks": "fireworks-ai",
    "fireworks_ai": "fireworks-ai",
    "openrouter": "openrouter",
    "cohere": "cohere",
    "moonshot": "moonshotai",
    "moonshotai": "moonshotai",
    "qwen": "alibaba",
    "dashscope": "alibaba",
    "zhipu": "zhipuai",
    "zhipuai": "zhipuai",
    "zai": "zai",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "deepinfra": "deepinfra",
    "nvidia": "nvidia",
    "nvidia_nim": "nvidia",
    "github": "github-models",
    "vercel": "vercel",
    "xiaomi": "xiaomi",
}

#: Prefixes that name a model family (Hugging Face organisations, router namespaces), never the
#: provider that served the call: ``qwen/qwen3-32b`` sent through Groq is Groq's model id.
FAMILY_NAMESPACES = frozenset({
    "qwen", "meta-llama", "meta", "mistralai", "deepseek-ai", "x-ai", "z-ai", "zai-org",
    "moonshot", "microsoft", "minimaxai", "nousresearch", "ibm-granite", "allenai", "thudm",
})

#: A namespace (or Bedrock vendor) -> the first party that sells the family.
_NAMESPACE_OWNERS: dict[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "google",
    "qwen": "alibaba",
    "mistralai": "mistral",
    "mistral": "mistral",
    "deepseek-ai": "deepseek",
    "deepseek": "deepseek",
    "x-ai": "xai",
    "xai": "xai",
    "z-ai": "zai",
    "zai-org": "zai",
    "zai": "zai",
    "moonshotai": "moonshotai",
    "moonshot": "moonshotai",
    "minimax": "minimax",
    "minimaxai": "minimax",
    "cohere": "cohere",
    "amazon": "amazon-bedrock",
    "meta": "llama",
    "meta-llama": "llama",
}

#: The first party that owns a model family, by the start of the model's own name.
_OWNER_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), owner) for pattern, owner in (
        (r"claude", "anthropic"),
        (r"gpt-|chatgpt|o[134](?:-|$)|codex|text-embedding-(?:3|ada)|dall-e|davinci|babbage"
         r"|omni-moderation|tts-1|whisper", "openai"),
        (r"gemini|gemma|learnlm|imagen|veo-|text-embedding-00|text-multilingual-embedding",
         "google"),
        (r"grok", "xai"),
        (r"(?:open-)?(?:mistral|mixtral|magistral|codestral|devstral|ministral|pixtral|voxtral)",
         "mistral"),
        (r"deepseek", "deepseek"),
        (r"command|c4ai|embed-(?:english|multilingual)|rerank-", "cohere"),
        (r"qwen|qwq|qvq", "alibaba"),
        (r"kimi|moonshot", "moonshotai"),
        (r"glm-", "zai"),
        (r"minimax", "minimax"),
        (r"sonar", "perplexity"),
        (r"nova-", "amazon-bedrock"),
        (r"llama", "llama"),
        (r"mimo", "xiaomi"),
    ))

#: Vendor prefixes some catalogs put on model ids (DigitalOcean: ``anthropic-claude-haiku-4.5``).
_VENDOR_PREFIXES = ("anthropic-", "openai-", "google-", "meta-", "alibaba-", "mistralai-",
                    "nvidia-", "deepseek-ai-")

#: ``[region.]vendor.model[-vN[:M]]``: an Amazon Bedrock model id (dots are structure here).
_BEDROCK = re.compile(
    r"^(?:(us|eu|apac|au|jp|ca|global|us-gov)\.)?"
    r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|minimax"
    r"|moonshot|moonshotai|nvidia|zai|twelvelabs|stability)\.(.+)$")
#: Bedrock's version suffixes: ``-v1:0``, ``-v1``, ``-1:0``, ``:0``. Only on Bedrock ids.
_BEDROCK_VERSION = re.compile(r"(?:-v\d+(?::\d+)?|-\d+:\d+|:\d+)$")

#: How a name's version-stripped forms are described (and told apart from its other spellings).
VERSION_FORM = "the name without its version suffix"

_SEPARATORS = re.compile(r"[._@\s]+")
_CLAUDE_FAMILIES = frozenset({"sonnet", "opus", "haiku", "instant"})

# Version suffixes, on canonical names (dots, ``@`` and ``_`` already dashes).
_DATE = re.compile(r"-(?:20\d\d-?[01]\d-?[0-3]\d|[01]\d-20\d\d)$")  # -20250514, -08-2024
_ALIAS = re.compile(r"-(?:latest|default)$")  # -latest, @default (Vertex)
_GOOGLE_PREVIEW_DATE = re.compile(r"(?<=-preview)-[01]\d-[0-3]\d$")  # -preview-06-05
_GOOGLE_REVISION = re.compile(r"-0\d\d$")  # -001, -002
_MISTRAL_RELEASE = re.compile(r"-2[3-9](?:0[1-9]|1[0-2])$")  # -2409: YYMM
_VERTEX_CLAUDE = re.compile(r"-v\d(?=-20\d\d[01]\d[0-3]\d$)")  # claude-3-5-sonnet-v2@20241022


def canonical(name: str) -> str:
    """The spelling-insensitive key of a model id: lower case, dashes, Claude family first."""
    key = _SEPARATORS.sub("-", name.strip().lower())
    head, sep, last = key.rpartition("/")
    if last.startswith("claude-"):
        parts = last.split("-")
        family = next((p for p in parts[1:] if p in _CLAUDE_FAMILIES), None)
        if family is not None and parts[1] != family:
            rest = [p for p in parts[1:] if p != family]
            last = "-".join(["claude", family, *rest])
    return f"{head}{sep}{last}"


def provider_from_hint(provider: str | None) -> str | None:
    """The catalog provider id for a gateway provider value (``plano(llm)`` means none)."""
    if not provider:
        return None
    p = provider.strip().lower()
    if not p or p.startswith("plano"):
        return None
    return PROVIDER_ALIASES.get(p, p)


def owner_of(core: str, namespace: str | None = None) -> str | None:
    """The first party that sells a model (its own name, canonical), if it is a known family."""
    for pattern, owner in _OWNER_FAMILIES:
        if pattern.match(core):
            return owner
    return _NAMESPACE_OWNERS.get(namespace) if namespace else None


def version_variants(key: str, owner: str | None) -> list[tuple[str, str]]:
    """The canonical name without its version suffixes, one suffix at a time, each with the
    suffix it lost (``[]`` when it has none).

    Dates (``-20250514``, ``-2024-08-06``, ``-08-2024``) and ``-latest``/``@default`` for every
    model; Vertex's ``-v2@20241022`` for Claude; for Google models revisions (``-001``) and
    dated previews (``-preview-06-05`` is first ``…-preview``, then the model itself); for
    Mistral models ``-YYMM`` (``pixtral-12b-2409``).
    Any other ``-vN`` is part of the name: ``gpt-4o-v9`` is not gpt-4o.
    """
    patterns = [_DATE, _ALIAS]
    if owner == "anthropic":
        patterns.insert(0, _VERTEX_CLAUDE)
    elif owner == "google":
        patterns += [_GOOGLE_PREVIEW_DATE, _GOOGLE_REVISION]
    elif owner == "mistral":
        patterns.append(_MISTRAL_RELEASE)
    out: list[tuple[str, str]] = []
    current = key
    while True:
        m = next((m for p in patterns if (m := p.search(current)) and m.start() > 0), None)
        if m is None:
            return out
        current = current[:m.start()] + current[m.end():]
        out.append((current, m.group(0)))
        if owner == "google" and m.re is not _ALIAS and current.endswith("-preview"):
            # A dated preview is a snapshot of the model it previews.
            current = current[:-len("-preview")]
            out.append((current, "-preview" + m.group(0)))


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A model name taken apart: what it says about provider, namespace, owner and version."""

    raw: str
    model: str  # the name after any provider prefixes, as sent (may keep a family namespace)
    path_provider: str | None  # the provider named by a ``provider/`` prefix
    namespace: str | None  # a family namespace before the model (``qwen`` in ``qwen/qwen3-32b``)
    bedrock: bool  # an Amazon Bedrock id (``us.anthropic.claude-…-v1:0``)
    core: str  # canonical model name: no namespace, vendor prefix, Bedrock region or version
    owner: str | None
    #: (canonical key, what it is: "the name as sent", …), most literal first, version-stripped
    #: last.
    forms: tuple[tuple[str, str], ...]


def _vendor_stripped(key: str) -> str | None:
    for prefix in _VENDOR_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return canonical(key[len(prefix):])
    return None


def parse_name(raw: str, is_provider: frozenset[str] = frozenset()) -> ParsedName:
    """Take ``raw`` apart; ``is_provider`` adds catalog provider ids that count as prefixes."""
    name = raw.strip()
    path_provider: str | None = None
    # Leading provider prefixes: ``openrouter/anthropic/claude-…`` keeps ``anthropic/`` as the
    # router's namespace; ``bedrock/us.anthropic…`` and ``vertex_ai/gemini-…`` name the provider.
    head, sep, rest = name.partition("/")
    h = head.strip().lower()
    if sep and rest and h not in FAMILY_NAMESPACES and (h in PROVIDER_ALIASES or h in is_provider):
        path_provider = PROVIDER_ALIASES.get(h, h)
        name = rest.strip()
    namespace_part, slash, last = name.rpartition("/")
    namespace = namespace_part.strip().lower().rpartition("/")[2] if slash else None
    last_lower = last.strip().lower()
    bedrock_match = _BEDROCK.match(last_lower)
    forms: list[tuple[str, str]] = []

    def add(key: str, how: str) -> None:
        if key and all(key != k for k, _ in forms):
            forms.append((key, how))

    add(canonical(raw), "the name as sent")
    add(canonical(name), "the name without its provider prefix")
    if bedrock_match:
        region, vendor, model = bedrock_match.groups()
        unversioned = _BEDROCK_VERSION.sub("", model)
        if region:
            add(canonical(f"{vendor}.{model}"), "the Bedrock id without its region")
        add(canonical(f"{vendor}.{unversioned}"), "the Bedrock id without region or version")
        core = canonical(unversioned)
        add(core, "the model inside the Bedrock id")
        namespace = namespace or vendor
    else:
        last_key = canonical(last)
        add(last_key, "the name without its namespace")
        core = _vendor_stripped(last_key) or last_key
        add(core, "the name without its vendor prefix")
    owner = owner_of(core, namespace)
    for key, _how in list(forms):
        for stripped, suffix in version_variants(key, owner):
            add(stripped, f"{VERSION_FORM} {suffix}")
    variants = version_variants(core, owner)
    return ParsedName(raw, name, path_provider, namespace, bedrock_match is not None,
                      variants[-1][0] if variants else core, owner, tuple(forms))


def name_keys(model_id: str) -> tuple[tuple[tuple[str, int], ...], str]:
    """The lookup keys of a catalog model id with their level (0 the id itself, 1 the same model
    spelled another way: no namespace, vendor prefix, Bedrock region or version; 2 without a
    version suffix), and its ``identity``."""
    keys: list[tuple[str, int]] = []

    def add(key: str, level: int) -> None:
        if key and all(key != k for k, _ in keys):
            keys.append((key, level))

    parsed = parse_name(model_id)
    add(canonical(model_id), 0)
    for key, how in parsed.forms:
        add(key, 2 if how.startswith(VERSION_FORM) else 1)
    return tuple(keys), parsed.core


def identity(model_id: str) -> str:
    """The model a catalog id is a version or spelling of (``claude-sonnet-4`` for
    ``anthropic-claude-sonnet-4``, ``anthropic/claude-sonnet-4`` and
    ``claude-sonnet-4-20250514``)."""
    return parse_name(model_id).core
