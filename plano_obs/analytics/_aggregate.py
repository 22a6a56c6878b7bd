"""Mergeable, subtractable aggregates of LLM calls: the state behind every rollup.

One ``Aggregate`` holds a set of calls: all-time, one time bucket, or a sliding window built from
buckets. Adding a call is O(1); merging and subtracting cost the size of the aggregate, never the
number of calls in it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from plano_obs.analytics.sketch import QuantileSketch, sketch_key
from plano_obs.model import LLMCall

__all__ = ["Aggregate", "CallFacts", "SessionStats", "Stats", "OTHER"]

#: Where new keys go once a per-aggregate table is full (names come off the wire).
OTHER = "(other)"
MAX_KEYS = 1_000
MAX_SIGNAL_TYPES = 500


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
        return cls(
            end_ns=call.end_ns,
            latency_key=None if lat is None else sketch_key(lat),
            latency_ms=lat,
            ttft_key=None if ttft is None else sketch_key(ttft),
            ttft_ms=ttft,
            cost_usd=call.cost_usd,
            gen_tokens=gen_tokens,
            gen_seconds=gen_seconds,
            is_error=call.is_error,
        )


class Stats:
    """Counts, token sums, cost and latency sketches of a group of calls."""

    __slots__ = (
        "requests", "errors", "flagged", "tokens", "tokens_known", "cost_usd", "priced",
        "unpriced", "latency", "latency_max", "ttft", "ttft_max", "gen_tokens", "gen_seconds",
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
        self.latency = QuantileSketch()
        self.latency_max: float | None = None
        self.ttft = QuantileSketch()
        self.ttft_max: float | None = None
        self.gen_tokens = 0
        self.gen_seconds = 0.0

    def add(self, call: LLMCall, f: CallFacts) -> None:
        """Add one call."""
        self.requests += 1
        if f.is_error:
            self.errors += 1
        if call.flagged:
            self.flagged += 1
        tokens, known = self.tokens, self.tokens_known
        # Unrolled: this runs for every call in several aggregates.
        n = call.prompt_tokens
        if n is not None:
            tokens[0] += n
            known[0] += 1
        n = call.completion_tokens
        if n is not None:
            tokens[1] += n
            known[1] += 1
        n = call.cached_input_tokens
        if n is not None:
            tokens[2] += n
            known[2] += 1
        n = call.cache_creation_tokens
        if n is not None:
            tokens[3] += n
            known[3] += 1
        n = call.reasoning_tokens
        if n is not None:
            tokens[4] += n
            known[4] += 1
        if f.cost_usd is None:
            self.unpriced += 1
        else:
            self.cost_usd += f.cost_usd
            self.priced += 1
        if f.latency_key is not None:
            self.latency.add_key(f.latency_key)
            if self.latency_max is None or f.latency_ms > self.latency_max:  # type: ignore[operator]
                self.latency_max = f.latency_ms
        if f.ttft_key is not None:
            self.ttft.add_key(f.ttft_key)
            if self.ttft_max is None or f.ttft_ms > self.ttft_max:  # type: ignore[operator]
                self.ttft_max = f.ttft_ms
        self.gen_tokens += f.gen_tokens
        self.gen_seconds += f.gen_seconds

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
        if len(self.models) < 32 or call.model in self.models:
            _inc(self.models, call.model or "unknown")
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

    def _combine(self, o: SessionStats, sign: int) -> None:
        self.turns += sign * o.turns
        self.cost_usd += sign * o.cost_usd
        self.priced += sign * o.priced
        self.unpriced += sign * o.unpriced
        self.errors += sign * o.errors
        self.flagged += sign * o.flagged
        if sign > 0:
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
        self.total.add(call, f)
        if f.is_error:
            code = call.status_code
            if code is not None and 400 <= code < 500:
                self.errors_4xx += 1
            elif code is not None and code >= 500:
                self.errors_5xx += 1
            _inc(self.errors_by_status, "none" if code is None else str(code))
        mkey = (call.model, call.provider)
        m = self.models.get(mkey)
        if m is None:
            if len(self.models) >= MAX_KEYS:
                mkey = (OTHER, None)
                m = self.models.get(mkey)
            if m is None:
                m = self.models[mkey] = Stats()
        m.add(call, f)
        rkey = call.route
        r = self.routes.get(rkey)
        if r is None:
            if len(self.routes) >= MAX_KEYS:
                rkey = OTHER
                r = self.routes.get(rkey)
            if r is None:
                r = self.routes[rkey] = Stats()
        r.add(call, f)
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
                if name not in self.category_calls and len(self.category_calls) >= MAX_KEYS:
                    name = OTHER
                _inc(self.category_calls, name)
                _inc(self.category_instances, name, count)
            for ev in s.events:
                t = ev.type or ev.name.removeprefix("signal.")
                if t not in self.by_type and len(self.by_type) >= MAX_SIGNAL_TYPES:
                    t = OTHER
                _inc(self.by_type, t)
        if self.first_ns is None or end < self.first_ns:
            self.first_ns = end
        if self.last_ns is None or end > self.last_ns:
            self.last_ns = end

    def _add_session(self, sid: str, call: LLMCall, f: CallFacts) -> None:
        sessions = self.sessions
        st = sessions.get(sid)
        if st is None:
            if len(sessions) >= self.max_sessions:
                if not self.lru_sessions:
                    self.untracked_session_calls += 1
                    return
                sessions.popitem(last=False)
                self.sessions_evicted += 1
            st = sessions[sid] = SessionStats()
        elif self.lru_sessions:
            sessions.move_to_end(sid)
        st.add(call, f)

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

    def _combine(self, o: Aggregate, sign: int) -> None:
        self.errors_4xx += sign * o.errors_4xx
        self.errors_5xx += sign * o.errors_5xx
        self.untracked_session_calls += sign * o.untracked_session_calls
        self.analysed += sign * o.analysed
        combine = _merge_counts if sign > 0 else _subtract_counts
        combine(self.errors_by_status, o.errors_by_status)
        combine(self.by_quality, o.by_quality)
        combine(self.category_calls, o.category_calls)
        combine(self.category_instances, o.category_instances)
        combine(self.by_type, o.by_type)
