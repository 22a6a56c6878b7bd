"""``Analytics``: rollups updated on ingest, read as an ``ExportDocument`` for any window.

Calls count in an all-time aggregate, in a 10-second time bucket (kept for an hour) and in an
hour part. Each call is added once, to a small chunk of its bucket's calls; chunks are merged
whole into "all", the bucket, the hour part and the open windows every ``_CHUNK_CALLS`` calls and
before every read, so readers never miss a call and the per-call cost is one aggregate, not four
or five. Windows up to an hour are made of 10-second buckets: a sliding window keeps its own
aggregate and only merges buckets that entered and subtracts buckets that left since the last
read. Longer windows (24h, 7d, 30d) are made of whole hours, built once per hour from the hour
parts, or from a ``History`` (the ledger's derived rows) plus the parts it has not taken yet.
Every time-dependent function takes ``now`` (unix seconds).
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol

from plano_obs.analytics._accuracy import cost_accuracy, main_entry
from plano_obs.analytics._aggregate import (
    Aggregate,
    CallFacts,
    SessionStats,
    Stats,
    merge_parts,
)
from plano_obs.analytics.document import (
    CategoryCount,
    CostAccuracy,
    ErrorEntry,
    ErrorsRollup,
    ExportDocument,
    FlaggedCall,
    FlaggedCategory,
    ModelRollup,
    Percentiles,
    PricingSummary,
    RouteRollup,
    SessionRollup,
    SignalsRollup,
    Summary,
    TrendPoint,
    WindowInfo,
)
from plano_obs.analytics.sketch import QuantileSketch
from plano_obs.model import QUALITY_ORDER, WINDOW_SECONDS, CallCost, LLMCall

__all__ = ["Analytics", "BUCKET_SECONDS", "UnknownWindowError"]

BUCKET_SECONDS = 10
_BUCKET_NS = BUCKET_SECONDS * 1_000_000_000
HOUR_SECONDS = 3600
_HOUR_NS = HOUR_SECONDS * 1_000_000_000
_BUCKETS_PER_HOUR = HOUR_SECONDS // BUCKET_SECONDS
_KEEP_BUCKETS = 3600 // BUCKET_SECONDS + 2
#: Sessions an hour part tracks: the most recently seen (the others are counted as evicted).
HOUR_SESSIONS = 2_000
#: Hour parts kept in memory without a ledger (the longest window, and the current hour).
DEFAULT_RETAIN_HOURS = 30 * 24 + 1
#: Calls held in per-bucket chunks before they are put into the aggregates (and before reads).
_CHUNK_CALLS = 512
_QS = (0.5, 0.95, 0.99)
_MAX_PRICES = 10_000  # distinct catalog entries remembered for their list price


class UnknownWindowError(ValueError):
    """A window name that is not one of WINDOW_SECONDS."""


class _Stats(Protocol):
    """The store's counters a document reports (``Store.stats()``)."""

    @property
    def rejected_spans(self) -> int: ...

    @property
    def evicted_calls(self) -> int: ...


class _Pricing(Protocol):
    """Which prices are active (``Pricer.info()``)."""

    @property
    def source(self) -> str: ...

    @property
    def fetched_at(self) -> datetime | None: ...

    @property
    def models(self) -> int: ...


class History(Protocol):
    """Hour parts kept outside memory: the ledger's derived rows."""

    def hours(self, lo: int, hi: int) -> list[Aggregate]:
        """Parts that together hold hours ``[lo, hi)`` (hour indexes since the epoch), oldest
        first: read, never changed."""
        ...


def hour_part() -> Aggregate:
    """An empty hour part (the policy of the ledger's hour rows too)."""
    return Aggregate(max_sessions=HOUR_SESSIONS, lru_sessions=True)

@dataclass(slots=True)
class _FlagRecord:
    """What a flagged call needs for triage and display, without the call's attributes."""

    rank: tuple[int, int, float]  # smaller is more urgent
    seq: int
    trace_id: str
    span_id: str
    request_id: str
    model: str | None
    provider: str | None
    route: str | None
    session_id: str | None
    quality: str | None
    quality_score: float | None
    turn_count: int | None
    max_severity: int | None
    categories: tuple[tuple[str, int, int | None], ...]
    leaf_types: tuple[str, ...]
    cost_usd: float | None
    status_code: int | None
    end_ns: int


@dataclass(slots=True)
class _ErrorRecord:
    seq: int
    status_code: int | None
    model: str | None
    provider: str | None
    route: str | None
    request_id: str
    trace_id: str
    span_id: str
    session_id: str | None
    end_ns: int
    error_type: str | None
    error_message: str | None


@dataclass(slots=True)
class _WindowState:
    lo: int  # first bucket index included
    hi: int  # one past the last bucket index included
    agg: Aggregate


def _quality_rank(quality: str | None) -> int:
    try:
        return QUALITY_ORDER.index(quality) if quality else 2
    except ValueError:
        return 2


def _flag_record(call: LLMCall, seq: int) -> _FlagRecord:
    s = call.signals
    cats: tuple[tuple[str, int, int | None], ...] = ()
    leaves: tuple[str, ...] = ()
    quality = score = turns = sev = None
    if s is not None:
        quality, score, turns = s.quality, s.quality_score, s.turn_count
        cats = tuple(sorted(((n, c, v) for n, (c, v) in s.categories.items()),
                            key=lambda x: (-(x[2] or 0), -x[1], x[0])))[:16]
        sevs = [v for _, _, v in cats if v is not None]
        sev = max(sevs) if sevs else None
        leaves = tuple(ev.leaf_type for ev in s.events[:32])
    cost = call.cost_usd
    rank = (_quality_rank(quality), -(sev or 0), -(cost or 0.0))
    return _FlagRecord(rank, seq, call.trace_id, call.span_id, call.request_id, call.model,
                       call.provider, call.route, call.session_id, quality, score, turns, sev,
                       cats, leaves, cost, call.status_code, call.end_ns)


def _error_record(call: LLMCall, seq: int) -> _ErrorRecord:
    return _ErrorRecord(seq, call.status_code, call.model, call.provider, call.route,
                        call.request_id, call.trace_id, call.span_id, call.session_id,
                        call.end_ns, call.error_type,
                        call.error_message or call.span_status_message)


def _triage_key(r: _FlagRecord) -> tuple[int, int, float, int]:
    return (*r.rank, -r.seq)


def _dt(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _percentiles(sketch: QuantileSketch, max_ms: float | None) -> Percentiles:
    p50, p95, p99 = sketch.quantiles(_QS)
    return Percentiles(p50=_round(p50, 3), p95=_round(p95, 3), p99=_round(p99, 3),
                       max=_round(max_ms, 3), count=sketch.count)


def _cost(x: float | None) -> float | None:
    return _round(x, 9)


class Analytics:
    """Incremental rollups of LLM calls; ``add`` is O(1), ``document`` is cheap for any window."""

    def __init__(self, *, max_sessions: int = 10_000, max_flagged: int = 100,
                 max_sessions_listed: int = 200, recent_flagged: int = 5_000,
                 recent_errors: int = 200,
                 retain_hours: int | None = DEFAULT_RETAIN_HOURS) -> None:
        self.max_sessions = max_sessions
        self.max_flagged = max_flagged
        self.max_sessions_listed = max_sessions_listed
        self.retain_hours = retain_hours
        self._recent_flagged_cap = recent_flagged
        self._recent_errors_cap = recent_errors
        self._lock = threading.RLock()
        self._history: History | None = None
        # Hour parts (hour index -> aggregate) not yet taken by the ledger; None without one.
        self._pending: dict[int, Aggregate] | None = None
        self._chunks: dict[int, Aggregate] = {}
        self.clear()

    @property
    def lock(self) -> threading.RLock:
        """Held by every read and write; a ledger sync holds it to take the hour parts."""
        return self._lock

    def clear(self) -> None:
        """Forget every call (the ledger keeps its own: windows are then memory-only)."""
        with self._lock:
            self._flush()  # calls not yet handed to the ledger still go to it
            self._history = None
            self._all = self.new_all()
            # Hour index -> its part, for windows longer than an hour (without a History).
            self._hours: dict[int, Aggregate] = {}
            self._long: dict[str, _WindowState] = {}
            # minute -> (requests in its buckets, its point): past minutes rarely change.
            self._trend_points: dict[int, tuple[int, TrendPoint]] = {}
            self._buckets: dict[int, Aggregate] = {}
            self._max_bucket: int | None = None
            self._windows: dict[str, _WindowState] = {}
            # id() of buckets a window build is reading outside the lock -> number of builds.
            self._borrowed: dict[int, int] = {}
            self._top_flagged: list[tuple[tuple[int, int, float, int], _FlagRecord]] = []
            self._flagged: deque[_FlagRecord] = deque(maxlen=self._recent_flagged_cap)
            self._errors: deque[_ErrorRecord] = deque(maxlen=self._recent_errors_cap)
            self._seq = 0
            # Calls not yet in the aggregates above, by bucket: flushed before any read.
            self._chunks = {}
            self._chunked = 0
            # catalog entry -> what priced its latest call (its list rates, for cost accuracy)
            self._prices: dict[str, Any] = {}

    def new_all(self) -> Aggregate:
        """An empty all-time aggregate (the policy "all" has)."""
        return Aggregate(max_sessions=self.max_sessions, lru_sessions=True)

    # -- ingest ---------------------------------------------------------------------------------

    def add(self, call: LLMCall) -> None:
        """Add one call (its time is ``call.end_ns``): O(1)."""
        f = CallFacts.of(call)
        with self._lock:
            self._seq += 1
            cost = call.cost
            if cost is not None and cost.catalog_entry is not None:
                self._know_price(cost)
            idx = f.end_ns // _BUCKET_NS
            chunk = self._chunks.get(idx)
            if chunk is None:
                if idx not in self._buckets:
                    self._new_bucket(idx)  # none when older than any 10-second window
                chunk = self._chunks[idx] = Aggregate(bounded=False, max_sessions=None,
                                                      lru_sessions=True)
            # One aggregate per call instead of "all", its bucket, its hour and each open
            # window; they take the chunk whole (cost: its distinct keys, not its calls).
            chunk.add(call, f)
            self._chunked += 1
            if self._chunked >= _CHUNK_CALLS:
                self._flush()
            if call.flagged:
                self._add_flagged(_flag_record(call, self._seq))
            if f.is_error:
                self._errors.append(_error_record(call, self._seq))

    def _know_price(self, cost: CallCost) -> None:
        prices = self._prices
        known = prices.get(cost.catalog_entry)  # type: ignore[arg-type]
        if known is not cost.rates and (known is not None or len(prices) < _MAX_PRICES):
            prices[cost.catalog_entry] = cost.rates  # type: ignore[index]  # new, or refreshed

    def know_prices(self, costs: Iterable[CallCost]) -> None:
        """Remember what priced calls read back from a ledger (cost accuracy shows their list
        rates)."""
        with self._lock:
            for cost in costs:
                if cost.catalog_entry is not None and cost.rates is not None:
                    self._know_price(cost)

    def _flush(self) -> None:
        """Put the calls held in chunks into "all", their buckets and hours, the open windows
        and the parts the ledger has yet to take."""
        if not self._chunks:
            return
        borrowed = self._borrowed
        for idx, chunk in self._chunks.items():
            self._all.merge(chunk)
            bucket = self._buckets.get(idx)
            if bucket is not None:
                if borrowed and id(bucket) in borrowed:
                    # A window is being built from this bucket outside the lock: it keeps the
                    # object it read, the bucket goes on in a copy.
                    bucket = self._buckets[idx] = _copy(bucket)
                exact = bucket.merge(chunk)
                for name, state in list(self._windows.items()):
                    if state.lo <= idx < state.hi:
                        if exact:
                            state.agg.merge(chunk)
                        else:  # the bucket capped some keys: rebuilt from buckets on next read
                            del self._windows[name]
            hour = idx // _BUCKETS_PER_HOUR
            if self._pending is not None:
                part = self._pending.get(hour)
                if part is None:
                    part = self._pending[hour] = hour_part()
                part.merge(chunk)
            if self._history is None:
                self._hour(hour).merge(chunk)
            # A long window takes the chunk as is, even where its hour capped a table: it is
            # built again from the hours when the next hour starts.
            for state in self._long.values():
                if state.lo <= hour < state.hi:
                    state.agg.merge(chunk)
        self._chunks.clear()
        self._chunked = 0

    def _hour(self, hour: int) -> Aggregate:
        part = self._hours.get(hour)
        if part is None:
            part = self._hours[hour] = hour_part()
            if self.retain_hours is not None:
                floor = max(self._hours) - self.retain_hours
                for old in [h for h in self._hours if h <= floor]:
                    del self._hours[old]
        return part

    def _new_bucket(self, idx: int) -> Aggregate | None:
        newest = self._max_bucket
        if newest is not None and idx <= newest - _KEEP_BUCKETS:
            return None  # older than any window: counted in "all" only
        bucket = Aggregate()
        if newest is None or idx > newest:
            self._max_bucket = idx
            floor = idx - _KEEP_BUCKETS
            expired = [i for i in self._buckets if i <= floor]
            if expired:
                self._flush()  # before a bucket a chunk would go to expires
            for old in expired:
                del self._buckets[old]
                for name, state in list(self._windows.items()):
                    if state.lo <= old < state.hi:
                        del self._windows[name]  # rebuilt on the next read
        self._buckets[idx] = bucket
        return bucket

    def _add_flagged(self, rec: _FlagRecord) -> None:
        self._flagged.append(rec)
        # A max-heap of the most urgent by inverting the key: the root is the least urgent.
        k = _triage_key(rec)
        item = ((-k[0], -k[1], -k[2], -k[3]), rec)
        if len(self._top_flagged) < self.max_flagged:
            heapq.heappush(self._top_flagged, item)  # type: ignore[arg-type]
        else:
            heapq.heappushpop(self._top_flagged, item)  # type: ignore[arg-type]

    # -- windows --------------------------------------------------------------------------------

    def _prepare_window(self, name: str, now: float) -> None:
        """Build a sliding window that has no usable state yet, without holding the lock.

        A first read merges every bucket the window covers (hundreds, at a million calls
        about a second of work): ingest must not wait for it. The buckets are read from a
        snapshot taken under the lock; calls that arrive meanwhile land in copies of the
        buckets they change, and those differences are folded in under the lock at the end.
        """
        seconds = _window_seconds(name)
        if seconds is None or seconds > HOUR_SECONDS:  # "all", or made of hours
            return
        lo, hi = _bucket_range(seconds, now)
        with self._lock:
            self._flush()
            if _usable(self._windows.get(name), lo, hi):
                return
            snapshot = {i: b for i, b in self._buckets.items() if lo <= i < hi}
            borrowed = self._borrowed
            for b in snapshot.values():
                borrowed[id(b)] = borrowed.get(id(b), 0) + 1
        agg = Aggregate.unbounded()
        try:
            for b in snapshot.values():
                agg.merge(b)
        except BaseException:
            with self._lock:
                self._give_back(snapshot.values())
            raise
        with self._lock:
            self._flush()  # while still borrowed: pending calls go to copies too
            current = {i: b for i, b in self._buckets.items() if lo <= i < hi}
            for i in snapshot.keys() | current.keys():
                old, new = snapshot.get(i), current.get(i)
                if old is new:
                    continue
                if old is not None:
                    agg.subtract(old)
                if new is not None:
                    agg.merge(new)
            self._windows[name] = _WindowState(lo, hi, agg)
            self._give_back(snapshot.values())

    def _give_back(self, buckets: Iterable[Aggregate]) -> None:
        """End a build's read of ``buckets``: ingest may change them in place again."""
        borrowed = self._borrowed
        for b in buckets:
            left = borrowed.get(id(b), 0) - 1
            if left > 0:
                borrowed[id(b)] = left
            else:
                borrowed.pop(id(b), None)

    def _window(self, name: str,
                now: float) -> tuple[Aggregate, list[Aggregate] | None, int | None]:
        """The aggregate of a window, the buckets in it (None: its extremes are exact), and its
        first instant (ns)."""
        seconds = _window_seconds(name)
        if seconds is None:
            return self._all, None, None
        if seconds > HOUR_SECONDS:
            return self._hours_window(name, seconds, now)
        lo, hi = _bucket_range(seconds, now)
        state = self._windows.get(name)
        if state is None or not _usable(state, lo, hi):
            agg = Aggregate.unbounded()
            for i, b in self._buckets.items():
                if lo <= i < hi:
                    agg.merge(b)
            state = self._windows[name] = _WindowState(lo, hi, agg)
        else:
            for i in range(state.hi, hi):
                entered = self._buckets.get(i)
                if entered is not None:
                    state.agg.merge(entered)
            for i in range(state.lo, lo):
                left = self._buckets.get(i)
                if left is not None:
                    state.agg.subtract(left)
            state.lo, state.hi = lo, hi
        buckets = [b for i, b in self._buckets.items() if lo <= i < hi]
        return state.agg, buckets, lo * _BUCKET_NS

    def _hours_window(self, name: str, seconds: int,
                      now: float) -> tuple[Aggregate, None, int]:
        """A window of whole hours, rebuilt when an hour starts; new calls merge into it, so it
        never subtracts (its extremes stay exact)."""
        lo = math.ceil((now - seconds) / HOUR_SECONDS)
        hi = math.floor(now / HOUR_SECONDS) + 1
        state = self._long.get(name)
        if state is None or (state.lo, state.hi) != (lo, hi):
            # Sessions as "all" keeps them: the most recently seen (a month holds millions).
            agg = Aggregate(bounded=False, max_sessions=self.max_sessions, lru_sessions=True)
            parts: list[Aggregate] = []
            if self._history is not None:
                parts += self._history.hours(lo, hi)
                mine = self._pending or {}
            else:
                mine = self._hours
            parts += [mine[h] for h in sorted(mine) if lo <= h < hi]
            merge_parts(agg, parts)
            state = self._long[name] = _WindowState(lo, hi, agg)
        return state.agg, None, lo * _HOUR_NS

    # -- a ledger behind the windows ------------------------------------------------------------

    def attach_history(self, history: History) -> None:
        """Answer long windows from ``history`` plus the hour parts it has not taken yet (see
        ``take_hours``); memory keeps no hour parts of its own from now on."""
        with self._lock:
            self._flush()
            self._history = history
            if self._pending is None:
                self._pending = {}
            self._hours.clear()
            self._long.clear()

    def history_changed(self) -> None:
        """The history behind long windows took calls: build them again on their next read."""
        with self._lock:
            self._flush()
            self._long.clear()

    def take_hours(self) -> dict[int, Aggregate]:
        """The hour parts of the calls added since the last take (for the ledger's rows)."""
        with self._lock:
            self._flush()
            parts = self._pending or {}
            if self._pending is not None:
                self._pending = {}
            return parts

    def return_hours(self, parts: dict[int, Aggregate]) -> None:
        """Give back parts a failed ledger write could not keep."""
        with self._lock:
            if self._pending is None:
                return
            for hour, part in parts.items():
                mine = self._pending.get(hour)
                if mine is None:
                    self._pending[hour] = part
                else:
                    mine.merge(part)

    def seed(self, all_time: Aggregate, recent: Iterable[LLMCall], flagged: Iterable[LLMCall],
             errors: Iterable[LLMCall]) -> None:
        """Start from a ledger: ``all_time`` becomes "all"; the ``recent`` calls (the last
        hour, in end order) fill the 10-second buckets, and the ``flagged`` and failed calls
        (oldest first) the triage lists. None of them is counted twice."""
        with self._lock:
            self._flush()
            if self._all.total.requests:
                self._all.merge(all_time)
            else:
                self._all = all_time
            for call in recent:
                f = CallFacts.of(call)
                idx = f.end_ns // _BUCKET_NS
                bucket = self._buckets.get(idx) or self._new_bucket(idx)
                if bucket is not None:
                    bucket.add(call, f)
            self._windows.clear()
            self._trend_points.clear()
            for call in flagged:
                self._seq += 1
                self._add_flagged(_flag_record(call, self._seq))
            for call in errors:
                self._seq += 1
                self._errors.append(_error_record(call, self._seq))

    def reseed_all(self, all_time: Aggregate) -> None:
        """Replace "all" (after the ledger pruned old calls) and rebuild long windows."""
        with self._lock:
            self._flush()
            self._all = all_time
            self._long.clear()

    # -- reading --------------------------------------------------------------------------------

    def last_call_time(self) -> float | None:
        """Unix seconds of the latest call seen (by end time), or None."""
        with self._lock:
            self._flush()
            last = self._all.last_ns
            return None if last is None else last / 1e9

    def document(
        self,
        window: str = "all",
        *,
        now: float,
        stats: _Stats | None = None,
        pricing: _Pricing | None = None,
        source: str = "",
    ) -> ExportDocument:
        """Every rollup of ``window`` ending at ``now`` (unix seconds) as an export document."""
        self._prepare_window(window, now)
        with self._lock:
            self._flush()
            agg, buckets, start_ns = self._window(window, now)
            if buckets is not None:
                agg.refresh_extremes(buckets)
            start = _dt(start_ns) if start_ns is not None else _dt(agg.first_ns)
            return ExportDocument(
                generated_at=datetime.fromtimestamp(now, UTC),
                window=WindowInfo(name=window, start=start,
                                  end=datetime.fromtimestamp(now, UTC)),
                source=source,
                pricing=_pricing(pricing),
                summary=self._summary(agg, stats),
                models=_models(agg),
                routes=_routes(agg),
                sessions=self._sessions(agg, start_ns),
                sessions_truncated=len(agg.sessions) > self.max_sessions_listed,
                errors=self._errors_rollup(agg, start_ns),
                signals=self._signals(agg, start_ns),
                cost_accuracy=self._cost_accuracy(agg),
            )

    def cost_accuracy(self, window: str = "all", *, now: float) -> CostAccuracy:
        """Reported cost against list price per provider and model over ``window`` (for the
        console's panel: cheaper than a whole document)."""
        with self._lock:
            self._flush()
            agg, _buckets, _start = self._window(window, now)
            return self._cost_accuracy(agg)

    def _cost_accuracy(self, agg: Aggregate) -> CostAccuracy:
        rows = [(model, provider, st.check, st.entries)
                for (model, provider), st in agg.models.items() if st.check is not None]
        return cost_accuracy(rows, self._prices)

    def trend(self, now: float, minutes: int = 30) -> list[TrendPoint]:
        """Per-minute requests, errors, p95 latency and cost of the last ``minutes``."""
        per_minute = 60 // BUCKET_SECONDS
        last_minute = math.floor(now / 60)
        points = []
        cache = self._trend_points
        with self._lock:
            self._flush()
            first = last_minute - minutes + 1
            for m in range(first, last_minute + 1):
                buckets = [b for i in range(m * per_minute, (m + 1) * per_minute)
                           if (b := self._buckets.get(i)) is not None]
                # Buckets only grow (or expire), so an unchanged request count means an
                # unchanged minute; a late call or an expired bucket recomputes it.
                requests = sum(b.total.requests for b in buckets)
                cached = cache.get(m)
                if cached is not None and cached[0] == requests:
                    points.append(cached[1])
                    continue
                total = Stats()
                for b in buckets:
                    total.merge(b.total)
                p95 = total.latency.quantiles((0.95,))[0]
                point = TrendPoint(
                    start=datetime.fromtimestamp(m * 60, UTC), requests=total.requests,
                    errors=total.errors, p95_latency_ms=_round(p95, 3),
                    cost_usd=_cost(total.cost()))
                cache[m] = (requests, point)
                points.append(point)
            for m in [k for k in cache if k < first]:
                del cache[m]
        return points

    def _summary(self, agg: Aggregate, stats: _Stats | None) -> Summary:
        t = agg.total
        # Tables that evicted sessions (all-time, hours, days) count them: distinct sessions
        # within each table, summed.
        sessions = len(agg.sessions) + agg.sessions_evicted
        return Summary(
            requests=t.requests,
            errors=t.errors,
            errors_4xx=agg.errors_4xx,
            errors_5xx=agg.errors_5xx,
            errors_other=t.errors - agg.errors_4xx - agg.errors_5xx,
            error_rate=_round(t.errors / t.requests, 6) if t.requests else None,
            rejected_spans=None if stats is None else stats.rejected_spans,
            evicted_calls=None if stats is None else stats.evicted_calls,
            input_tokens=t.token(0),
            output_tokens=t.token(1),
            cached_input_tokens=t.token(2),
            cache_creation_tokens=t.token(3),
            reasoning_tokens=t.token(4),
            cost_usd=_cost(t.cost()),
            priced_requests=t.priced,
            unpriced_requests=t.unpriced,
            no_usage_requests=t.no_usage,
            ambiguous_requests=t.ambiguous,
            latency_ms=_percentiles(t.latency, t.latency_max),
            ttft_ms=_percentiles(t.ttft, t.ttft_max),
            tokens_per_second=_round(t.tokens_per_second(), 3),
            sessions=sessions,
            current_session=agg.last_session,
            flagged=t.flagged,
            first_call_at=_dt(agg.first_ns),
            last_call_at=_dt(agg.last_ns),
        )

    def _sessions(self, agg: Aggregate, start_ns: int | None) -> list[SessionRollup]:
        newest = heapq.nlargest(self.max_sessions_listed, agg.sessions.items(),
                                key=lambda kv: kv[1].last_ns or 0)
        known = self._all.sessions
        return [_session_row(sid, st, known.get(sid), start_ns) for sid, st in newest]

    def _errors_rollup(self, agg: Aggregate, start_ns: int | None) -> ErrorsRollup:
        t = agg.total
        recent = [e for e in self._errors if start_ns is None or e.end_ns >= start_ns]
        recent.sort(key=lambda e: (e.end_ns, e.seq), reverse=True)
        entries = [_error_entry(e) for e in recent[:20]]
        by_model: dict[str, int] = {}
        for (model, _provider), st in agg.models.items():
            if st.errors:
                key = model or "unknown"
                by_model[key] = by_model.get(key, 0) + st.errors
        return ErrorsRollup(
            total=t.errors,
            errors_4xx=agg.errors_4xx,
            errors_5xx=agg.errors_5xx,
            errors_other=t.errors - agg.errors_4xx - agg.errors_5xx,
            error_rate=_round(t.errors / t.requests, 6) if t.requests else None,
            by_status=dict(sorted(agg.errors_by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
            by_model=dict(sorted(by_model.items(), key=lambda kv: (-kv[1], kv[0]))),
            most_recent=entries[0] if entries else None,
            recent=entries,
        )

    def _signals(self, agg: Aggregate, start_ns: int | None) -> SignalsRollup:
        if start_ns is None:
            ranked = sorted((rec for _, rec in self._top_flagged), key=_triage_key)
        else:
            ranked = heapq.nsmallest(
                self.max_flagged, (r for r in self._flagged if r.end_ns >= start_ns),
                key=_triage_key)
        by_quality = {q: agg.by_quality[q] for q in QUALITY_ORDER if agg.by_quality.get(q)}
        for q, n in sorted(agg.by_quality.items()):
            if q not in by_quality:
                by_quality[q] = n
        by_layer: dict[str, int] = {}
        for name, n in agg.category_instances.items():
            layer = name.split(".", 1)[0]
            by_layer[layer] = by_layer.get(layer, 0) + n
        return SignalsRollup(
            flagged=agg.total.flagged,
            analysed=agg.analysed,
            by_quality=by_quality,
            by_category={
                name: CategoryCount(calls=n, instances=agg.category_instances.get(name, 0))
                for name, n in sorted(agg.category_calls.items(), key=lambda kv: (-kv[1], kv[0]))
            },
            by_layer=dict(sorted(by_layer.items(), key=lambda kv: (-kv[1], kv[0]))),
            by_type=dict(sorted(agg.by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
            flagged_calls=[_flagged_call(r) for r in ranked],
        )


def _window_seconds(name: str) -> int | None:
    """Length of a window in seconds (None for all); unknown names raise."""
    seconds = WINDOW_SECONDS.get(name, -1)
    if seconds == -1:
        raise UnknownWindowError(
            f"unknown window {name!r}; use one of {', '.join(WINDOW_SECONDS)}")
    return seconds


def _bucket_range(seconds: int, now: float) -> tuple[int, int]:
    """[lo, hi) bucket indexes of a window of ``seconds`` ending at ``now``."""
    lo = math.ceil((now - seconds) / BUCKET_SECONDS)
    hi = math.floor(now / BUCKET_SECONDS) + 1  # calls after now's bucket are not in it
    return lo, hi


def _usable(state: _WindowState | None, lo: int, hi: int) -> bool:
    """True when ``state`` can slide to [lo, hi) by adding and removing a few buckets."""
    return state is not None and not (lo < state.lo or hi < state.hi or lo >= state.hi)


def _copy(bucket: Aggregate) -> Aggregate:
    """A bucket's twin that can take more calls while the original is being read."""
    twin = Aggregate(max_sessions=bucket.max_sessions, lru_sessions=bucket.lru_sessions)
    twin.merge(bucket)
    return twin


def _pricing(pricing: _Pricing | None) -> PricingSummary:
    if pricing is None:
        return PricingSummary()
    return PricingSummary(source=pricing.source, fetched_at=pricing.fetched_at,
                          models=pricing.models)


def _stats_fields(st: Stats) -> dict[str, Any]:
    return dict(
        input_tokens=st.token(0),
        output_tokens=st.token(1),
        cached_input_tokens=st.token(2),
        cache_creation_tokens=st.token(3),
        reasoning_tokens=st.token(4),
    )


def _by_requests(items: Iterable[tuple[Any, Stats]]) -> list[tuple[Any, Stats]]:
    return sorted(items, key=lambda kv: (-kv[1].requests, str(kv[0])))


def _models(agg: Aggregate) -> list[ModelRollup]:
    total = agg.total.requests
    return [
        ModelRollup(
            model=model, provider=provider, requests=st.requests,
            share_pct=_pct(st.requests, total), errors=st.errors, **_stats_fields(st),
            cost_usd=_cost(st.cost()), priced_requests=st.priced, unpriced_requests=st.unpriced,
            ambiguous_requests=st.ambiguous, pricing_entry=main_entry(st.entries),
            latency_ms=_percentiles(st.latency, st.latency_max),
            ttft_ms=_percentiles(st.ttft, st.ttft_max),
            tokens_per_second=_round(st.tokens_per_second(), 3), flagged=st.flagged,
        )
        for (model, provider), st in _by_requests(agg.models.items())
    ]


def _routes(agg: Aggregate) -> list[RouteRollup]:
    total = agg.total.requests
    routed = sum(st.requests for r, st in agg.routes.items() if r is not None)
    return [
        RouteRollup(
            route=route, direct=route is None, requests=st.requests,
            share_pct=None if route is None else _pct(st.requests, routed),
            share_of_all_pct=_pct(st.requests, total), errors=st.errors,
            cost_usd=_cost(st.cost()), priced_requests=st.priced, unpriced_requests=st.unpriced,
            latency_ms=_percentiles(st.latency, st.latency_max), flagged=st.flagged,
        )
        for route, st in _by_requests(agg.routes.items())
    ]


def _session_row(
    sid: str, st: SessionStats, overall: SessionStats | None, start_ns: int | None
) -> SessionRollup:
    # Sliding windows cannot keep a session's first call exact; the all-time table can.
    if overall is not None:
        first, last = overall.first_ns, overall.last_ns
    else:
        first, last = st.first_ns, st.last_ns
        if first is not None and start_ns is not None:
            first = max(first, start_ns)
    models = sorted(st.models.items(), key=lambda kv: (-kv[1], kv[0]))
    return SessionRollup(
        session_id=sid, turns=st.turns, models=[m for m, _ in models],
        cost_usd=_cost(st.cost()), priced_requests=st.priced,
        unpriced_requests=st.unpriced, errors=st.errors, flagged=st.flagged,
        first_seen=_dt(first), last_seen=_dt(last),
    )


def _error_entry(e: _ErrorRecord) -> ErrorEntry:
    reason = None
    if e.status_code is not None:
        try:
            reason = HTTPStatus(e.status_code).phrase
        except ValueError:
            reason = None
    return ErrorEntry(
        status_code=e.status_code, reason=reason, model=e.model, provider=e.provider,
        route=e.route, request_id=e.request_id, trace_id=e.trace_id, span_id=e.span_id,
        session_id=e.session_id, at=_dt(e.end_ns), error_type=e.error_type,  # type: ignore[arg-type]
        error_message=e.error_message,
    )


def _flagged_call(r: _FlagRecord) -> FlaggedCall:
    return FlaggedCall(
        trace_id=r.trace_id, span_id=r.span_id, request_id=r.request_id, model=r.model,
        provider=r.provider, route=r.route, session_id=r.session_id, quality=r.quality,
        quality_score=r.quality_score, turn_count=r.turn_count, max_severity=r.max_severity,
        categories=[FlaggedCategory(name=n, count=c, severity=v) for n, c, v in r.categories],
        leaf_types=list(r.leaf_types), cost_usd=_cost(r.cost_usd), status_code=r.status_code,
        at=_dt(r.end_ns),  # type: ignore[arg-type]
    )

