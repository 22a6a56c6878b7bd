"""Mergeable, subtractable aggregates of LLM calls: the state behind every rollup.

One ``Aggregate`` holds a set of calls: all-time, one time bucket, or a sliding window built from
buckets. Adding a call is O(1); merging and subtracting cost the size of the aggregate, never the
number of calls in it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from plano_obs.analytics._accuracy import CostCheck
from plano_obs.analytics.sketch import QuantileSketch, sketch_key
from plano_obs.model import LLMCall

__all__ = ["Aggregate", "CallFacts", "SessionStats", "Stats", "OTHER"]

#: Where new keys go once a per-aggregate table is full (names come off the wire).
OTHER = "(other)"
MAX_KEYS = 1_000
MAX_SIGNAL_TYPES = 500
MAX_SESSION_MODELS = 32


def _inc(d: dict, key: object, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


def _merge_counts(into: dict, other: dict) -> None:
    for k, n in other.items():
        into[k] = into.get(k, 0) + n


def _subtract_counts(into: dict, other: dict) -> None:
    for k, n in other.items():
        left = into.get(k, 0) - n
        if left > 0:
            into[k] = left
        else:
            into.pop(k, None)


@dataclass(slots=True)
class CallFacts:
    """What the rollups need from one call, computed once per call."""

    end_ns: int
    latency_key: int | None
    latency_ms: float | None
    ttft_key: int | None
    ttft_ms: float | None
    cost_usd: float | None
    gen_tokens: int
    gen_seconds: float
    is_error: bool

    @classmethod
    def of(cls, call: LLMCall) -> CallFacts:
        """Facts of ``call``."""
        lat = call.duration_ms
        ttft = call.ttft_ms
        gen_tokens, gen_seconds = 0, 0.0
        if call.completion_tokens is not None and lat is not None:
            gen_ms = lat - (ttft or 0.0)
            if gen_ms > 0:
                gen_tokens, gen_seconds = call.completion_tokens, gen_ms / 1000.0
        return cls(  # positional, in field order: this runs for every call
            call.end_ns,
            None if lat is None else sketch_key(lat),
            lat,
            None if ttft is None else sketch_key(ttft),
            ttft,
            call.cost_usd,
            gen_tokens,
            gen_seconds,
            call.is_error,
        )


class Stats:
    """Counts, token sums, cost and latency sketches of a group of calls (``add_to_stats`` adds)."""

    __slots__ = (
        "requests", "errors", "flagged", "tokens", "tokens_known", "cost_usd", "priced",
        "unpriced", "ambiguous", "no_usage", "latency", "latency_max", "ttft", "ttft_max",
        "gen_tokens", "gen_seconds", "entries", "check",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.flagged = 0
        # input, output, cached_input, cache_creation, reasoning
        self.tokens = [0, 0, 0, 0, 0]
        self.tokens_known = [0, 0, 0, 0, 0]
        self.cost_usd = 0.0
        self.priced = 0
        self.unpriced = 0
        self.ambiguous = 0  # calls whose name the catalog could not pick one entry for
        self.no_usage = 0  # calls without a cost because they reported no tokens (failures)
        self.latency = QuantileSketch()
        self.latency_max: float | None = None
        self.ttft = QuantileSketch()
        self.ttft_max: float | None = None
        self.gen_tokens = 0
        self.gen_seconds = 0.0
        # Per-model rows only (``Aggregate.add``): catalog entry -> calls it priced, and the sums
        # behind cost accuracy.
        self.entries: dict[str, int] = {}
        self.check: CostCheck | None = None

    def merge(self, o: Stats) -> None:
        """Add another group's calls."""
        self._combine(o, 1)
        self.latency.merge(o.latency)
        self.ttft.merge(o.ttft)
        self.latency_max = _max(self.latency_max, o.latency_max)
        self.ttft_max = _max(self.ttft_max, o.ttft_max)

    def subtract(self, o: Stats) -> None:
        """Remove a group merged earlier; maxima are left for the caller to recompute."""
        self._combine(o, -1)
        self.latency.subtract(o.latency)
        self.ttft.subtract(o.ttft)

    def _combine(self, o: Stats, sign: int) -> None:
        self.requests += sign * o.requests
        self.errors += sign * o.errors
        self.flagged += sign * o.flagged
        for i in range(5):
            self.tokens[i] += sign * o.tokens[i]
            self.tokens_known[i] += sign * o.tokens_known[i]
        self.cost_usd += sign * o.cost_usd
        self.priced += sign * o.priced
        self.unpriced += sign * o.unpriced
        self.ambiguous += sign * o.ambiguous
        self.no_usage += sign * o.no_usage
        if o.entries:
            (_merge_counts if sign > 0 else _subtract_counts)(self.entries, o.entries)
        if o.check is not None:
            if self.check is None:
                self.check = CostCheck()
            self.check.combine(o.check, sign)
        self.gen_tokens += sign * o.gen_tokens
        self.gen_seconds += sign * o.gen_seconds
        if self.priced == 0:
            self.cost_usd = 0.0  # no float residue once every priced call left the window

    def token(self, i: int) -> int | None:
        """Sum of token kind ``i``; None when no call reported it."""
        return self.tokens[i] if self.tokens_known[i] else None

    def cost(self) -> float | None:
        """Summed cost; None when nothing was priced."""
        return self.cost_usd if self.priced else None

    def tokens_per_second(self) -> float | None:
        """Completion tokens over generation time."""
        return self.gen_tokens / self.gen_seconds if self.gen_seconds > 0 else None


def add_to_stats(targets: tuple[Stats, ...], call: LLMCall, f: CallFacts) -> None:
    """Add one call to each of ``targets``; the call is read once for all of them.

    This runs for every call (in its chunk's total, model and route): keep it lean.
    """
    is_error, flagged, cost = f.is_error, call.flagged, f.cost_usd
    ambiguous = call.cost is not None and call.cost.ambiguous
    # (kind, count) of the token kinds the call reported: input, output, cached input,
    # cache creation, reasoning (Stats.tokens order)
    reported = [(i, n) for i, n in enumerate((
        call.prompt_tokens, call.completion_tokens, call.cached_input_tokens,
        call.cache_creation_tokens, call.reasoning_tokens)) if n is not None]
    lk, lat, tk, ttft = f.latency_key, f.latency_ms, f.ttft_key, f.ttft_ms
    gen_tokens, gen_seconds = f.gen_tokens, f.gen_seconds
    for st in targets:
        st.requests += 1
        if is_error:
            st.errors += 1
        if flagged:
            st.flagged += 1
        tokens, known = st.tokens, st.tokens_known
        for i, n in reported:
            tokens[i] += n
            known[i] += 1
        if cost is None:
            st.unpriced += 1
            if not reported:
                st.no_usage += 1
        else:
            st.cost_usd += cost
            st.priced += 1
        if ambiguous:
            st.ambiguous += 1
        if lk is not None:
            bins = st.latency.bins  # QuantileSketch.add_key, inlined
            bins[lk] = bins.get(lk, 0) + 1
            st.latency.count += 1
            if st.latency_max is None or lat > st.latency_max:  # type: ignore[operator]
                st.latency_max = lat
        if tk is not None:
            bins = st.ttft.bins
            bins[tk] = bins.get(tk, 0) + 1
            st.ttft.count += 1
            if st.ttft_max is None or ttft > st.ttft_max:  # type: ignore[operator]
                st.ttft_max = ttft
        st.gen_tokens += gen_tokens
        st.gen_seconds += gen_seconds


def _capped(table: dict, key: Any, cap: int, overflow: Any = OTHER) -> Any:
    """``key``, or ``overflow`` when ``key`` is new to a table that already holds ``cap`` keys
    (names come off the wire: a table must not grow with them)."""
    return key if key in table or len(table) < cap else overflow


def _stats_for(table: dict[Any, Stats], key: Any, overflow: Any) -> Stats:
    """The stats of ``key`` in a per-model or per-route table, created when new."""
    key = _capped(table, key, MAX_KEYS, overflow)
    st = table.get(key)
    if st is None:
        st = table[key] = Stats()
    return st


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


class SessionStats:
    """One session's calls within an aggregate."""

    __slots__ = ("turns", "cost_usd", "priced", "unpriced", "errors", "flagged", "models",
                 "first_ns", "last_ns")

    def __init__(self) -> None:
        self.turns = 0
        self.cost_usd = 0.0
        self.priced = 0
        self.unpriced = 0
        self.errors = 0
        self.flagged = 0
        self.models: dict[str, int] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def add(self, call: LLMCall, f: CallFacts) -> None:
        """Add one turn."""
        self.turns += 1
        if f.cost_usd is None:
            self.unpriced += 1
        else:
            self.cost_usd += f.cost_usd
            self.priced += 1
        if f.is_error:
            self.errors += 1
        if call.flagged:
            self.flagged += 1
        model = call.model or "unknown"
        if len(self.models) < MAX_SESSION_MODELS or model in self.models:
            _inc(self.models, model)
        self._seen(f.end_ns, f.end_ns)

    def _seen(self, first: int | None, last: int | None) -> None:
        if first is not None and (self.first_ns is None or first < self.first_ns):
            self.first_ns = first
        if last is not None and (self.last_ns is None or last > self.last_ns):
            self.last_ns = last

    def merge(self, o: SessionStats) -> None:
        """Add another aggregate's view of the same session."""
        self._combine(o, 1)
        self._seen(o.first_ns, o.last_ns)

    def absorb(self, o: SessionStats) -> None:
        """Add later turns of the same session, with add()'s cap on distinct models."""
        self._combine(o, 1, bounded=True)
        self._seen(o.first_ns, o.last_ns)

    def _combine(self, o: SessionStats, sign: int, *, bounded: bool = False) -> None:
        self.turns += sign * o.turns
        self.cost_usd += sign * o.cost_usd
        self.priced += sign * o.priced
        self.unpriced += sign * o.unpriced
        self.errors += sign * o.errors
        self.flagged += sign * o.flagged
        if bounded:
            models = self.models
            for k, n in o.models.items():
                if len(models) < MAX_SESSION_MODELS or k in models:
                    _inc(models, k, n)
        elif sign > 0:
            _merge_counts(self.models, o.models)
        else:
            _subtract_counts(self.models, o.models)


@dataclass(slots=True)
class Aggregate:
    """Every rollup's state for one set of calls."""

    max_sessions: int = 1_000
    lru_sessions: bool = False  # evict least recently seen sessions instead of refusing new ones
    total: Stats = field(default_factory=Stats)
    errors_4xx: int = 0
    errors_5xx: int = 0
    errors_by_status: dict[str, int] = field(default_factory=dict)
    models: dict[tuple[str | None, str | None], Stats] = field(default_factory=dict)
    routes: dict[str | None, Stats] = field(default_factory=dict)
    sessions: OrderedDict[str, SessionStats] = field(default_factory=OrderedDict)
    sessions_evicted: int = 0  # distinct sessions dropped by the LRU
    untracked_session_calls: int = 0  # calls of sessions refused by a full table
    analysed: int = 0
    by_quality: dict[str, int] = field(default_factory=dict)
    category_calls: dict[str, int] = field(default_factory=dict)
    category_instances: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None
    last_session_ns: int | None = None
    last_session: str | None = None

    def add(self, call: LLMCall, f: CallFacts) -> None:
        """Add one call: O(1)."""
        if f.is_error:
            code = call.status_code
            if code is not None and 400 <= code < 500:
                self.errors_4xx += 1
            elif code is not None and code >= 500:
                self.errors_5xx += 1
            _inc(self.errors_by_status, "none" if code is None else str(code))
        m = _stats_for(self.models, (call.model, call.provider), (OTHER, None))
        r = _stats_for(self.routes, call.route, OTHER)
        add_to_stats((self.total, m, r), call, f)
        cost = call.cost
        if cost is not None:
            # Which entry priced the call, and the sums behind cost accuracy (model rows only).
            entry = cost.catalog_entry
            if entry is not None:
                m.entries[entry] = m.entries.get(entry, 0) + 1
            if cost.gateway_cost_usd is not None or cost.catalog_cost_usd is not None:
                check = m.check
                if check is None:
                    check = m.check = CostCheck()
                check.add(call, cost)
        sid = call.session_id
        end = f.end_ns
        if sid is not None:
            self._add_session(sid, call, f)
            if self.last_session_ns is None or end >= self.last_session_ns:
                self.last_session_ns, self.last_session = end, sid
        s = call.signals
        if s is not None:
            self.analysed += 1
            if s.quality:
                _inc(self.by_quality, s.quality)
            for name, (count, _severity) in s.categories.items():
                name = _capped(self.category_calls, name, MAX_KEYS)
                _inc(self.category_calls, name)
                _inc(self.category_instances, name, count)
            for ev in s.events:
                t = ev.type or ev.name.removeprefix("signal.")
                _inc(self.by_type, _capped(self.by_type, t, MAX_SIGNAL_TYPES))
        if self.first_ns is None or end < self.first_ns:
            self.first_ns = end
        if self.last_ns is None or end > self.last_ns:
            self.last_ns = end

    def _add_session(self, sid: str, call: LLMCall, f: CallFacts) -> None:
        sessions = self.sessions
        st = sessions.get(sid)
        if st is None:
            st = self._new_session(sid, 1)
            if st is None:
                return
        elif self.lru_sessions:
            sessions.move_to_end(sid)
        st.add(call, f)

    def _new_session(self, sid: str, turns: int) -> SessionStats | None:
        """A new row for ``sid``; a full table evicts its least recent row if it is an LRU,
        else refuses (None) and counts the session's ``turns`` as untracked."""
        sessions = self.sessions
        if len(sessions) >= self.max_sessions:
            if not self.lru_sessions:
                self.untracked_session_calls += turns
                return None
            sessions.popitem(last=False)
            self.sessions_evicted += 1
        st = sessions[sid] = SessionStats()
        return st

    def absorb(self, o: Aggregate) -> None:
        """Add ``o``'s calls as adding them one by one would: this aggregate's key caps and
        session policy hold. ``o`` should keep its sessions in last-seen order (an LRU
        aggregate), so that the sessions a full LRU table keeps are the most recently seen.

        One difference from adding calls one by one: a session evicted and seen again within
        ``o`` is counted as evicted once, not twice.
        """
        self._combine(o, 1, bounded=True)
        self.total.merge(o.total)
        for mkey, st in o.models.items():
            _stats_for(self.models, mkey, (OTHER, None)).merge(st)
        for rkey, st in o.routes.items():
            _stats_for(self.routes, rkey, OTHER).merge(st)
        sessions = self.sessions
        for sid, ss in o.sessions.items():
            mine_s = sessions.get(sid)
            if mine_s is None:
                mine_s = self._new_session(sid, ss.turns)
                if mine_s is None:
                    continue
            elif self.lru_sessions:
                sessions.move_to_end(sid)
            mine_s.absorb(ss)
        self.merge_extremes(o)

    def merge(self, o: Aggregate) -> None:
        """Add another aggregate (a bucket) into this one."""
        self._combine(o, 1)
        self.total.merge(o.total)
        for k, st in o.models.items():
            mine = self.models.get(k)
            if mine is None:
                mine = self.models[k] = Stats()
            mine.merge(st)
        for rk, st in o.routes.items():
            mine = self.routes.get(rk)
            if mine is None:
                mine = self.routes[rk] = Stats()
            mine.merge(st)
        for sid, ss in o.sessions.items():
            mine_s = self.sessions.get(sid)
            if mine_s is None:
                mine_s = self.sessions[sid] = SessionStats()
            mine_s.merge(ss)
        self.merge_extremes(o)

    def merge_extremes(self, o: Aggregate) -> None:
        """Widen first/last seen (and the latest session) to cover ``o``."""
        if o.first_ns is not None and (self.first_ns is None or o.first_ns < self.first_ns):
            self.first_ns = o.first_ns
        if o.last_ns is not None and (self.last_ns is None or o.last_ns > self.last_ns):
            self.last_ns = o.last_ns
        if o.last_session_ns is not None and (
            self.last_session_ns is None or o.last_session_ns >= self.last_session_ns
        ):
            self.last_session_ns, self.last_session = o.last_session_ns, o.last_session

    def subtract(self, o: Aggregate) -> None:
        """Remove a bucket merged earlier; extremes (max, first/last) are recomputed by callers."""
        self._combine(o, -1)
        self.total.subtract(o.total)
        for k, st in o.models.items():
            mine = self.models.get(k)
            if mine is not None:
                mine.subtract(st)
                if mine.requests <= 0:
                    del self.models[k]
        for rk, st in o.routes.items():
            mine = self.routes.get(rk)
            if mine is not None:
                mine.subtract(st)
                if mine.requests <= 0:
                    del self.routes[rk]
        for sid, ss in o.sessions.items():
            mine_s = self.sessions.get(sid)
            if mine_s is not None:
                mine_s._combine(ss, -1)
                if mine_s.turns <= 0:
                    del self.sessions[sid]

    def _combine(self, o: Aggregate, sign: int, *, bounded: bool = False) -> None:
        self.errors_4xx += sign * o.errors_4xx
        self.errors_5xx += sign * o.errors_5xx
        self.untracked_session_calls += sign * o.untracked_session_calls
        self.analysed += sign * o.analysed
        combine = _merge_counts if sign > 0 else _subtract_counts
        combine(self.errors_by_status, o.errors_by_status)
        combine(self.by_quality, o.by_quality)
        if bounded:  # the caps of add()
            calls, instances = self.category_calls, self.category_instances
            for name, n in o.category_calls.items():
                key = _capped(calls, name, MAX_KEYS)
                _inc(calls, key, n)
                _inc(instances, key, o.category_instances.get(name, 0))
            for t, n in o.by_type.items():
                _inc(self.by_type, _capped(self.by_type, t, MAX_SIGNAL_TYPES), n)
            return
        combine(self.category_calls, o.category_calls)
        combine(self.category_instances, o.category_instances)
        combine(self.by_type, o.by_type)
