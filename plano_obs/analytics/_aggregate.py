"""Mergeable, subtractable aggregates of LLM calls: the state behind every rollup.

One ``Aggregate`` holds a set of calls: all-time, one time bucket, a sliding window built from
buckets, or a derived row of the ledger. Adding a call is O(1); merging and subtracting cost the
size of the aggregate, never the number of calls in it.

Every field is one of four kinds, and each kind combines one way:

- **counts**: integers that add and subtract exactly. Money is nano-dollars and generation time
  nanoseconds, so a window that loses its oldest calls holds exactly the sums of the rest.
- **tallies**: ``Counter`` by key (status codes, qualities, signal categories and types).
- **sketches**: ``QuantileSketch`` bins of latency and time to first token.
- **extremes**: maxima and first/last seen. Merging widens them; subtracting cannot narrow them,
  so ``refresh_extremes`` recomputes them from the parts that remain.

Keyed groups (models, routes, sessions) combine per key. A *bounded* aggregate caps its tables
(names come off the wire): new keys past a cap go to ``OTHER``, new sessions past
``max_sessions`` are refused (counted as untracked) or evict the least recently seen (LRU).
Merging into an aggregate applies *its* caps and session policy, as adding the calls one by one
would; an unbounded aggregate (a window) takes every key, so subtracting a part merged earlier is
exact. ``to_state``/``from_state`` and ``dumps``/``loads`` serialize an aggregate exactly.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import add, sub
from typing import Any

from plano_obs.analytics._accuracy import CostCheck
from plano_obs.analytics.sketch import QuantileSketch, sketch_key
from plano_obs.model import LLMCall

__all__ = ["Aggregate", "CallFacts", "SessionStats", "Stats", "OTHER", "NANO_PER_USD",
           "merge_parts", "usd_to_nano"]

#: Where new keys go once a per-aggregate table is full (names come off the wire).
OTHER = "(other)"
MAX_KEYS = 1_000
MAX_SIGNAL_TYPES = 500
MAX_SESSION_MODELS = 32
NANO_PER_USD = 1_000_000_000
#: Version of ``to_state``'s layout; ``from_state`` refuses any other.
STATE_VERSION = 2

# Stats.counts: what each position holds. Ambiguous: calls whose name the catalog could not
# pick one entry for; no usage: calls without a cost because they reported no tokens (failures).
# Tokens are input, output, cached input, cache creation and reasoning: their sums, then how
# many calls reported each kind.
(REQUESTS, ERRORS, FLAGGED, PRICED, UNPRICED, COST_NANO, GEN_TOKENS, GEN_NS, AMBIGUOUS,
 NO_USAGE) = range(10)
TOKENS = 10
TOKENS_KNOWN = TOKENS + 5
_STATS_COUNTS = TOKENS_KNOWN + 5
# SessionStats.counts
TURNS, S_COST_NANO, S_PRICED, S_UNPRICED, S_ERRORS, S_FLAGGED = range(6)
# Aggregate.counts
ERRORS_4XX, ERRORS_5XX, UNTRACKED_SESSION_CALLS, ANALYSED, SESSIONS_EVICTED = range(5)
_TALLIES = ("errors_by_status", "by_quality", "category_calls", "category_instances", "by_type")


def usd_to_nano(usd: float) -> int:
    """US dollars as whole nano-dollars (the unit every sum of money is kept in)."""
    return round(usd * NANO_PER_USD)


class Tally(Counter[Any]):
    """A ``Counter`` that is quick to create: a session's models make one per chunk, and
    ``Counter.__init__`` costs more in Python than the dict it fills."""

    __slots__ = ()
    __init__ = dict.__init__  # type: ignore[assignment]


def _add_tally(into: Counter[Any], other: Counter[Any]) -> None:
    """``into + other`` in place (``Counter.update`` without its per-call type checks)."""
    get = into.get
    for k, n in other.items():
        into[k] = get(k, 0) + n


def _subtract_tally(into: Counter[Any], other: Counter[Any]) -> None:
    """``into - other`` in place, dropping keys that reach zero (O(len(other)))."""
    for k, n in other.items():
        left = into.get(k, 0) - n
        if left > 0:
            into[k] = left
        else:
            into.pop(k, None)


def _capped(table: Any, key: Any, cap: int | None, overflow: Any = OTHER) -> Any:
    """``key``, or ``overflow`` when ``key`` is new to a table that already holds ``cap`` keys."""
    if cap is None or key in table or len(table) < cap:
        return key
    return overflow


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None or a <= b:
        return a
    return b


def _latest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None or a >= b:
        return a
    return b


@dataclass(slots=True)
class CallFacts:
    """What the rollups need from one call, computed once per call."""

    end_ns: int
    latency_key: int | None
    latency_ms: float | None
    ttft_key: int | None
    ttft_ms: float | None
    cost_nano: int | None
    gen_tokens: int
    gen_ns: int
    is_error: bool

    @classmethod
    def of(cls, call: LLMCall) -> CallFacts:
        """Facts of ``call``."""
        lat = call.duration_ms
        ttft = call.ttft_ms
        gen_tokens, gen_ns = 0, 0
        if call.completion_tokens is not None and lat is not None:
            gen_ms = lat - (ttft or 0.0)
            if gen_ms > 0:
                gen_tokens, gen_ns = call.completion_tokens, int(gen_ms * 1_000_000)
        cost = call.cost_usd
        return cls(  # positional, in field order: this runs for every call
            call.end_ns,
            None if lat is None else sketch_key(lat),
            lat,
            None if ttft is None else sketch_key(ttft),
            ttft,
            None if cost is None else round(cost * NANO_PER_USD),
            gen_tokens,
            gen_ns,
            call.is_error,
        )


class Stats:
    """Counts, token sums, money, latency sketches and maxima of a group of calls."""

    __slots__ = ("counts", "latency", "ttft", "latency_max", "ttft_max", "entries", "check")

    def __init__(self) -> None:
        self.counts = [0] * _STATS_COUNTS
        self.latency = QuantileSketch()
        self.ttft = QuantileSketch()
        self.latency_max: float | None = None
        self.ttft_max: float | None = None
        # Per-model rows only (``Aggregate.add``): catalog entry -> calls it priced, and the
        # sums behind cost accuracy.
        self.entries: Counter[str] = Tally()
        self.check: CostCheck | None = None

    @property
    def requests(self) -> int:
        return self.counts[REQUESTS]

    @property
    def errors(self) -> int:
        return self.counts[ERRORS]

    @property
    def flagged(self) -> int:
        return self.counts[FLAGGED]

    @property
    def priced(self) -> int:
        return self.counts[PRICED]

    @property
    def unpriced(self) -> int:
        return self.counts[UNPRICED]

    @property
    def ambiguous(self) -> int:
        return self.counts[AMBIGUOUS]

    @property
    def no_usage(self) -> int:
        return self.counts[NO_USAGE]

    def merge(self, o: Stats) -> None:
        """Add another group's calls."""
        self.counts = list(map(add, self.counts, o.counts))
        self.latency.merge(o.latency)
        self.ttft.merge(o.ttft)
        if o.entries:
            _add_tally(self.entries, o.entries)
        if o.check is not None:
            if self.check is None:
                self.check = CostCheck()
            self.check.combine(o.check)
        self.merge_extremes(o)

    def merge_extremes(self, o: Stats) -> None:
        """Widen the maxima to cover ``o``."""
        lat, ttft = o.latency_max, o.ttft_max
        if lat is not None and (self.latency_max is None or lat > self.latency_max):
            self.latency_max = lat
        if ttft is not None and (self.ttft_max is None or ttft > self.ttft_max):
            self.ttft_max = ttft

    def subtract(self, o: Stats) -> None:
        """Remove a group merged earlier; maxima stay until ``refresh_extremes``."""
        self.counts = list(map(sub, self.counts, o.counts))
        self.latency.subtract(o.latency)
        self.ttft.subtract(o.ttft)
        if o.entries:
            _subtract_tally(self.entries, o.entries)
        if o.check is not None and self.check is not None:
            self.check.combine(o.check, -1)

    def token(self, i: int) -> int | None:
        """Sum of token kind ``i``; None when no call reported it."""
        c = self.counts
        return c[TOKENS + i] if c[TOKENS_KNOWN + i] else None

    def cost(self) -> float | None:
        """Summed cost in USD; None when nothing was priced."""
        c = self.counts
        return c[COST_NANO] / NANO_PER_USD if c[PRICED] else None

    def tokens_per_second(self) -> float | None:
        """Completion tokens over generation time."""
        c = self.counts
        return c[GEN_TOKENS] * 1e9 / c[GEN_NS] if c[GEN_NS] > 0 else None

    def to_state(self) -> list[Any]:
        """An exact, JSON-ready form (``from_state`` reads it back)."""
        check = None if self.check is None else [
            getattr(self.check, name) for name in CostCheck.__slots__]
        return [self.counts, _sketch_state(self.latency), _sketch_state(self.ttft),
                self.latency_max, self.ttft_max, dict(self.entries), check]

    @classmethod
    def from_state(cls, state: list[Any]) -> Stats:
        """The stats ``to_state`` wrote."""
        st = cls()
        counts, latency, ttft, st.latency_max, st.ttft_max, entries, check = state
        if len(counts) != _STATS_COUNTS:
            raise ValueError("stats state has the wrong number of counts")
        st.counts = list(counts)
        st.latency, st.ttft = _sketch_of(latency), _sketch_of(ttft)
        st.entries = Tally(entries)
        if check is not None:
            st.check = CostCheck()
            for name, value in zip(CostCheck.__slots__, check, strict=True):
                setattr(st.check, name, value)
        return st


def add_to_stats(targets: tuple[Stats, ...], call: LLMCall, f: CallFacts) -> None:
    """Add one call to each of ``targets``; the call is read once for all of them.

    This runs for every call (in its aggregate's total, model and route): keep it lean.
    """
    is_error, flagged, cost = f.is_error, call.flagged, f.cost_nano
    ambiguous = call.cost is not None and call.cost.ambiguous
    # (position, count) of the token kinds the call reported, in Stats.counts order
    reported = [(i, n) for i, n in enumerate((
        call.prompt_tokens, call.completion_tokens, call.cached_input_tokens,
        call.cache_creation_tokens, call.reasoning_tokens), TOKENS) if n is not None]
    lk, lat, tk, ttft = f.latency_key, f.latency_ms, f.ttft_key, f.ttft_ms
    gen_tokens, gen_ns = f.gen_tokens, f.gen_ns
    for st in targets:
        c = st.counts
        c[REQUESTS] += 1
        if is_error:
            c[ERRORS] += 1
        if flagged:
            c[FLAGGED] += 1
        for i, n in reported:
            c[i] += n
            c[i + 5] += 1
        if cost is None:
            c[UNPRICED] += 1
            if not reported:
                c[NO_USAGE] += 1
        else:
            c[COST_NANO] += cost
            c[PRICED] += 1
        if ambiguous:
            c[AMBIGUOUS] += 1
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
        c[GEN_TOKENS] += gen_tokens
        c[GEN_NS] += gen_ns


class SessionStats:
    """One session's calls within an aggregate."""

    __slots__ = ("counts", "models", "first_ns", "last_ns")

    def __init__(self) -> None:
        self.counts = [0] * 6
        self.models: Counter[str] = Tally()
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    @property
    def turns(self) -> int:
        return self.counts[TURNS]

    @property
    def priced(self) -> int:
        return self.counts[S_PRICED]

    @property
    def unpriced(self) -> int:
        return self.counts[S_UNPRICED]

    @property
    def errors(self) -> int:
        return self.counts[S_ERRORS]

    @property
    def flagged(self) -> int:
        return self.counts[S_FLAGGED]

    def cost(self) -> float | None:
        """Summed cost in USD; None when no turn was priced."""
        c = self.counts
        return c[S_COST_NANO] / NANO_PER_USD if c[S_PRICED] else None

    def add(self, call: LLMCall, f: CallFacts, model_cap: int | None) -> None:
        """Add one turn."""
        c = self.counts
        c[TURNS] += 1
        if f.cost_nano is None:
            c[S_UNPRICED] += 1
        else:
            c[S_COST_NANO] += f.cost_nano
            c[S_PRICED] += 1
        if f.is_error:
            c[S_ERRORS] += 1
        if call.flagged:
            c[S_FLAGGED] += 1
        model = call.model or "unknown"
        models = self.models
        if model_cap is None or model in models or len(models) < model_cap:
            models[model] = models.get(model, 0) + 1
        end = f.end_ns
        if self.first_ns is None or end < self.first_ns:
            self.first_ns = end
        if self.last_ns is None or end > self.last_ns:
            self.last_ns = end

    def copy(self) -> SessionStats:
        """An independent copy."""
        ss = SessionStats.__new__(SessionStats)
        ss.counts = self.counts[:]
        ss.models = Tally(self.models)
        ss.first_ns, ss.last_ns = self.first_ns, self.last_ns
        return ss

    def merge(self, o: SessionStats, model_cap: int | None) -> bool:
        """Add another aggregate's turns of the same session; False when the cap on distinct
        models dropped some."""
        c, oc = self.counts, o.counts  # one statement per count: this runs per session
        c[0] += oc[0]
        c[1] += oc[1]
        c[2] += oc[2]
        c[3] += oc[3]
        c[4] += oc[4]
        c[5] += oc[5]
        exact = True
        models = self.models
        get = models.get
        for k, n in o.models.items():
            if model_cap is None or k in models or len(models) < model_cap:
                models[k] = get(k, 0) + n
            else:
                exact = False
        first, last = o.first_ns, o.last_ns
        if first is not None and (self.first_ns is None or first < self.first_ns):
            self.first_ns = first
        if last is not None and (self.last_ns is None or last > self.last_ns):
            self.last_ns = last
        return exact

    def subtract(self, o: SessionStats) -> None:
        """Remove turns merged earlier; first and last seen are left as they were."""
        self.counts = list(map(sub, self.counts, o.counts))
        _subtract_tally(self.models, o.models)


@dataclass(slots=True)
class Aggregate:
    """Every rollup's state for one set of calls (see the module docstring)."""

    #: Cap the model, route and signal tables (and each session's models) as add() does.
    bounded: bool = True
    #: Most sessions tracked; None for no limit.
    max_sessions: int | None = 1_000
    #: A full session table evicts its least recently seen session instead of refusing new ones.
    lru_sessions: bool = False
    total: Stats = field(default_factory=Stats)
    #: errors_4xx, errors_5xx, untracked_session_calls, analysed, sessions_evicted
    counts: list[int] = field(default_factory=lambda: [0] * 5)
    errors_by_status: Counter[str] = field(default_factory=Tally)
    by_quality: Counter[str] = field(default_factory=Tally)
    category_calls: Counter[str] = field(default_factory=Tally)
    category_instances: Counter[str] = field(default_factory=Tally)
    by_type: Counter[str] = field(default_factory=Tally)
    models: dict[tuple[str | None, str | None], Stats] = field(default_factory=dict)
    routes: dict[str | None, Stats] = field(default_factory=dict)
    _sessions: OrderedDict[str, SessionStats] = field(default_factory=OrderedDict, repr=False)
    #: Serialized sessions not read back yet: ``loads`` defers them, most readers never look.
    _sessions_json: bytes | None = field(default=None, repr=False)
    _session_count: int = field(default=0, repr=False)
    first_ns: int | None = None
    last_ns: int | None = None
    #: The session of the latest call that had one, and that call's end; on equal ends the
    #: larger session id, so the result never depends on the order calls were combined in.
    last_session: str | None = None
    last_session_ns: int | None = None

    @property
    def sessions(self) -> OrderedDict[str, SessionStats]:
        """Session id -> its calls here, least recently seen first."""
        raw = self._sessions_json
        if raw is not None:
            self._sessions_json = None
            self._sessions = _sessions_of(json.loads(raw))
        return self._sessions

    @sessions.setter
    def sessions(self, value: OrderedDict[str, SessionStats]) -> None:
        self._sessions, self._sessions_json = value, None

    @property
    def session_count(self) -> int:
        """Sessions in the table (without reading back deferred ones)."""
        return self._session_count if self._sessions_json is not None else len(self._sessions)

    @classmethod
    def unbounded(cls) -> Aggregate:
        """An aggregate that takes every key and session: merges into it subtract exactly."""
        return cls(bounded=False, max_sessions=None)

    # -- reading --------------------------------------------------------------------------

    @property
    def errors_4xx(self) -> int:
        return self.counts[ERRORS_4XX]

    @property
    def errors_5xx(self) -> int:
        return self.counts[ERRORS_5XX]

    @property
    def analysed(self) -> int:
        return self.counts[ANALYSED]

    @property
    def sessions_evicted(self) -> int:
        """Distinct sessions an LRU table dropped."""
        return self.counts[SESSIONS_EVICTED]

    @property
    def untracked_session_calls(self) -> int:
        """Calls of sessions a full table refused."""
        return self.counts[UNTRACKED_SESSION_CALLS]

    # -- adding ---------------------------------------------------------------------------

    def add(self, call: LLMCall, f: CallFacts) -> None:
        """Add one call: O(1)."""
        key_cap = MAX_KEYS if self.bounded else None
        counts = self.counts
        if f.is_error:
            code = call.status_code
            if code is not None and 400 <= code < 500:
                counts[ERRORS_4XX] += 1
            elif code is not None and code >= 500:
                counts[ERRORS_5XX] += 1
            self.errors_by_status["none" if code is None else str(code)] += 1
        m = _group(self.models, (call.model, call.provider), key_cap, (OTHER, None))
        r = _group(self.routes, call.route, key_cap, OTHER)
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
            sessions = self.sessions
            st = sessions.get(sid)
            if st is None:
                st = self._new_session(sid, 1)
            elif self.lru_sessions:
                sessions.move_to_end(sid)
            if st is not None:
                st.add(call, f, MAX_SESSION_MODELS if self.bounded else None)
            latest = self.last_session_ns
            if latest is None or end > latest or (
                    end == latest and sid > self.last_session):  # type: ignore[operator]
                self.last_session_ns, self.last_session = end, sid
        s = call.signals
        if s is not None:
            counts[ANALYSED] += 1
            if s.quality:
                self.by_quality[s.quality] += 1
            calls, instances = self.category_calls, self.category_instances
            for name, (count, _severity) in s.categories.items():
                name = _capped(calls, name, key_cap)
                calls[name] += 1
                instances[name] += count
            by_type = self.by_type
            type_cap = MAX_SIGNAL_TYPES if self.bounded else None
            for ev in s.events:
                t = ev.leaf_type
                by_type[_capped(by_type, t, type_cap)] += 1
        if self.first_ns is None or end < self.first_ns:
            self.first_ns = end
        if self.last_ns is None or end > self.last_ns:
            self.last_ns = end

    def _saw_session(self, end_ns: int, sid: str) -> None:
        latest = self.last_session_ns
        if latest is None or end_ns > latest or (
                end_ns == latest and sid > self.last_session):  # type: ignore[operator]
            self.last_session_ns, self.last_session = end_ns, sid

    def _new_session(self, sid: str, turns: int) -> SessionStats | None:
        """A new row for ``sid``; None when a full, non-LRU table refuses it (its ``turns``
        are counted as untracked)."""
        sessions = self.sessions
        if self.max_sessions is not None and len(sessions) >= self.max_sessions:
            if not self.lru_sessions:
                self.counts[UNTRACKED_SESSION_CALLS] += turns
                return None
            sessions.popitem(last=False)
            self.counts[SESSIONS_EVICTED] += 1
        st = sessions[sid] = SessionStats()
        return st

    # -- combining ------------------------------------------------------------------------

    def merge(self, o: Aggregate, *, with_sessions: bool = True) -> bool:
        """Add ``o``'s calls as adding them one by one would, under this aggregate's caps and
        session policy; False when a cap or the policy moved or dropped some of ``o``'s keys
        (``o`` cannot then be subtracted exactly from a sum this aggregate is part of).
        Without sessions, ``o``'s sessions count as evicted (for a part whose sessions a full
        LRU table would evict anyway).

        Into an LRU table, ``o`` should keep its sessions in last-seen order (be an LRU
        aggregate itself) so the sessions kept are the most recently seen. One difference from
        adding calls one by one: a session evicted and seen again within ``o`` is counted as
        evicted once, not twice.
        """
        dropped_before = self.counts[UNTRACKED_SESSION_CALLS] + self.counts[SESSIONS_EVICTED]
        self.counts = list(map(add, self.counts, o.counts))
        _add_tally(self.errors_by_status, o.errors_by_status)
        _add_tally(self.by_quality, o.by_quality)
        exact = True
        key_cap = MAX_KEYS if self.bounded else None
        if key_cap is None:
            _add_tally(self.category_calls, o.category_calls)
            _add_tally(self.category_instances, o.category_instances)
            _add_tally(self.by_type, o.by_type)
        else:
            calls, instances = self.category_calls, self.category_instances
            for name, n in o.category_calls.items():
                key = _capped(calls, name, key_cap)
                exact = exact and key is name
                calls[key] += n
                instances[key] += o.category_instances[name]
            by_type = self.by_type
            for t, n in o.by_type.items():
                key = _capped(by_type, t, MAX_SIGNAL_TYPES)
                exact = exact and key is t
                by_type[key] += n
        self.total.merge(o.total)
        groups: tuple[tuple[dict[Any, Stats], dict[Any, Stats], Any], ...] = (
            (self.models, o.models, (OTHER, None)), (self.routes, o.routes, OTHER))
        for table, parts, overflow in groups:
            for k, st in parts.items():
                key = _capped(table, k, key_cap, overflow)
                exact = exact and key is k
                mine = table.get(key)
                if mine is None:
                    mine = table[key] = Stats()
                mine.merge(st)
        model_cap = MAX_SESSION_MODELS if self.bounded else None
        if not with_sessions:
            self.counts[SESSIONS_EVICTED] += o.session_count
            self.merge_extremes(o)
            return False
        sessions, lru = self.sessions, self.lru_sessions
        room = self.max_sessions is None
        for sid, ss in o.sessions.items():
            mine_s = sessions.get(sid)
            if mine_s is None:
                if room or len(sessions) < self.max_sessions:  # type: ignore[operator]
                    # A copy: a long window takes tens of thousands of sessions new to it.
                    if model_cap is None or len(ss.models) <= model_cap:
                        sessions[sid] = ss.copy()
                        continue
                mine_s = self._new_session(sid, ss.turns)
                if mine_s is None:
                    continue
            elif lru:
                sessions.move_to_end(sid)
            if not mine_s.merge(ss, model_cap):
                exact = False
        self.merge_extremes(o)
        dropped = self.counts[UNTRACKED_SESSION_CALLS] + self.counts[SESSIONS_EVICTED]
        return exact and dropped - dropped_before == o.counts[UNTRACKED_SESSION_CALLS] + \
            o.counts[SESSIONS_EVICTED]

    def merge_extremes(self, o: Aggregate) -> None:
        """Widen first/last seen and the latest session to cover ``o``."""
        self.first_ns = _min(self.first_ns, o.first_ns)
        self.last_ns = _latest(self.last_ns, o.last_ns)
        if o.last_session is not None:
            self._saw_session(o.last_session_ns, o.last_session)  # type: ignore[arg-type]

    def subtract(self, o: Aggregate) -> None:
        """Remove ``o``, merged earlier into this (unbounded) aggregate; the extremes stay until
        ``refresh_extremes``, and each session keeps its first and last seen."""
        self.counts = list(map(sub, self.counts, o.counts))
        for name in _TALLIES:
            _subtract_tally(getattr(self, name), getattr(o, name))
        self.total.subtract(o.total)
        groups: tuple[tuple[dict[Any, Stats], dict[Any, Stats]], ...] = (
            (self.models, o.models), (self.routes, o.routes))
        for table, parts in groups:
            for k, st in parts.items():
                mine = table.get(k)
                if mine is not None:
                    mine.subtract(st)
                    if mine.requests <= 0:
                        del table[k]
        for sid, ss in o.sessions.items():
            mine_s = self.sessions.get(sid)
            if mine_s is not None:
                mine_s.subtract(ss)
                if mine_s.turns <= 0:
                    del self.sessions[sid]

    def refresh_extremes(self, parts: Iterable[Aggregate]) -> None:
        """Recompute maxima, first/last seen and the latest session from ``parts``, the
        aggregates this one is the sum of (subtraction cannot narrow them)."""
        groups = (self.total, *self.models.values(), *self.routes.values())
        for st in groups:
            st.latency_max = st.ttft_max = None
        self.first_ns = self.last_ns = self.last_session_ns = self.last_session = None
        for part in parts:
            self.total.merge_extremes(part.total)
            for k, st in part.models.items():
                mine = self.models.get(k)
                if mine is not None:
                    mine.merge_extremes(st)
            for rk, st in part.routes.items():
                mine = self.routes.get(rk)
                if mine is not None:
                    mine.merge_extremes(st)
            self.merge_extremes(part)

    # -- serializing ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything but the policy (caps, session limit), exact and JSON-ready."""
        return {
            "v": STATE_VERSION,
            "total": self.total.to_state(),
            "counts": self.counts,
            **{name: dict(getattr(self, name)) for name in _TALLIES},
            "models": [[m, p, st.to_state()] for (m, p), st in self.models.items()],
            "routes": [[r, st.to_state()] for r, st in self.routes.items()],
            # in table order (an LRU table keeps it), column by column: quick to read back
            "sessions": _sessions_state(self.sessions),
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "last_session": [self.last_session_ns, self.last_session],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, bounded: bool = True,
                   max_sessions: int | None = 1_000, lru_sessions: bool = False) -> Aggregate:
        """The aggregate ``to_state`` wrote, with the given policy; ValueError when malformed."""
        try:
            if state.get("v") != STATE_VERSION:
                raise ValueError(f"aggregate state version {state.get('v')!r} is not "
                                 f"{STATE_VERSION}")
            agg = cls(bounded=bounded, max_sessions=max_sessions, lru_sessions=lru_sessions)
            agg.total = Stats.from_state(state["total"])
            agg.counts = [int(n) for n in state["counts"]]
            for name in _TALLIES:
                setattr(agg, name, Tally(state[name]))
            agg.models = {(m, p): Stats.from_state(st) for m, p, st in state["models"]}
            agg.routes = {r: Stats.from_state(st) for r, st in state["routes"]}
            agg.sessions = _sessions_of(state["sessions"])
            agg.first_ns, agg.last_ns = state["first_ns"], state["last_ns"]
            agg.last_session_ns, agg.last_session = state["last_session"]
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"malformed aggregate state: {e!r}") from None
        return agg

    def dumps(self) -> bytes:
        """Compact bytes of ``to_state``: zlib-compressed JSON, the sessions apart (so that
        ``loads`` can leave them unread), after the length of the rest."""
        state = self.to_state()
        sessions = state.pop("sessions")
        state["session_count"] = len(sessions["ids"])
        main = zlib.compress(json.dumps(state, separators=(",", ":"),
                                        allow_nan=False).encode(), 1)
        rest = zlib.compress(json.dumps(sessions, separators=(",", ":")).encode(), 1)
        return len(main).to_bytes(4, "big") + main + rest

    @classmethod
    def loads(cls, data: bytes, **policy: Any) -> Aggregate:
        """The aggregate ``dumps`` wrote (its sessions read back when first used); ValueError
        when the bytes are not one."""
        try:
            size = int.from_bytes(data[:4], "big")
            state = json.loads(zlib.decompress(data[4:4 + size]))
            sessions = zlib.decompress(data[4 + size:])  # checked now, parsed when needed
            if not isinstance(state, dict):
                raise ValueError("not a JSON object")
            count = int(state.pop("session_count"))
            state["sessions"] = {"ids": [], "counts": [], "models": [], "first_ns": [],
                                 "last_ns": []}
        except (zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"not a serialized aggregate: {e}") from None
        agg = cls.from_state(state, **policy)
        agg._sessions_json, agg._session_count = sessions, count
        return agg


def merge_parts(into: Aggregate, parts: list[Aggregate]) -> None:
    """Merge ``parts`` (oldest first) into ``into``. When ``into`` keeps at most N sessions,
    least recently seen evicted, the sessions of parts older than the newest N sessions are
    counted as evicted without being read: the table would evict them anyway (a session also
    seen in a newer part keeps only its newer turns)."""
    keep = 0  # the first part whose sessions are read
    if into.max_sessions is not None and into.lru_sessions:
        seen = 0
        for i in range(len(parts) - 1, -1, -1):
            seen += parts[i].session_count
            if seen > into.max_sessions:
                keep = i  # it keeps some of its sessions, older parts none
                break
    for i, part in enumerate(parts):
        into.merge(part, with_sessions=i >= keep)


def _group(table: dict[Any, Stats], key: Any, cap: int | None, overflow: Any) -> Stats:
    """The stats of ``key`` in a per-model or per-route table, created when new (under
    ``overflow`` when the table already holds ``cap`` keys)."""
    st = table.get(key)
    if st is None:
        if cap is not None and len(table) >= cap:
            key = overflow
            st = table.get(key)
        if st is None:
            st = table[key] = Stats()
    return st


def _sessions_state(sessions: OrderedDict[str, SessionStats]) -> dict[str, list[Any]]:
    counts: list[int] = []
    for ss in sessions.values():
        counts += ss.counts
    return {"ids": list(sessions), "counts": counts,
            "models": [dict(ss.models) for ss in sessions.values()],
            "first_ns": [ss.first_ns for ss in sessions.values()],
            "last_ns": [ss.last_ns for ss in sessions.values()]}


def _sessions_of(state: dict[str, list[Any]]) -> OrderedDict[str, SessionStats]:
    """The sessions ``_sessions_state`` wrote (a day row holds thousands: built directly)."""
    ids, counts, models = state["ids"], state["counts"], state["models"]
    firsts, lasts = state["first_ns"], state["last_ns"]
    if not len(ids) == len(models) == len(firsts) == len(lasts) == len(counts) // 6:
        raise ValueError("session columns of different lengths")
    out: OrderedDict[str, SessionStats] = OrderedDict()
    new = SessionStats.__new__
    for i, sid in enumerate(ids):
        ss = new(SessionStats)
        ss.counts = counts[6 * i:6 * i + 6]
        ss.models = Tally(models[i])
        ss.first_ns, ss.last_ns = firsts[i], lasts[i]
        out[sid] = ss
    return out


def _sketch_state(s: QuantileSketch) -> list[list[int]]:
    """Bin keys (the first absolute, then deltas: small numbers) and their counts."""
    keys = sorted(s.bins)
    deltas = [b - a for a, b in zip(keys, keys[1:], strict=False)]
    return [keys[:1] + deltas, [s.bins[k] for k in keys]]


def _sketch_of(state: list[list[int]]) -> QuantileSketch:
    deltas, counts = state
    if len(deltas) != len(counts):
        raise ValueError("a sketch's keys and counts differ in length")
    s = QuantileSketch()
    # A restart reads hundreds of these: one pass in C (the first delta is the first key).
    s.bins = dict(zip(map(int, accumulate(deltas)), map(int, counts), strict=True))
    s.count = sum(s.bins.values())
    return s
