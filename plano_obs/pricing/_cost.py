"""Cost arithmetic: tokens of each kind times the rate for that kind.

This runs once per ingested call, so rates are prepared per entry (:class:`CompiledPrice`) and
the objects are built positionally: keyword construction of the dataclasses costs twice as much.
"""

from __future__ import annotations

from plano_obs.model import CallCost, CostLine, LLMCall, prompt_is_exclusive
from plano_obs.pricing._catalog import PriceEntry, Rates

__all__ = [
    "AMBIGUOUS_PRICE",
    "DRIFT_THRESHOLD",
    "Ambiguous",
    "CompiledPrice",
    "combine",
]

#: Gateway and catalog costs further apart than this fraction are flagged as drift.
DRIFT_THRESHOLD = 0.05

_FREE = Rates(0.0, 0.0, 0.0, 0.0, None)

# (input, output, cache read, cache write, reasoning or None), all USD per million tokens.
_RateRow = tuple[float, float, float, float, float | None]


def _row(rates: Rates) -> _RateRow:
    # A missing cache rate bills at the input rate: never cheaper than the catalog says.
    cache_read = rates.cache_read if rates.cache_read is not None else rates.input
    cache_write = rates.cache_write if rates.cache_write is not None else rates.input
    reasoning = rates.reasoning if rates.reasoning != rates.output else None
    return (rates.input, rates.output, cache_read, cache_write, reasoning)


class CompiledPrice:
    """An entry's rates prepared for pricing many calls."""

    __slots__ = ("entry", "key", "source", "base", "tiers")

    def __init__(self, entry: PriceEntry) -> None:
        self.entry = entry
        self.key = entry.key
        self.source = entry.source
        self.base = _row(_FREE if entry.free else entry.rates)
        self.tiers = tuple((size, _row(_FREE if entry.free else r)) for size, r in entry.tiers)

    def cost(self, call: LLMCall, *, breakdown: bool = True) -> tuple[float | None, list[CostLine]]:
        """The call's cost at these rates and (with ``breakdown``) its lines; None: no usage."""
        total, _output, lines = self.split_cost(call, breakdown=breakdown)
        return total, lines

    def split_cost(self, call: LLMCall, *, breakdown: bool = True
                   ) -> tuple[float | None, float | None, list[CostLine]]:
        """(total cost, its output and reasoning part, lines); Nones when there is no usage."""
        prompt = call.prompt_tokens
        completion = call.completion_tokens
        cache_read = call.cached_input_tokens
        cache_write = call.cache_creation_tokens
        if prompt is None and completion is None and cache_read is None and cache_write is None:
            return None, None, []
        # Buggy clients send negative counts; they cannot be billed.
        prompt = prompt if prompt is not None and prompt > 0 else 0
        completion = completion if completion is not None and completion > 0 else 0
        cache_read = cache_read if cache_read is not None and cache_read > 0 else 0
        cache_write = cache_write if cache_write is not None and cache_write > 0 else 0

        if cache_read > prompt or (cache_read or cache_write) and prompt_is_exclusive(call):
            uncached = prompt
        elif cache_read + cache_write <= prompt:
            uncached = prompt - cache_read - cache_write
        else:
            # OpenAI-shape usage that counted the cache reads but not the writes.
            uncached = prompt - cache_read

        rates = self.base
        if self.tiers:
            # Above a tier's context size the whole request is billed at the tier's rates.
            context = uncached + cache_read + cache_write
            for size, tier_rates in self.tiers:
                if context > size:
                    rates = tier_rates
        input_rate, output_rate, read_rate, write_rate, reasoning_rate = rates

        total = uncached * input_rate
        lines = [CostLine("input", uncached, input_rate, total / 1e6)] if breakdown else []
        if cache_read:
            part = cache_read * read_rate
            total += part
            if breakdown:
                lines.append(CostLine("cached_input", cache_read, read_rate, part / 1e6))
        if cache_write:
            part = cache_write * write_rate
            total += part
            if breakdown:
                lines.append(CostLine("cache_write", cache_write, write_rate, part / 1e6))
        # Reasoning tokens are inside the completion count: billed once, at their own rate if any.
        output = 0.0
        if reasoning_rate is not None and call.reasoning_tokens:
            reasoning = min(max(call.reasoning_tokens, 0), completion)
            if reasoning:
                output = reasoning * reasoning_rate
                if breakdown:
                    lines.append(CostLine("reasoning", reasoning, reasoning_rate, output / 1e6))
                completion -= reasoning
        part = completion * output_rate
        output += part
        total += output
        if breakdown:
            lines.append(CostLine("output", completion, output_rate, part / 1e6))
        return total / 1e6, output / 1e6, lines

    def lines(self, call: LLMCall) -> list[CostLine]:
        """The breakdown of ``call``'s cost: each token kind times its rate."""
        return self.cost(call)[1]

    def tier_applied(self, call: LLMCall) -> int | None:
        """The context size above which ``call`` was billed, or None at the base rates."""
        context = sum(line.tokens for line in self.lines(call)
                      if line.kind in ("input", "cached_input", "cache_write"))
        applied = None
        for size, _rates in self.tiers:
            if context > size:
                applied = size
        return applied


class Ambiguous:
    """What a name resolves to when the catalog lists it but cannot say which entry applies."""

    __slots__ = ()


#: The one ``Ambiguous`` value.
AMBIGUOUS_PRICE = Ambiguous()


def combine(price: CompiledPrice | Ambiguous | None, call: LLMCall) -> CallCost:
    """The CallCost of a call: the gateway's figure when it sent one, the catalog's otherwise."""
    gateway = call.gateway_total_cost_usd
    if gateway is None and call.gateway_input_cost_usd is not None and (
            call.gateway_output_cost_usd is not None):
        gateway = call.gateway_input_cost_usd + call.gateway_output_cost_usd
    if gateway is not None and not gateway >= 0:  # negative or NaN: not a cost
        gateway = None
    if not isinstance(price, CompiledPrice):  # None, or an ambiguous name
        ambiguous = price is AMBIGUOUS_PRICE
        if gateway is None:
            return CallCost(None, None, None, None, False, None, None, None, ambiguous)
        return CallCost(gateway, "gateway", None, gateway, False, None, None, None, ambiguous)
    # The line-by-line breakdown is only shown in the drilldown: computed there, on demand.
    computed, output, _ = price.split_cost(call, breakdown=False)
    key, source = price.key, price.source
    if gateway is None:
        return CallCost(computed, None if computed is None else "catalog", computed, None, False,
                        key, source, price, False, output)
    drift = computed is not None and abs(gateway - computed) > DRIFT_THRESHOLD * max(
        computed, 1e-12)
    return CallCost(gateway, "gateway", computed, gateway, drift, key, source, price, False,
                    output)
