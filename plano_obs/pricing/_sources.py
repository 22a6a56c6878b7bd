"""The user's own inputs: the pricing override file and the Plano config."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plano_obs.pricing._catalog import MAX_RATE_PER_MILLION, PriceEntry, Rates

__all__ = [
    "COST_PROVIDERS",
    "CostSource",
    "Overrides",
    "PlanoConfig",
    "PricingConfigError",
    "load_plano_config",
    "load_pricing_file",
]

#: Cost sources a Plano config may name in ``model_metrics_sources`` -> default URL.
COST_PROVIDERS: dict[str, str] = {
    "models.dev": "https://models.dev/api.json",
    "digitalocean": "https://api.digitalocean.com/v2/gen-ai/models/catalog",
}


class PricingConfigError(ValueError):
    """The pricing file or the Plano config cannot be used; the message is one line."""


_Rate = Field(default=None, ge=0, le=MAX_RATE_PER_MILLION, allow_inf_nan=False)


class _TierSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(gt=0, description="context size in tokens above which these rates apply")
    input: float = Field(ge=0, le=MAX_RATE_PER_MILLION, allow_inf_nan=False)
    output: float = Field(ge=0, le=MAX_RATE_PER_MILLION, allow_inf_nan=False)
    cache_read: float | None = _Rate
    cache_write: float | None = _Rate


class _ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float | None = _Rate
    output: float | None = _Rate
    cache_read: float | None = _Rate
    cache_write: float | None = _Rate
    reasoning: float | None = _Rate
    tiers: list[_TierSpec] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    free: bool = False

    @model_validator(mode="after")
    def _priced_or_free(self) -> _ModelSpec:
        if not self.free and (self.input is None or self.output is None):
            raise ValueError("needs both input and output rates (USD per million), "
                             "or free: true")
        if not self.free and self.input == 0 and self.output == 0:
            raise ValueError("0/0 rates mean unknown; write free: true for a model that is free")
        return self


class _PricingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, _ModelSpec] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Overrides:
    """Entries and aliases from the user's pricing file."""

    entries: tuple[PriceEntry, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class CostSource:
    """The remote catalog chosen by ``model_metrics_sources`` (or the default)."""

    provider: str = "models.dev"
    url: str = COST_PROVIDERS["models.dev"]


@dataclass(frozen=True, slots=True)
class PlanoConfig:
    """What pricing reads from a Plano config."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    cost_source: CostSource | None = None
    path: Path | None = None


def _read_document(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PricingConfigError(f"{what} {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PricingConfigError(f"{what} {path}: cannot read ({e})") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise PricingConfigError(
            f"{what} {path}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise PricingConfigError(f"{what} {path}: invalid YAML{where}: {problem}") from None


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _rates(spec: _ModelSpec | _TierSpec) -> Rates:
    return Rates(spec.input or 0.0, spec.output or 0.0, spec.cache_read, spec.cache_write,
                 getattr(spec, "reasoning", None))


def load_pricing_file(path: str | Path) -> Overrides:
    """Read a YAML or JSON pricing file (rates in USD per million tokens)."""
    path = Path(path).expanduser()
    doc = _read_document(path, "pricing file")
    if doc is None:
        return Overrides(path=path)
    try:
        parsed = _PricingFile.model_validate(doc)
    except ValidationError as e:
        raise PricingConfigError(f"pricing file {path}: {_first_error(e)}") from None
    source = f"pricing file {path.name}"
    entries: list[PriceEntry] = []
    aliases: dict[str, str] = dict(parsed.aliases)
    for name, spec in parsed.models.items():
        base = _rates(spec)
        tiers = tuple(sorted(((t.size, _rates(t)) for t in spec.tiers), key=lambda t: t[0]))
        provider, _, model = name.rpartition("/")
        entries.append(PriceEntry(provider or "override", name if not provider else model,
                                  base, tiers, free=spec.free, source=source))
        for alias in spec.aliases:
            aliases[alias] = name
    return Overrides(tuple(entries), aliases, path)


def _alias_target(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("target"), str):
        return value["target"]
    return None


def load_plano_config(path: str | Path) -> PlanoConfig:
    """Read ``model_aliases`` and the ``type: cost`` metrics source from a Plano config."""
    path = Path(path).expanduser()
    doc = _read_document(path, "Plano config")
    if doc is None:
        return PlanoConfig(path=path)
    if not isinstance(doc, Mapping):
        raise PricingConfigError(f"Plano config {path}: expected a mapping at the top level")
    aliases: dict[str, str] = {}
    raw_aliases = doc.get("model_aliases") or {}
    if not isinstance(raw_aliases, Mapping):
        raise PricingConfigError(f"Plano config {path}: model_aliases must be a mapping")
    for alias, value in raw_aliases.items():
        target = _alias_target(value)
        if target is None:
            raise PricingConfigError(
                f"Plano config {path}: model_aliases.{alias}: expected a target model")
        aliases[str(alias)] = target
    cost_source = None
    sources = doc.get("model_metrics_sources") or []
    if not isinstance(sources, list):
        raise PricingConfigError(f"Plano config {path}: model_metrics_sources must be a list")
    for i, src in enumerate(sources):
        if not isinstance(src, Mapping) or src.get("type") != "cost":
            continue
        provider = str(src.get("provider") or "").strip().lower()
        if provider not in COST_PROVIDERS:
            allowed = ", ".join(COST_PROVIDERS)
            raise PricingConfigError(
                f"Plano config {path}: model_metrics_sources[{i}].provider: "
                f"{src.get('provider')!r} is not one of {allowed}")
        url = src.get("url") or COST_PROVIDERS[provider]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PricingConfigError(
                f"Plano config {path}: model_metrics_sources[{i}].url: not an http(s) URL")
        cost_source = CostSource(provider, url)
        break
    return PlanoConfig(aliases, cost_source, path)
