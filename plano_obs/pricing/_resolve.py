"""Model-name resolution: whatever spelling the gateway sent, find the entry that prices it.

Shapes handled: ``provider/model`` prefixes, catalog vendor prefixes (``anthropic-claude-…``),
dots vs dashes, Claude family/version order, date suffixes, ``-latest``, Bedrock ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from plano_obs.pricing._catalog import PriceEntry

__all__ = ["Resolver", "canonical", "provider_from_hint", "strip_version_suffix"]

#: Prefixes the gateway, LiteLLM-style configs and users put before a model -> catalog provider.
PROVIDER_PREFIXES: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "claude": "anthropic",
    "do": "digitalocean",
    "digitalocean": "digitalocean",
    "gradient": "digitalocean",
    "google": "google",
    "gemini": "google",
    "vertex": "google-vertex",
    "vertex_ai": "google-vertex",
    "vertexai": "google-vertex",
    "google-vertex": "google-vertex",
    "bedrock": "amazon-bedrock",
    "bedrock_converse": "amazon-bedrock",
    "aws": "amazon-bedrock",
    "amazon-bedrock": "amazon-bedrock",
    "groq": "groq",
    "mistral": "mistral",
    "mistralai": "mistral",
    "deepseek": "deepseek",
    "xai": "xai",
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
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "deepinfra": "deepinfra",
    "nvidia": "nvidia",
    "nvidia_nim": "nvidia",
}

#: Providers whose own entry wins whenever the call went through them: resellers that bill
#: their own price for first-party model names.
STRONG_PROVIDERS = frozenset({"digitalocean"})

#: The first-party owner of a model family, by the start of the canonical name.
_OWNERS: tuple[tuple[str, str], ...] = (
    ("claude", "anthropic"),
    ("gpt-", "openai"),
    ("chatgpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("codex", "openai"),
    ("text-embedding", "openai"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("grok", "xai"),
    ("mistral", "mistral"),
    ("magistral", "mistral"),
    ("codestral", "mistral"),
    ("devstral", "mistral"),
    ("ministral", "mistral"),
    ("pixtral", "mistral"),
    ("deepseek", "deepseek"),
    ("command", "cohere"),
)

#: Vendor prefixes some catalogs put on model ids (DigitalOcean: ``anthropic-claude-haiku-4.5``).
_VENDOR_PREFIXES = ("anthropic-", "openai-", "google-", "meta-", "alibaba-", "mistralai-",
                    "mistral-", "nvidia-", "deepseek-ai-")
_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|au|jp|ca|global|us-gov)\.)?"
    r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer)\.(.+)$")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$|:\d+$")
_DATE_SUFFIX = re.compile(r"(?:[-@](?:20\d\d-?\d\d-?\d\d|latest|default)|-v\d+(?::\d+)?|:\d+)$")
_SEPARATORS = re.compile(r"[._@\s]+")
_CLAUDE_FAMILIES = frozenset({"sonnet", "opus", "haiku", "instant"})


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


def strip_version_suffix(name: str) -> str:
    """The name without date, ``-latest``/``@default`` or Bedrock version suffixes."""
    prev = None
    while prev != name:
        prev, name = name, _DATE_SUFFIX.sub("", name)
    return name


def provider_from_hint(provider: str | None) -> str | None:
    """The catalog provider id for a gateway provider value (``plano(llm)`` means none)."""
    if not provider:
        return None
    p = provider.strip().lower()
    if not p or p.startswith("plano"):
        return None
    return PROVIDER_PREFIXES.get(p, p)


def _owner(key: str) -> str | None:
    last = key.rpartition("/")[2]
    for prefix, owner in _OWNERS:
        if last.startswith(prefix):
            return owner
    return None


def _alt_keys(model_id: str) -> list[str]:
    """Extra lookup keys of a catalog id: without vendor prefix, last path segment."""
    base = model_id.lower()
    out: list[str] = []
    last = base.rpartition("/")[2]
    if last != base:
        out.append(last)
    for candidate in (base, last):
        for prefix in _VENDOR_PREFIXES:
            if candidate.startswith(prefix):
                out.append(candidate[len(prefix):])
                break
    m = _BEDROCK.match(last)
    if m:
        out.append(_BEDROCK_VERSION.sub("", m.group(2)))
    return out


@dataclass(frozen=True, slots=True)
class _Indexed:
    entry: PriceEntry
    alt: bool  # reached through a vendor-prefix or path strip, not the id itself


class Resolver:
    """Finds the entry for a model name; memoised, misses included."""

    def __init__(self, entries: Iterable[PriceEntry], overrides: Iterable[PriceEntry] = (),
                 aliases: Mapping[str, str] | None = None, memo_limit: int = 50_000) -> None:
        self._by_name: dict[str, list[_Indexed]] = {}
        self._by_undated: dict[str, list[_Indexed]] = {}
        for entry in entries:
            self._add(entry)
        self._overrides: dict[str, PriceEntry] = {}
        for entry in overrides:
            key = canonical(entry.model)
            if entry.provider != "override":
                key = f"{PROVIDER_PREFIXES.get(entry.provider, entry.provider)}/{key}"
            self._overrides.setdefault(key, entry)
        self._aliases = {k.strip().lower(): v for k, v in (aliases or {}).items()}
        self._memo: dict[tuple[str, str | None], PriceEntry | None] = {}
        self._memo_limit = memo_limit

    def _add(self, entry: PriceEntry) -> None:
        keys = [(canonical(entry.model), False)]
        keys += [(canonical(k), True) for k in _alt_keys(entry.model)]
        seen: set[str] = set()
        for key, alt in keys:
            if key in seen:
                continue
            seen.add(key)
            item = _Indexed(entry, alt)
            self._by_name.setdefault(key, []).append(item)
            undated = strip_version_suffix(key)
            if undated != key:
                self._by_undated.setdefault(undated, []).append(item)

    def resolve(self, name: str | None, provider: str | None = None) -> PriceEntry | None:
        """The entry pricing ``name`` (sent through ``provider``), or None."""
        if not name:
            return None
        memo_key = (name, provider)
        try:
            return self._memo[memo_key]
        except KeyError:
            pass
        found = self._resolve(name, provider_from_hint(provider))
        if len(self._memo) >= self._memo_limit:
            self._memo.clear()
        self._memo[memo_key] = found
        return found

    def _resolve(self, name: str, hint: str | None) -> PriceEntry | None:
        raw = name.strip()
        target = self._aliases.get(raw.lower())
        if target is not None and target.strip().lower() != raw.lower():
            found = self._resolve(target, hint)
            if found is not None:
                return found
        forms = self._forms(raw, hint)
        if self._overrides:
            hit = self._override(forms, hint)
            if hit is not None:
                return hit
        for form, strong in forms:
            hit = self._best(form, strong, hint)
            if hit is not None:
                return hit
        return None

    def _override(self, forms: list[tuple[str, str | None]], hint: str | None
                  ) -> PriceEntry | None:
        for form, strong in forms:
            for variant in (form, strip_version_suffix(form)):
                key = canonical(variant)
                for provider in (strong, hint):
                    if provider and (hit := self._overrides.get(f"{provider}/{key}")):
                        return hit
                if hit := self._overrides.get(key):
                    return hit
        return None

    @staticmethod
    def _forms(raw: str, hint: str | None) -> list[tuple[str, str | None]]:
        """(name, provider that must win if it has the name) in the order to try them."""
        strong = hint if hint in STRONG_PROVIDERS else None
        forms: list[tuple[str, str | None]] = []
        head, sep, rest = raw.partition("/")
        prefixed = PROVIDER_PREFIXES.get(head.strip().lower()) if sep else None
        if prefixed is not None:
            forms.append((rest, prefixed))
            inner_head, inner_sep, inner_rest = rest.partition("/")
            if inner_sep and inner_head.lower() in PROVIDER_PREFIXES:
                forms.append((inner_rest, PROVIDER_PREFIXES[inner_head.lower()]))
        forms.append((raw, strong))
        if sep and prefixed is None:
            forms.append((raw.rpartition("/")[2], strong))
        m = _BEDROCK.match(raw.rpartition("/")[2].lower())
        if m:
            forms.append((_BEDROCK_VERSION.sub("", m.group(2)), prefixed or strong))
        return forms

    def _best(self, form: str, strong: str | None, hint: str | None) -> PriceEntry | None:
        exact_key = canonical(form)
        undated_key = strip_version_suffix(exact_key)
        matches: list[tuple[int, _Indexed]] = [(0, i) for i in self._by_name.get(exact_key, ())]
        if undated_key != exact_key:
            matches += [(1, i) for i in self._by_name.get(undated_key, ())]
        matches += [(2, i) for i in self._by_undated.get(undated_key, ())]
        if not matches:
            return None
        owner = _owner(undated_key)

        def rank(m: tuple[int, _Indexed]) -> tuple[bool, bool, bool, int, bool, str, str]:
            exactness, item = m
            e = item.entry
            # Newest dated version first among equals: invert the date digits for sorting.
            newest_first = "".join(chr(ord("9") - ord(c) + ord("0")) for c in e.released)
            return (e.provider != strong if strong else False,
                    e.provider != owner if owner else False,
                    e.provider != hint if hint else False,
                    exactness, item.alt, newest_first, e.key)

        return min(matches, key=rank)[1].entry
