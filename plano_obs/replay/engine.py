"""``replay``: a pure, deterministic what-if over recorded calls.

Same calls, rules, prices, window, seed and iterations give the same result, byte for byte: the
calls are put in a canonical order first (by end time, then ids) and nothing reads the clock.

Cost: a moved call's own token counts are split into uncached input, cache reads, cache writes
and output (undoing the usage shape of the API it was called through), then billed at the
target's rates in the target API's shape: an OpenAI-shape API has no cache writes (they are
plain input there), an Anthropic-shape API bills them at the cache-write rate. The arithmetic is
the pricing package's (:class:`~plano_obs.pricing.CompiledPrice`), vectorised; a test holds the
two to the same figures.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import attrgetter, is_, is_not
from typing import Any

import numpy as np

from plano_obs.analytics.document import PricingSummary
from plano_obs.model import QUALITY_ORDER, LLMCall
from plano_obs.pricing import (
    PRICED,
    CompiledPrice,
    Pricer,
    identity,
    prompt_is_exclusive,
)
from plano_obs.replay._bootstrap import (
    percentile_interval,
    quantile_replicates,
    sum_intervals,
    weighted_quantile,
)
from plano_obs.replay.rules import CompiledRule, RuleSet, TokenCondition
from plano_obs.replay.schema import (
    LATENCY_OUTCOMES,
    OUTCOMES,
    CallReplay,
    Estimate,
    LatencyTotals,
    QualityEvidence,
    RouteQuality,
    RuleBreakdown,
    Totals,
    WhatIfResult,
    WhatIfWindow,
)

__all__ = ["MAX_ITERATIONS", "ReplayError", "Window", "model_identity", "replay"]

#: More replicates than this buy no precision worth their memory and time.
MAX_ITERATIONS = 100_000
#: Fewer calls than this and the intervals deserve a warning.
SMALL_SAMPLE = 1_000
#: A target with fewer successful calls than this in the window has a thin latency history.
THIN_HISTORY = 30
#: An interval wider than this share of its estimate (either side) is a rough estimate.
ROUGH_INTERVAL = 0.30
CONFIDENCE = 0.95

# Outcomes by name; arrays hold their index in the schema's list.
UNMATCHED, KEPT, ON_TARGET, MOVED, UNPRICEABLE, NO_USAGE = OUTCOMES
_OUTCOMES = OUTCOMES
_LAT_OUTCOMES = LATENCY_OUTCOMES


class ReplayError(ValueError):
    """Inputs a replay cannot run on; the message is one line."""


@dataclass(frozen=True, slots=True)
class Window:
    """Calls whose end time falls in ``[start, end]`` (``start`` None: everything up to end)."""

    name: str
    start: datetime | None
    end: datetime

    def bounds_ns(self) -> tuple[int | None, int]:
        """The window in unix nanoseconds."""
        start = None if self.start is None else _ns(self.start)
        return start, _ns(self.end)


def _ns(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1_000)


# -- the calls as columns ---------------------------------------------------------------------

#: What is read from every call: what rules match on (route, requested model, model, provider)
#: and the API path, then the numbers. A field at a time (a C loop each) beats one tuple per
#: call transposed afterwards. The session and the span status are read only when needed.
_FIELDS = tuple(map(attrgetter, (
    "route", "model_requested", "model", "provider", "api_path",
    "prompt_tokens", "completion_tokens", "cached_input_tokens", "cache_creation_tokens",
    "reasoning_tokens", "duration_ms", "status_code", "flagged", "signals", "cost")))
_SESSION, _SPAN_STATUS = map(attrgetter, ("session_id", "span_status"))
_COST_USD, _COST_SOURCE, _DRIFT = map(attrgetter, ("cost_usd", "source", "drift"))
_SCORE, _QUALITY = map(attrgetter, ("quality_score", "quality"))
_END = attrgetter("end_ns")
_IDS = attrgetter("trace_id", "span_id")


def _floats(values: Sequence[Any]) -> np.ndarray:
    """A float64 array; None becomes NaN (unknown)."""
    return np.array(values, dtype=np.float64)


def _codes(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Integer codes for hashable values, and the values by code (first seen first)."""
    # dict.fromkeys and map run in C: no Python frame per value.
    distinct = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(distinct)}
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, distinct


class _Columns:
    """What the replay reads from each call, once, as arrays."""

    def __init__(self, calls: Sequence[LLMCall], pricer: Pricer, *, sessions: bool) -> None:
        n = len(calls)
        self.n = n
        fields = [list(map(get, calls)) for get in _FIELDS]
        (route, requested, model, provider, api_path, prompt_raw, completion_raw, read_raw,
         write_raw, reasoning_raw, latency, status, flagged, signals, cost) = fields
        # Calls sharing every name form a group: names are tested once per group, not per call.
        # Sessions are many; they only enter the groups when some rule matches on them.
        session = list(map(_SESSION, calls)) if sessions else [None] * n
        self.group_of, self.groups = _codes(
            list(zip(route, requested, model, provider, session, api_path, strict=True)))
        prompt_f, completion_f = _floats(prompt_raw), _floats(completion_raw)
        read_f, write_f = _floats(read_raw), _floats(write_raw)
        prompt_known, completion_known = ~np.isnan(prompt_f), ~np.isnan(completion_f)
        read_known, write_known = ~np.isnan(read_f), ~np.isnan(write_f)

        def billable(values: np.ndarray) -> np.ndarray:
            # Unknown and negative counts (buggy clients) bill as zero, as the pricing does.
            return np.where(values > 0, values, 0.0).astype(np.int64)

        prompt, completion = billable(prompt_f), billable(completion_f)
        read, write = billable(read_f), billable(write_f)
        self.has_usage = prompt_known | completion_known | read_known | write_known
        exclusive = self._per_group(self._exclusive_by_group())
        # Undo the usage shape: the split CompiledPrice.cost makes.
        whole = (read > prompt) | (((read > 0) | (write > 0)) & exclusive)
        fits = read + write <= prompt
        self.uncached = np.where(whole, prompt,
                                 np.where(fits, prompt - read - write, prompt - read))
        self.read = read
        self.write = write
        self.completion = completion
        self.reasoning = np.minimum(billable(_floats(reasoning_raw)), completion)
        self.input_total = self.uncached + read + write
        self.input_known = prompt_known | read_known | write_known
        self.completion_known = completion_known

        self.latency = _floats(latency)
        status_f = _floats(status)
        # LLMCall.is_error: an HTTP status of 400+, else a span status of error.
        self.failed = status_f >= 400
        for i in np.flatnonzero(np.isnan(status_f)).tolist():
            self.failed[i] = _SPAN_STATUS(calls[i]) == "error"
        self.flagged = np.array(flagged, dtype=bool)
        self.quality_score = np.full(n, np.nan)
        self.quality_code = np.zeros(n, dtype=np.int64)  # 0: no signal analysis
        self.quality_names: list[str | None] = [None]
        has_signals = np.fromiter(map(is_not, signals, repeat(None)), dtype=bool, count=n)
        analysed = np.flatnonzero(has_signals)
        if analysed.size:
            present = list(compress(signals, has_signals.tolist()))
            self.quality_score[analysed] = _floats(list(map(_SCORE, present)))
            codes, names = _codes(list(map(_QUALITY, present)))
            self.quality_code[analysed] = codes + 1
            self.quality_names += names

        costs = list(cost)
        for i in np.flatnonzero(np.fromiter(map(is_, costs, repeat(None)), dtype=bool,
                                            count=n)).tolist():
            costs[i] = pricer.price(calls[i])  # not priced at ingest
        self.baseline = _floats(list(map(_COST_USD, costs)))
        self._cost_source = list(map(_COST_SOURCE, costs))
        self.drift = np.array(list(map(_DRIFT, costs)), dtype=bool)
        spelling_code, spellings = _codes([g[2] for g in self.groups])
        identity_code, self.model_keys = _codes(list(map(model_identity, spellings)))
        self.model_code = identity_code[spelling_code][self.group_of]
        route_code, self.routes = _codes([g[0] for g in self.groups])
        self.route_code = route_code[self.group_of]

    def baseline_source(self, i: int) -> str | None:
        """Where call ``i``'s own cost came from (gateway or catalog); None when unknown."""
        return None if math.isnan(self.baseline[i]) else self._cost_source[i]

    def _per_group(self, values: np.ndarray) -> np.ndarray:
        """Per-group values spread to every call."""
        return values[self.group_of]

    def code_of(self, key: str | None) -> int:
        """The model code of a model identity, -1 when no call in the window has it."""
        try:
            return self.model_keys.index(key)
        except ValueError:
            return -1

    def _exclusive_by_group(self) -> np.ndarray:
        """Whether each group's usage shape leaves cache tokens out of the prompt count."""
        memo: dict[tuple[str | None, str | None], bool] = {}

        def verdict(api_path: str | None, provider: str | None) -> bool:
            hit = memo.get((api_path, provider))
            if hit is None:
                # Without cached tokens the verdict rests on the path and provider alone.
                probe = LLMCall("", "", None, "", None, 0, 0, "", api_path=api_path,
                                provider=provider)
                hit = memo[(api_path, provider)] = prompt_is_exclusive(probe)
            return hit

        return np.fromiter((verdict(g[5], g[3]) for g in self.groups), dtype=bool,
                           count=len(self.groups))


def model_identity(model: str | None) -> str | None:
    """A model whatever its spelling, provider prefix or dated version: ``claude-haiku-4-5``.

    Latency history, quality evidence and "already on the target" go by it.
    """
    return None if model is None else identity(model)


# -- targets ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Target:
    """A rule's target, resolved against the catalog."""

    price: CompiledPrice | None
    key: str  # model_identity of the target
    entry: str | None
    shape: str  # "openai" | "anthropic"
    why_unpriced: str | None = None  # the catalog's reason, one line


def _resolve_target(pricer: Pricer, model: str, provider: str | None) -> _Target:
    resolution = pricer.resolution(model, provider)
    # Anything but a priced resolution (none, or an ambiguous one) is unpriceable.
    entry = resolution.entry if resolution.status == PRICED else None
    owner = (provider or (entry.provider if entry is not None else "") or "").lower()
    shape = "anthropic" if owner == "anthropic" else "openai"
    key = model_identity(model) or model
    if entry is None:
        return _Target(None, key, None, shape, f"{resolution.status}: {resolution.reason}")
    return _Target(CompiledPrice(entry), key, entry.key, shape)


def _project_cost(cols: _Columns, rows: np.ndarray, target: _Target) -> np.ndarray:
    """Cost in USD of calls ``rows`` at the target's rates, in the target API's usage shape."""
    assert target.price is not None
    price = target.price
    uncached = cols.uncached[rows].astype(np.float64)
    read = cols.read[rows].astype(np.float64)
    write = cols.write[rows].astype(np.float64)
    completion = cols.completion[rows].astype(np.float64)
    reasoning = cols.reasoning[rows].astype(np.float64)
    context = uncached + read + write
    if target.shape == "openai":
        # OpenAI-shape APIs have no cache writes: those tokens are plain input there.
        uncached = uncached + write
        write = np.zeros_like(write)
    # Above a tier's context size the whole request is billed at the tier's rates.
    table = [price.base, *(rates for _, rates in price.tiers)]
    tier = np.zeros(len(rows), dtype=np.int64)
    for k, (size, _) in enumerate(price.tiers, start=1):
        tier[context > size] = k

    def rate(column: int) -> np.ndarray:
        return np.array([0.0 if r[column] is None else r[column] for r in table])[tier]

    has_reasoning_rate = np.array([r[4] is not None for r in table])[tier]
    # The order of operations of CompiledPrice.cost, so the figures agree to the last bit.
    total = uncached * rate(0)
    total = np.where(read > 0, total + read * rate(2), total)
    total = np.where(write > 0, total + write * rate(3), total)
    billed_reasoning = np.where(has_reasoning_rate, reasoning, 0.0)
    total = np.where(billed_reasoning > 0, total + billed_reasoning * rate(4), total)
    total = total + (completion - billed_reasoning) * rate(1)
    return total / 1e6


# -- matching ---------------------------------------------------------------------------------

def _token_mask(values: np.ndarray, known: np.ndarray,
                conditions: tuple[TokenCondition, ...] | None) -> np.ndarray | None:
    if conditions is None:
        return None
    mask = known.copy()
    for cond in conditions:
        mask &= _OPS_NP[cond.op](values, cond.tokens)
    return mask


_OPS_NP = {">=": np.greater_equal, "<=": np.less_equal, "==": np.equal, ">": np.greater,
           "<": np.less}


def _match(cols: _Columns, rules: Sequence[CompiledRule]) -> np.ndarray:
    """Index of the first matching rule per call, -1 where none matches."""
    group_of = cols.group_of
    keys = [k[:5] for k in cols.groups]
    rule_of = np.full(cols.n, -1, dtype=np.int64)
    for rule in rules:
        by_group = np.fromiter((rule.matches_names(*k) for k in keys), dtype=bool,
                               count=len(keys))
        mask = by_group[group_of] & (rule_of < 0)
        m = rule.rule.match
        for tokens in (_token_mask(cols.input_total, cols.input_known, m.input_tokens),
                       _token_mask(cols.completion, cols.completion_known, m.output_tokens)):
            if tokens is not None:
                mask &= tokens
        rule_of[mask] = rule.index
    return rule_of


# -- the replay -------------------------------------------------------------------------------

def _in_window(calls: Iterable[LLMCall], start: int | None, end: int) -> list[LLMCall]:
    """The calls that ended in the window, by end time, ties by trace and span id.

    The order makes the result independent of the order the calls came in.
    """
    everything = calls if isinstance(calls, list) else list(calls)
    ends = np.fromiter(map(_END, everything), dtype=np.int64, count=len(everything))
    inside = ends <= end
    if start is not None:
        inside &= ends >= start
    chosen = everything if inside.all() else list(compress(everything, inside.tolist()))
    ends = ends[inside]
    if ends.size and bool((ends[1:] >= ends[:-1]).all()):
        ordered, sorted_ends = list(chosen), ends  # already in time order, as usual
    else:
        order = np.argsort(ends, kind="stable")
        ordered = [chosen[i] for i in order.tolist()]
        sorted_ends = ends[order]
    # Equal end times (rare at nanosecond resolution) are put in id order.
    tied = np.flatnonzero(sorted_ends[1:] == sorted_ends[:-1])
    if tied.size:
        run_starts = tied[np.r_[True, tied[1:] != tied[:-1] + 1]]
        for first in run_starts.tolist():
            last = first + 1
            while last + 1 < len(ordered) and sorted_ends[last + 1] == sorted_ends[first]:
                last += 1
            ordered[first:last + 1] = sorted(ordered[first:last + 1], key=_IDS)
    return ordered


def _check(window: Window, iterations: int, seed: int) -> tuple[int | None, int]:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ReplayError(f"iterations must be at least 1 (got {iterations!r})")
    if iterations > MAX_ITERATIONS:
        raise ReplayError(f"iterations must be at most {MAX_ITERATIONS:,} (got {iterations:,})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ReplayError(f"seed must be a whole number of 0 or more (got {seed!r})")
    start, end = window.bounds_ns()
    if start is not None and start > end:
        raise ReplayError(f"inverted window: it starts ({window.start:%Y-%m-%d %H:%M:%S}) after "
                          f"it ends ({window.end:%Y-%m-%d %H:%M:%S})")
    if start is not None and start == end:
        raise ReplayError("empty window: it starts when it ends")
    return start, end


def replay(
    calls: Iterable[LLMCall],
    rules: RuleSet,
    pricer: Pricer,
    *,
    window: Window,
    seed: int,
    iterations: int,
    source: str = "",
    include_calls: bool = False,
) -> WhatIfResult:
    """Replay the window's calls under ``rules``: costs, latency, quality evidence, intervals."""
    start, end = _check(window, iterations, seed)
    ordered = _in_window(calls, start, end)
    if not ordered:
        since = "the beginning" if window.start is None else f"{window.start:%Y-%m-%d %H:%M:%S}"
        raise ReplayError(f"no calls in the window ({window.name}: {since} to "
                          f"{window.end:%Y-%m-%d %H:%M:%S})")
    # Reading a million calls allocates millions of short-lived objects and no cycles; the
    # collector's passes over the calls would cost more than the reading itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        cols = _Columns(ordered, pricer,
                        sessions=any(r.match.session is not None for r in rules.rules))
    finally:
        if collecting:
            gc.enable()
    compiled = rules.compiled()
    rule_of = _match(cols, compiled)
    targets = [None if r.rule.to is None
               else _resolve_target(pricer, r.rule.to.model, r.rule.to.provider)
               for r in compiled]

    n = cols.n
    outcome = np.zeros(n, dtype=np.int8)  # index into _OUTCOMES
    projected = cols.baseline.copy()
    target_of = np.full(n, -1, dtype=np.int64)
    for r in compiled:
        rows = np.flatnonzero(rule_of == r.index)
        if rows.size == 0:
            continue
        target = targets[r.index]
        if target is None:
            outcome[rows] = _OUTCOMES.index(KEPT)
            continue
        on_target = cols.model_code[rows] == cols.code_of(target.key)
        if r.rule.to is not None and r.rule.to.provider is not None:
            # The same model through another provider is a move.
            wanted = r.rule.to.provider.lower()
            via = np.array([(g[3] or "").lower() == wanted for g in cols.groups], dtype=bool)
            on_target &= via[cols.group_of[rows]]
        no_usage = ~cols.has_usage[rows] & ~on_target
        outcome[rows[on_target]] = _OUTCOMES.index(ON_TARGET)
        outcome[rows[no_usage]] = _OUTCOMES.index(NO_USAGE)
        movable = rows[~on_target & ~no_usage]
        if target.price is None:
            outcome[movable] = _OUTCOMES.index(UNPRICEABLE)
            continue
        outcome[movable] = _OUTCOMES.index(MOVED)
        target_of[movable] = r.index
        projected[movable] = _project_cost(cols, movable, target)

    moved = outcome == _OUTCOMES.index(MOVED)
    priced = ~np.isnan(cols.baseline)
    rng = np.random.default_rng(seed)
    totals, latency_cols, method = _totals(cols, outcome, moved, priced, projected, target_of,
                                           targets, iterations, rng)
    breakdown = _breakdown(cols, compiled, targets, rule_of, outcome, priced, projected)
    quality = _quality(cols, ordered, compiled, targets, target_of, moved)
    caveats = _caveats(cols, totals, breakdown, moved, quality, latency_cols[2])
    per_call = None
    if include_calls:
        per_call = _per_call(ordered, cols, compiled, targets, rule_of, outcome, projected,
                             latency_cols)
    return WhatIfResult(
        window=WhatIfWindow(name=window.name, start=window.start, end=window.end),
        source=source,
        pricing=_pricing(pricer),
        seed=seed,
        iterations=iterations,
        confidence=CONFIDENCE,
        interval_method=(f"cost: {method}; latency: bootstrap (order statistics drawn "
                         f"exactly, all calls resampled jointly)"),
        rules=breakdown,
        totals=totals,
        quality=quality,
        caveats=caveats,
        calls=per_call,
    )


def _pricing(pricer: Pricer) -> PricingSummary:
    info = pricer.info()
    return PricingSummary(source=info.source, fetched_at=info.fetched_at, models=info.models)


def _interval(value: float | None, bounds: tuple[float | None, float | None]) -> Estimate:
    if value is None or not math.isfinite(value):
        return Estimate(value=None, ci_low=None, ci_high=None)
    return Estimate(value=value, ci_low=bounds[0], ci_high=bounds[1])


def _estimate(value: float | None, replicates: np.ndarray | None) -> Estimate:
    return _interval(value, percentile_interval(replicates, CONFIDENCE))


def _savings(sums: np.ndarray) -> np.ndarray:
    """Savings in USD from sums of (baseline, delta)."""
    return sums[..., 1]


def _savings_pct(sums: np.ndarray) -> np.ndarray:
    """Savings as % of the baseline; NaN where the baseline is 0."""
    return np.where(sums[..., 0] > 0, 100.0 * sums[..., 1] / sums[..., 0], np.nan)


def _totals(cols: _Columns, outcome: np.ndarray, moved: np.ndarray, priced: np.ndarray,
            projected: np.ndarray, target_of: np.ndarray, targets: Sequence[_Target | None],
            iterations: int, rng: np.random.Generator
            ) -> tuple[Totals, tuple[np.ndarray, np.ndarray, list[str]], str]:
    counts = np.bincount(outcome, minlength=len(_OUTCOMES))
    base = cols.baseline[priced]
    delta = base - projected[priced]
    baseline_cost = float(base.sum()) if base.size else None
    projected_cost = float(projected[priced].sum()) if base.size else None
    savings = None if baseline_cost is None or projected_cost is None else float(delta.sum())
    savings_pct = (100.0 * savings / baseline_cost
                   if savings is not None and baseline_cost else None)
    savings_ci: tuple[float | None, float | None] = (None, None)
    pct_ci: tuple[float | None, float | None] = (None, None)
    method = "bootstrap"
    if base.size:
        # Savings resample the per-call deltas; the percentage resamples baseline and delta
        # jointly, as a ratio of sums.
        (savings_ci, pct_ci), method = sum_intervals(
            [base, delta], [_savings, _savings_pct], iterations, rng, CONFIDENCE)

    latency, latency_cols = _latency(cols, moved, target_of, targets, iterations, rng)
    totals = Totals(
        calls=cols.n,
        matched=int(counts.sum() - counts[_OUTCOMES.index(UNMATCHED)]),
        moved=int(counts[_OUTCOMES.index(MOVED)]),
        kept=int(counts[_OUTCOMES.index(KEPT)] + counts[_OUTCOMES.index(ON_TARGET)]),
        unpriceable=int(counts[_OUTCOMES.index(UNPRICEABLE)]),
        no_usage=int(counts[_OUTCOMES.index(NO_USAGE)]),
        failed_moved=int((moved & cols.failed).sum()),
        baseline_unpriced=int((~priced).sum()),
        priced_calls=int(priced.sum()),
        baseline_cost_usd=baseline_cost,
        projected_cost_usd=projected_cost,
        savings_usd=_interval(savings, savings_ci),
        savings_pct=_interval(savings_pct, pct_ci),
        latency=latency,
    )
    return totals, latency_cols, method


def _latency(cols: _Columns, moved: np.ndarray, target_of: np.ndarray,
             targets: Sequence[_Target | None], iterations: int, rng: np.random.Generator
             ) -> tuple[LatencyTotals, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Percentiles before and after; moved calls take their target's latency distribution.

    The projected population is every call that keeps its own latency, plus, for each target,
    its successful calls in the window weighted by the number of calls moved to it over the
    number it served. The intervals resample all calls jointly, so a target's latency history
    is resampled too: little history shows as a wide interval.
    """
    known = ~np.isnan(cols.latency)
    ok = known & ~cols.failed
    # The model code each moved call goes to (-1: no call in the window ran its target).
    rule_code = np.array([-1 if t is None else cols.code_of(t.key) for t in targets] or [-1])
    dest = np.where(moved, rule_code[np.maximum(target_of, 0)], -1)
    target_codes = np.unique(dest[dest >= 0])
    in_history = ok & np.isin(cols.model_code, target_codes)
    served = np.bincount(cols.model_code[in_history], minlength=len(cols.model_keys))
    projected = moved & ok & (dest >= 0) & (served[np.maximum(dest, 0)] > 0)
    failed_kept = moved & known & cols.failed
    unprojected = moved & ok & ~projected
    lat_outcome = np.zeros(cols.n, dtype=np.int8)  # index into _LAT_OUTCOMES
    for name, rows_of in (("projected", projected), ("no target history", unprojected),
                          ("failed call", failed_kept), ("unknown", ~known)):
        lat_outcome[rows_of] = _LAT_OUTCOMES.index(name)

    projected_ms = cols.latency.copy()
    for code in np.unique(dest[projected]):
        pool = np.sort(cols.latency[in_history & (cols.model_code == code)])
        projected_ms[projected & (dest == code)] = weighted_quantile([pool], [1.0], 0.5)

    # Cells of calls that play the same part: (keeps its own latency, history of which target,
    # moved to which target); latencies sorted within each.
    own = known & ~projected
    hist = np.where(in_history, cols.model_code, -1)
    to = np.where(projected, dest, -1)
    rows = np.flatnonzero(known)
    # One integer per (own, history, moved-to) combination; codes are small, so a table
    # lookup numbers the combinations present without sorting.
    width = len(cols.model_keys) + 1
    combined = own[rows] + 2 * ((hist[rows] + 1) + width * (to[rows] + 1))
    present = np.flatnonzero(np.bincount(combined))
    lookup = np.zeros(present[-1] + 1 if present.size else 1, dtype=np.int64)
    lookup[present] = np.arange(present.size)
    cell_of = lookup[combined]
    cell_keys = np.stack([present % 2, (present // 2) % width - 1, (present // 2) // width - 1],
                         axis=1)
    # By latency, then (stably) by cell: each cell's latencies come out sorted.
    by_latency = np.argsort(cols.latency[rows], kind="stable")
    small = cell_of.astype(np.int16) if present.size < 2**15 else cell_of  # radix-sortable
    order = by_latency[np.argsort(small[by_latency], kind="stable")]
    bounds = np.searchsorted(cell_of[order], np.arange(len(cell_keys) + 1))
    ordered_latency = cols.latency[rows][order]
    cells = [ordered_latency[bounds[i]:bounds[i + 1]] for i in range(len(cell_keys))]
    cell_own = cell_keys[:, 0].astype(np.float64)
    cell_hist = cell_keys[:, 1]
    cell_to = cell_keys[:, 2]
    codes = sorted(set(cell_hist[cell_hist >= 0].tolist()) | set(cell_to[cell_to >= 0].tolist()))

    def weigh(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = counts.astype(np.float64)
        weights = np.broadcast_to(cell_own, counts.shape).copy()
        valid = np.ones(counts.shape[0], dtype=bool)
        for code in codes:
            moved_here = counts[:, cell_to == code].sum(axis=1)
            history = counts[:, cell_hist == code].sum(axis=1)
            valid &= ~((moved_here > 0) & (history == 0))
            share = np.divide(moved_here, history, out=np.zeros_like(history),
                              where=history > 0)
            weights[:, cell_hist == code] += share[:, None]
        return weights, valid

    sizes = np.array([[len(c) for c in cells]], dtype=np.float64)
    point_weights = weigh(sizes)[0][0]

    def projected_estimate(q: float) -> Estimate:
        value = weighted_quantile(cells, list(point_weights), q)
        return _estimate(value, quantile_replicates(cells, weigh, q, iterations, rng))

    baseline_pool = np.sort(cols.latency[known])
    totals = LatencyTotals(
        baseline_p50_ms=weighted_quantile([baseline_pool], [1.0], 0.5),
        baseline_p95_ms=weighted_quantile([baseline_pool], [1.0], 0.95),
        projected_p50_ms=projected_estimate(0.5),
        projected_p95_ms=projected_estimate(0.95),
        known=int(known.sum()),
        projected=int(projected.sum()),
        unprojected=int(unprojected.sum()),
        failed_kept=int(failed_kept.sum()),
    )
    thin = [f"{cols.model_keys[code]} ({int(served[code])})"
            for code in np.unique(dest[projected]).tolist() if served[code] < THIN_HISTORY]
    return totals, (projected_ms, lat_outcome, thin)


def _sums(values: np.ndarray) -> float | None:
    return float(values.sum()) if values.size else None


def _breakdown(cols: _Columns, rules: Sequence[CompiledRule], targets: Sequence[_Target | None],
               rule_of: np.ndarray, outcome: np.ndarray, priced: np.ndarray,
               projected: np.ndarray) -> list[RuleBreakdown]:
    out = []
    for r in sorted(rules, key=lambda r: r.rule.name):
        mine = rule_of == r.index
        target = targets[r.index]
        costed = mine & priced
        base = _sums(cols.baseline[costed])
        proj = _sums(projected[costed])
        savings = None if base is None or proj is None else float(
            (cols.baseline[costed] - projected[costed]).sum())
        to = r.rule.to
        out.append(RuleBreakdown(
            rule=r.rule.name,
            priority=r.rule.priority,
            match=r.rule.match.describe(),
            action=r.rule.action,
            target_model=None if to is None else to.model,
            target_provider=None if to is None else to.provider,
            target_priced=None if target is None else target.price is not None,
            target_price_entry=None if target is None else target.entry,
            target_unpriced_because=None if target is None else target.why_unpriced,
            matched=int(mine.sum()),
            moved=int((mine & (outcome == _OUTCOMES.index(MOVED))).sum()),
            unpriceable=int((mine & (outcome == _OUTCOMES.index(UNPRICEABLE))).sum()),
            no_usage=int((mine & (outcome == _OUTCOMES.index(NO_USAGE))).sum()),
            failed_moved=int((mine & (outcome == _OUTCOMES.index(MOVED)) & cols.failed).sum()),
            baseline_cost_usd=base,
            projected_cost_usd=proj,
            savings_usd=savings,
            savings_pct=(100.0 * savings / base) if savings is not None and base else None,
        ))
    return out


def _evidence(cols: _Columns, rows: np.ndarray) -> QualityEvidence:
    calls = int(rows.sum())
    flagged = int((cols.flagged & rows).sum())
    scores = cols.quality_score[rows]
    scores = np.sort(scores[~np.isnan(scores)])
    counts = np.bincount(cols.quality_code[rows], minlength=len(cols.quality_names))
    order = {q: i for i, q in enumerate(QUALITY_ORDER)}
    named = [(q, int(c)) for q, c in zip(cols.quality_names, counts, strict=True) if q and c]
    by_quality = dict(sorted(named, key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def pct(q: float) -> float | None:
        return weighted_quantile([scores], [1.0], q) if scores.size else None

    return QualityEvidence(
        calls=calls, flagged=flagged, flagged_rate=flagged / calls if calls else None,
        analysed=int(scores.size), quality_score_p10=pct(0.1), quality_score_p50=pct(0.5),
        quality_score_p90=pct(0.9), by_quality=by_quality)


def _quality(cols: _Columns, calls: Sequence[LLMCall], rules: Sequence[CompiledRule],
             targets: Sequence[_Target | None], target_of: np.ndarray,
             moved: np.ndarray) -> list[RouteQuality]:
    """Per route, source model and target: both models' signals on that route, side by side."""
    rows = np.flatnonzero(moved)
    if rows.size == 0:
        return []
    # Rules that send calls to the same model share its evidence: one entry per target model.
    target_keys = sorted({t.key for t in targets if t is not None})
    first_rule = {key: next(i for i, t in enumerate(targets) if t is not None and t.key == key)
                  for key in target_keys}
    target_id = np.array([-1 if t is None else target_keys.index(t.key) for t in targets])
    models, n_targets = len(cols.model_keys), max(len(target_keys), 1)
    pair = cols.route_code * models + cols.model_code  # (route, model) as one integer
    triple = pair[rows] * n_targets + target_id[target_of[rows]]
    keys, first, sizes = np.unique(triple, return_index=True, return_counts=True)
    evidence: dict[int, QualityEvidence | None] = {}

    def evidence_of(route_code: int, model_code: int) -> QualityEvidence | None:
        if model_code < 0:  # no call in the window ran this model
            return None
        key = route_code * models + model_code
        if key not in evidence:
            mask = pair == key
            evidence[key] = _evidence(cols, mask) if mask.any() else None
        return evidence[key]

    out = []
    for key, at, size in zip(keys.tolist(), first.tolist(), sizes.tolist(), strict=True):
        target_key = target_keys[key % n_targets]
        route_code, model_code = divmod(key // n_targets, models)
        rule = rules[first_rule[target_key]].rule
        assert rule.to is not None
        source = evidence_of(route_code, model_code)
        assert source is not None  # the moved calls themselves are on it
        there = evidence_of(route_code, cols.code_of(target_key))
        out.append(RouteQuality(
            route=cols.routes[route_code],
            source_model=calls[rows[at]].model,
            target_model=rule.to.model,
            moved=int(size),
            source=source,
            target=there,
            note=_quality_note(source, there),
        ))
    out.sort(key=lambda q: (q.route is None, q.route or "", q.source_model or "",
                            q.target_model))
    return out


def _quality_note(source: QualityEvidence, target: QualityEvidence | None) -> str:
    if target is None:
        return "no history"
    parts = []
    if source.flagged_rate is not None and target.flagged_rate is not None:
        parts.append(f"flagged {source.flagged_rate:.1%} -> {target.flagged_rate:.1%} "
                     f"({target.calls:,} target calls)")
    if source.quality_score_p50 is not None and target.quality_score_p50 is not None:
        parts.append(f"median quality score {source.quality_score_p50:.1f} -> "
                     f"{target.quality_score_p50:.1f}")
    elif target.analysed == 0:
        parts.append("no quality scores for the target")
    return "; ".join(parts)


def _rough(name: str, e: Estimate) -> str | None:
    if e.value is None or e.ci_low is None or e.ci_high is None:
        return None
    half = (e.ci_high - e.ci_low) / 2
    if e.value == 0:
        return None if half == 0 else (f"{name}: the estimate is 0 with an interval of "
                                       f"{e.ci_low:.4g} to {e.ci_high:.4g}: treat as a rough "
                                       f"estimate")
    if half > ROUGH_INTERVAL * abs(e.value):
        return (f"{name}: the 95% interval ({e.ci_low:.4g} to {e.ci_high:.4g}) is wider than "
                f"±30% of the estimate ({e.value:.4g}): treat as a rough estimate")
    return None


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _caveats(cols: _Columns, totals: Totals, breakdown: Sequence[RuleBreakdown],
             moved: np.ndarray, quality: Sequence[RouteQuality],
             thin_history: Sequence[str]) -> list[str]:
    """What to keep in mind, in words, in a fixed order."""
    out = []
    if totals.calls < SMALL_SAMPLE:
        out.append(f"small sample: {_plural(totals.calls, 'call')} in the window (fewer than "
                   f"{SMALL_SAMPLE:,}); the intervals are wide and less reliable")
    if totals.moved == 0:
        out.append("no call was moved to another model: the projection equals the baseline")
    if totals.unpriceable:
        names = sorted({f"{b.target_model} ({b.target_unpriced_because})" for b in breakdown
                        if b.unpriceable and b.target_model})
        out.append(f"unpriceable: {_plural(totals.unpriceable, 'matched call')} go to a "
                   f"target with no price: {'; '.join(names)}; counted unchanged, never as "
                   f"savings")
    if totals.no_usage:
        out.append(f"no usage: {_plural(totals.no_usage, 'matched call')} reported no token "
                   f"counts; counted unchanged")
    if totals.baseline_unpriced:
        out.append(f"unpriced baseline: {_plural(totals.baseline_unpriced, 'call')} have no "
                   f"known cost of their own and are left out of every cost total")
    if totals.failed_moved:
        out.append(f"failed calls: {_plural(totals.failed_moved, 'moved call')} failed; they "
                   f"are projected as failed on the target, at its price for the tokens they "
                   f"used, with their own latency")
    lat = totals.latency
    if lat.unprojected:
        out.append(f"latency unprojected: {_plural(lat.unprojected, 'moved call')} go to a "
                   f"model with no latency history in the window; they keep their own latency")
    if thin_history:
        out.append(f"thin latency history: {', '.join(thin_history)} successful calls in the "
                   f"window stand in for every call moved there; little evidence")
    if lat.projected:
        out.append("projected latency draws on each target's whole latency distribution in the "
                   "window, whatever the size of its calls there")
    cached = int((moved & ((cols.read > 0) | (cols.write > 0))).sum())
    if cached:
        out.append(f"prompt caching: {_plural(cached, 'moved call')} used the prompt cache; "
                   f"the target is assumed to cache the same tokens")
    drift = int((moved & cols.drift).sum())
    if drift:
        out.append(f"gateway cost: the baseline of {_plural(drift, 'moved call')} is the "
                   f"gateway's figure, more than 5% off the catalog's; part of the difference is "
                   f"that gap")
    if any(q.target is None for q in quality):
        out.append("quality: some targets have no history on the route they would serve "
                   "(see quality: 'no history')")
    for name, est in (("savings_usd", totals.savings_usd), ("savings_pct", totals.savings_pct),
                      ("projected p50 latency", lat.projected_p50_ms),
                      ("projected p95 latency", lat.projected_p95_ms)):
        note = _rough(name, est)
        if note:
            out.append(note)
    return out


def _per_call(calls: Sequence[LLMCall], cols: _Columns, rules: Sequence[CompiledRule],
              targets: Sequence[_Target | None], rule_of: np.ndarray, outcome: np.ndarray,
              projected: np.ndarray, latency_cols: tuple[np.ndarray, np.ndarray, list[str]]
              ) -> list[CallReplay]:
    projected_ms, lat_outcome, _ = latency_cols
    out = []
    for i, call in enumerate(calls):
        r = int(rule_of[i])
        rule = rules[r].rule if r >= 0 else None
        target = targets[r] if r >= 0 else None
        moved = _OUTCOMES[outcome[i]] == MOVED
        shape = target.shape if target is not None and moved else None
        write = int(cols.write[i])
        uncached = int(cols.uncached[i])
        if shape == "openai":
            uncached, write = uncached + write, 0
        usage = bool(cols.has_usage[i])
        base = cols.baseline[i]
        proj = projected[i]
        lat = cols.latency[i]
        plat = projected_ms[i]
        out.append(CallReplay(
            trace_id=call.trace_id,
            span_id=call.span_id,
            request_id=call.request_id,
            at=_at(call.end_ns),
            route=call.route,
            model_requested=call.model_requested,
            model=call.model,
            provider=call.provider,
            session_id=call.session_id,
            failed=bool(cols.failed[i]),
            rule=None if rule is None else rule.name,
            outcome=_OUTCOMES[outcome[i]],  # type: ignore[arg-type]
            target_model=None if rule is None or rule.to is None else rule.to.model,
            target_provider=None if rule is None or rule.to is None else rule.to.provider,
            target_price_entry=None if target is None else target.entry,
            target_api_shape=shape,  # type: ignore[arg-type]
            input_tokens=uncached if usage else None,
            cached_input_tokens=int(cols.read[i]) if usage else None,
            cache_write_tokens=write if usage else None,
            output_tokens=int(cols.completion[i]) if usage else None,
            baseline_cost_usd=None if math.isnan(base) else float(base),
            baseline_source=cols.baseline_source(i),
            projected_cost_usd=None if math.isnan(proj) else float(proj),
            latency_ms=None if math.isnan(lat) else float(lat),
            projected_latency_ms=None if math.isnan(plat) else float(plat),
            latency_outcome=_LAT_OUTCOMES[lat_outcome[i]],  # type: ignore[arg-type]
        ))
    return out
