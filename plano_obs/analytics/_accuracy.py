"""Cost accuracy: what the gateway says calls cost, beside what the catalog's list price says.

Newer gateways report their own cost on each call (``llm.usage.*_cost_usd``). Summed per model
and per provider over a window, that cost is compared with the catalog cost *of the same calls*
(their cache reads, cache writes and context tiers priced as listed), so a cache-heavy workload
does not look like drift. A row is **reported** when the gateway sent costs: an independent
signal. Otherwise it is **derived**: computed from the same list price, 1.0 by construction and
never flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from plano_obs.analytics.document import CostAccuracy, CostAccuracyRow
from plano_obs.model import CallCost, LLMCall, prompt_is_exclusive

__all__ = [
    "DRIFT_MIN_CALLS",
    "DRIFT_THRESHOLD_PCT",
    "CostCheck",
    "accuracy_row",
    "cost_accuracy",
    "list_rates",
    "main_entry",
]

#: A reported row drifts when it is this far from list price (in either direction) ...
DRIFT_THRESHOLD_PCT = 15.0
#: ... over at least this many calls compared with the catalog.
DRIFT_MIN_CALLS = 20


def _cost(value: float | None) -> float | None:
    return value if value is not None and value >= 0 else None  # negative or NaN: not a cost


class CostCheck:
    """Sums behind one cost-accuracy row; merge and subtract like the other aggregates."""

    _REPORTED = (
        "reported_calls", "reported_usd",
        "compared_calls", "compared_gateway_usd", "compared_catalog_usd",
        "input_gateway_usd", "input_catalog_usd", "output_gateway_usd", "output_catalog_usd",
        "eff_input_usd", "eff_input_tokens", "eff_output_usd", "eff_output_tokens",
    )
    _DERIVED = ("derived_calls", "derived_usd")
    __slots__ = _REPORTED + _DERIVED

    def __init__(self) -> None:
        # Gateway-reported calls: their cost, and the same calls at list price where known.
        self.reported_calls = 0
        self.reported_usd = 0.0
        self.compared_calls = 0  # reported calls that also have a catalog price
        self.compared_gateway_usd = 0.0
        self.compared_catalog_usd = 0.0
        self.input_gateway_usd = 0.0
        self.input_catalog_usd = 0.0
        self.output_gateway_usd = 0.0
        self.output_catalog_usd = 0.0
        # For effective prices: reported input/output cost and the tokens it paid for.
        self.eff_input_usd = 0.0
        self.eff_input_tokens = 0
        self.eff_output_usd = 0.0
        self.eff_output_tokens = 0
        # Calls without a gateway cost, priced from the catalog only.
        self.derived_calls = 0
        self.derived_usd = 0.0

    def add(self, call: LLMCall, cost: CallCost) -> None:
        """Add one priced call (by the catalog, the gateway or both). Runs for every call."""
        gateway, catalog = cost.gateway_cost_usd, cost.catalog_cost_usd
        if gateway is None:
            if catalog is not None:
                self.derived_calls += 1
                self.derived_usd += catalog
            return
        self.reported_calls += 1
        self.reported_usd += gateway
        g_in = _cost(call.gateway_input_cost_usd)
        g_out = _cost(call.gateway_output_cost_usd)
        if catalog is not None:
            catalog_output = cost.catalog_output_cost_usd
            self.compared_calls += 1
            self.compared_gateway_usd += gateway
            self.compared_catalog_usd += catalog
            if catalog_output is not None:
                if g_in is not None:
                    self.input_gateway_usd += g_in
                    self.input_catalog_usd += catalog - catalog_output
                if g_out is not None:
                    self.output_gateway_usd += g_out
                    self.output_catalog_usd += catalog_output
        prompt = call.prompt_tokens
        if g_in is not None and prompt is not None:
            # Every input token billed: Anthropic-shape prompts leave out cache reads and writes.
            tokens = prompt if prompt > 0 else 0
            cached, written = call.cached_input_tokens, call.cache_creation_tokens
            if (cached or written) and prompt_is_exclusive(call):
                tokens += max(cached or 0, 0) + max(written or 0, 0)
            self.eff_input_usd += g_in
            self.eff_input_tokens += tokens
        completion = call.completion_tokens
        if g_out is not None and completion is not None:
            self.eff_output_usd += g_out
            self.eff_output_tokens += completion if completion > 0 else 0

    def combine(self, o: CostCheck, sign: int = 1) -> None:
        """Add (``sign`` 1) or remove (-1) another group's sums."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + sign * getattr(o, name))
        # No float residue once every call of a kind left the window.
        for calls, names in ((self.reported_calls, self._REPORTED),
                             (self.derived_calls, self._DERIVED)):
            if calls <= 0:
                for name in names:
                    setattr(self, name, 0)

    @property
    def calls(self) -> int:
        return self.reported_calls + self.derived_calls


def main_entry(entries: Mapping[str, int]) -> str | None:
    """The catalog entry that priced the most calls (ties: the first by name)."""
    return min(entries.items(), key=lambda kv: (-kv[1], kv[0]))[0] if entries else None


def _ratio(measured: float, listed: float) -> float | None:
    return round(measured / listed, 6) if listed > 0 else None


def _per_million(usd: float, tokens: int) -> float | None:
    return round(usd / tokens * 1e6, 6) if tokens > 0 else None


def accuracy_row(provider: str | None, model: str | None, check: CostCheck,
                 entry: str | None, list_rates: tuple[float, float] | None
                 ) -> CostAccuracyRow:
    """One row of the cost-accuracy table from its sums."""
    c = check
    reported = c.reported_calls > 0
    if reported:
        cost: float | None = c.reported_usd
        eff_in = _per_million(c.eff_input_usd, c.eff_input_tokens)
        eff_out = _per_million(c.eff_output_usd, c.eff_output_tokens)
        compared = c.compared_calls > 0
        ratio = _ratio(c.compared_gateway_usd, c.compared_catalog_usd) if compared else None
        in_ratio = _ratio(c.input_gateway_usd, c.input_catalog_usd) if compared else None
        out_ratio = _ratio(c.output_gateway_usd, c.output_catalog_usd) if compared else None
        list_cost = c.compared_catalog_usd if compared else None
    else:
        cost = c.derived_usd
        eff_in = eff_out = None  # nothing measured: the list price is all there is
        ratio = 1.0 if c.derived_calls and c.derived_usd > 0 else None
        in_ratio = out_ratio = None
        list_cost = c.derived_usd
    drift_pct: float | None = None
    if reported and c.compared_calls >= DRIFT_MIN_CALLS:
        ratios = [r for r in (ratio, in_ratio, out_ratio) if r is not None]
        if ratios:
            furthest = max(ratios, key=lambda r: abs(r - 1.0))
            drift_pct = round((furthest - 1.0) * 100.0, 3)
    return CostAccuracyRow(
        provider=provider, model=model, pricing_entry=entry,
        basis="reported" if reported else "derived",
        calls=c.calls, reported_calls=c.reported_calls, compared_calls=c.compared_calls,
        cost_usd=None if cost is None else round(cost, 9),
        list_cost_usd=None if list_cost is None else round(list_cost, 9),
        effective_input_usd_per_m=eff_in, effective_output_usd_per_m=eff_out,
        list_input_usd_per_m=None if list_rates is None else list_rates[0],
        list_output_usd_per_m=None if list_rates is None else list_rates[1],
        ratio=ratio, input_ratio=in_ratio, output_ratio=out_ratio, drift_pct=drift_pct,
        drift=drift_pct is not None and abs(drift_pct) > DRIFT_THRESHOLD_PCT,
    )


def _most_calls_first(r: CostAccuracyRow) -> tuple[int, str, str]:
    return (-r.calls, r.provider or "", r.model or "")


def list_rates(priced_by: Any) -> tuple[float, float] | None:
    """The list input and output rates of what priced a call (``CallCost.rates``)."""
    rates = getattr(getattr(priced_by, "entry", None), "rates", None)
    return None if rates is None else (rates.input, rates.output)


def cost_accuracy(rows: Iterable[tuple[str | None, str | None, CostCheck, dict[str, int]]],
                  prices: Mapping[str, Any]) -> CostAccuracy:
    """The cost-accuracy section from per-(model, provider) sums: a row per model and one per
    provider (its models summed). ``prices``: catalog entry -> what priced its calls."""
    models: list[CostAccuracyRow] = []
    by_provider: dict[str | None, CostCheck] = {}
    for model, provider, check, entries in rows:
        if check.calls <= 0:
            continue
        entry = main_entry(entries)
        models.append(accuracy_row(provider, model, check, entry,
                                   list_rates(prices.get(entry)) if entry else None))
        total = by_provider.get(provider)
        if total is None:
            total = by_provider[provider] = CostCheck()
        total.combine(check)
    providers = [accuracy_row(p, None, check, None, None) for p, check in by_provider.items()]
    drifts = [abs(r.drift_pct) for r in (*models, *providers) if r.drift_pct is not None]
    return CostAccuracy(threshold_pct=DRIFT_THRESHOLD_PCT, min_calls=DRIFT_MIN_CALLS,
                        max_drift_pct=max(drifts) if drifts else None,
                        providers=sorted(providers, key=_most_calls_first),
                        models=sorted(models, key=_most_calls_first))
