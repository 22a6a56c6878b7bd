"""Price entries and the parsers that turn remote catalogs into them.

Every rate held here is in USD per million tokens, whatever unit the source used.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Catalog",
    "CatalogError",
    "PriceEntry",
    "Rates",
    "parse_digitalocean",
    "parse_models_dev",
]

#: No real model costs more than this per million tokens of any kind; above it the unit is wrong.
MAX_RATE_PER_MILLION = 10_000.0
#: A whole catalog whose median input rate falls outside this band is in the wrong unit.
_PLAUSIBLE_MEDIAN = (0.001, 1_000.0)
_DATE_IN_ID = re.compile(r"(20\d\d)-?(\d\d)-?(\d\d)")


class CatalogError(ValueError):
    """A remote catalog has the wrong shape or absurd units; the message is one line."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Rates in USD per million tokens; ``None`` where the catalog gives none."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """One priced model of one provider."""

    provider: str
    model: str
    rates: Rates
    #: (context size in tokens, rates that apply to the whole request above it), ascending.
    tiers: tuple[tuple[int, Rates], ...] = ()
    free: bool = False
    source: str = "embedded snapshot"
    #: Entries (provider/model) a context tier was taken from, when this entry lacked it.
    tiers_from: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def released(self) -> str:
        """The date in the model id as YYYYMMDD, or '' when it has none."""
        m = _DATE_IN_ID.search(self.model)
        return "".join(m.groups()) if m else ""


@dataclass(frozen=True, slots=True)
class Catalog:
    """A set of price entries and where they came from."""

    entries: tuple[PriceEntry, ...]
    source: str
    fetched_at: datetime | None = None
    dropped: int = 0  # entries rejected for absurd or negative rates
    providers: frozenset[str] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.entries)

    def replace_provider(self, provider: str, entries: Iterable[PriceEntry], source: str,
                         fetched_at: datetime | None) -> Catalog:
        """This catalog with one provider's entries swapped for ``entries``."""
        kept = [e for e in self.entries if e.provider != provider]
        merged = tuple(kept) + tuple(entries)
        return Catalog(merged, source, fetched_at, self.dropped,
                       frozenset(e.provider for e in merged))


def _rate(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def rates_from_mapping(cost: Mapping[str, Any], scale: float = 1.0) -> Rates | None:
    """Rates from a models.dev-style ``cost`` object; None if input or output is missing."""
    inp, out = _rate(cost.get("input")), _rate(cost.get("output"))
    if inp is None or out is None:
        return None

    def opt(key: str) -> float | None:
        v = _rate(cost.get(key))
        return None if v is None else v * scale

    return Rates(inp * scale, out * scale, opt("cache_read"), opt("cache_write"), opt("reasoning"))


def _plausible(rates: Rates) -> bool:
    values = [v for v in (rates.input, rates.output, rates.cache_read, rates.cache_write,
                          rates.reasoning) if v is not None]
    return all(0 <= v <= MAX_RATE_PER_MILLION for v in values)


def is_priced(rates: Rates) -> bool:
    """0/0 means the catalog does not know the price, not that the model is free."""
    return rates.input > 0 or rates.output > 0


def tiers_from_cost(cost: Mapping[str, Any], base: Rates, scale: float = 1.0
                    ) -> tuple[tuple[int, Rates], ...]:
    """Context tiers from ``tiers`` (or the older ``context_over_200k``)."""
    out: list[tuple[int, Rates]] = []
    raw = cost.get("tiers")
    if isinstance(raw, list):
        for t in raw:
            if not isinstance(t, Mapping):
                continue
            spec = t.get("tier")
            size = spec.get("size") if isinstance(spec, Mapping) else t.get("size")
            if isinstance(spec, Mapping) and spec.get("type", "context") != "context":
                continue
            rates = rates_from_mapping(t, scale)
            if isinstance(size, int) and not isinstance(size, bool) and size > 0 and rates:
                out.append((size, _inherit(rates, base)))
    elif isinstance(cost.get("context_over_200k"), Mapping):
        rates = rates_from_mapping(cost["context_over_200k"], scale)
        if rates:
            out.append((200_000, _inherit(rates, base)))
    return tuple(sorted(out, key=lambda t: t[0]))


def _inherit(tier: Rates, base: Rates) -> Rates:
    return Rates(tier.input, tier.output,
                 tier.cache_read if tier.cache_read is not None else base.cache_read,
                 tier.cache_write if tier.cache_write is not None else base.cache_write,
                 tier.reasoning if tier.reasoning is not None else base.reasoning)


def _check_units(entries: list[PriceEntry], what: str) -> None:
    inputs = [e.rates.input for e in entries if e.rates.input > 0]
    if not inputs:
        raise CatalogError(f"{what}: no priced models")
    median = statistics.median(inputs)
    low, high = _PLAUSIBLE_MEDIAN
    if not low <= median <= high:
        raise CatalogError(
            f"{what}: absurd units (median input price ${median:g} per million tokens)")


def parse_models_dev(obj: Any, source: str = "models.dev",
                     fetched_at: datetime | None = None) -> Catalog:
    """A Catalog from a models.dev ``api.json`` document (prices per million)."""
    if not isinstance(obj, Mapping):
        raise CatalogError(f"{source}: wrong shape (expected an object of providers)")
    entries: list[PriceEntry] = []
    dropped = 0
    providers_seen = 0
    for provider_id, provider in obj.items():
        if not isinstance(provider, Mapping) or not isinstance(provider.get("models"), Mapping):
            continue
        providers_seen += 1
        pid = str(provider.get("id") or provider_id)
        for model_id, model in provider["models"].items():
            cost = model.get("cost") if isinstance(model, Mapping) else None
            if not isinstance(cost, Mapping):
                continue
            rates = rates_from_mapping(cost)
            if rates is None or not is_priced(rates):
                continue
            tiers = tiers_from_cost(cost, rates)
            if not _plausible(rates) or not all(_plausible(r) for _, r in tiers):
                dropped += 1
                continue
            entries.append(PriceEntry(pid, str(model.get("id") or model_id), rates, tiers,
                                      source=source))
    if providers_seen == 0:
        raise CatalogError(f"{source}: wrong shape (no provider with a models object)")
    _check_units(entries, source)
    return Catalog(tuple(entries), source, fetched_at, dropped,
                   frozenset(e.provider for e in entries))


_DO_INPUT = ("input_price_per_million", "input")
_DO_OUTPUT = ("output_price_per_million", "output")
_DO_CACHE_READ = ("cache_read_input_price_per_million", "input_cache_read",
                  "cached_input_price_per_million")
_DO_CACHE_WRITE = ("cache_write_input_price_per_million", "input_cache_write")


def do_items(page: Any) -> list[Mapping[str, Any]]:
    """The model objects of one DigitalOcean catalog page."""
    if not isinstance(page, Mapping):
        raise CatalogError("digitalocean: wrong shape (expected an object)")
    for key in ("data", "models"):
        items = page.get(key)
        if isinstance(items, list):
            return [x for x in items if isinstance(x, Mapping)]
    raise CatalogError("digitalocean: wrong shape (no 'data' list)")


def _first(m: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for k in keys:
        v = _rate(m.get(k))
        if v is not None:
            return v
    return None


def parse_digitalocean(items: list[Mapping[str, Any]], source: str = "digitalocean",
                       fetched_at: datetime | None = None) -> Catalog:
    """A Catalog of provider ``digitalocean`` from the GenAI model catalog's items.

    The fields say "per million" but hold per-token values; the unit is decided from the median
    of the whole catalog, so a catalog that one day really is per million still reads right.
    """
    raw: list[tuple[str, float, float, float | None, float | None]] = []
    for item in items:
        model_id = item.get("model_id") or item.get("id")
        pricing = item.get("pricing")
        if not isinstance(model_id, str) or not isinstance(pricing, Mapping):
            continue
        inp, out = _first(pricing, _DO_INPUT), _first(pricing, _DO_OUTPUT)
        if inp is None or out is None or (inp == 0 and out == 0):
            continue
        raw.append((model_id, inp, out, _first(pricing, _DO_CACHE_READ),
                    _first(pricing, _DO_CACHE_WRITE)))
    positive = [r[1] for r in raw if r[1] > 0]
    if not positive:
        raise CatalogError(f"{source}: no priced models")
    scale = 1_000_000.0 if statistics.median(positive) < 0.001 else 1.0
    entries: list[PriceEntry] = []
    dropped = 0

    def per_million(v: float | None) -> float | None:
        # Rounding undoes the binary noise of the conversion (1e-7 * 1e6 = 0.09999999999999999).
        return None if v is None else round(v * scale, 9)

    for model_id, inp, out, cache_read, cache_write in raw:
        rates = Rates(round(inp * scale, 9), round(out * scale, 9), per_million(cache_read),
                      per_million(cache_write))
        if not _plausible(rates):
            dropped += 1
            continue
        entries.append(PriceEntry("digitalocean", model_id, rates, source=source))
    _check_units(entries, source)
    return Catalog(tuple(entries), source, fetched_at, dropped, frozenset({"digitalocean"}))
