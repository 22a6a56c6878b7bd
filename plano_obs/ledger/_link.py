"""Ties a ledger to the in-memory store and analytics of a running process.

At start it derives what a crash left underived, then seeds the analytics (all-time totals from
day rows, the last hour's 10-second buckets and the flagged and failed lists from raw calls) and
the store (recent calls, span keys an exporter may retry), so the console comes back where it
was. While running, the store hands it each request's calls before the exporter is answered
(one transaction per request); a background thread folds the analytics' hour parts into the
derived rows every few seconds and prunes what retention no longer keeps.

A failure of the file never stops ingest: the link says why in one line, stops writing, and
the process carries on in memory only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from plano_obs.analytics import Aggregate, CallFacts, merge_parts
from plano_obs.ingest.store import Unavailable
from plano_obs.ledger._ledger import Ledger, LedgerError
from plano_obs.ledger._prune import PruneReport, prune
from plano_obs.ledger._rollups import DAY_NS, HOUR_NS, Rollups
from plano_obs.model import LLMCall, SpanRecord

__all__ = ["LedgerLink", "LedgerStatus"]

log = logging.getLogger("plano_obs.ledger")

#: Calls of the last hour (and a little more) are read back into the 10-second buckets.
_RECENT_BUCKETS_S = 3600 + 30
#: How often the analytics' hour parts are folded into the derived rows. Each fold rewrites the
#: current hour's and day's rows whole, so it costs the same at any traffic: rarer is cheaper.
#: Calls written since the last fold are derived from the raw rows when the ledger next opens
#: (after a crash) or read raw by other readers, so nothing waits on it.
SYNC_INTERVAL_S = 10.0
#: Sessions a --since/--until range keeps, the most recently seen (as "all" does).
_RANGE_SESSIONS = 10_000
RETENTION_INTERVAL_S = 60.0


class _Store(Protocol):
    @property
    def lock(self) -> Any: ...

    def seed(self, calls: Sequence[LLMCall], keys: Sequence[str]) -> None: ...

    def hold(self, calls: Sequence[LLMCall]) -> None: ...


class _Analytics(Protocol):
    @property
    def lock(self) -> Any: ...

    def seed(self, all_time: Aggregate, recent: Sequence[LLMCall],
             flagged: Sequence[LLMCall], errors: Sequence[LLMCall]) -> None: ...

    def take_hours(self) -> dict[int, Aggregate]: ...

    def add(self, call: LLMCall) -> None: ...

    def return_hours(self, parts: dict[int, Aggregate]) -> None: ...

    def attach_history(self, history: Any) -> None: ...

    def reseed_all(self, all_time: Aggregate) -> None: ...

    def new_all(self) -> Aggregate: ...

    def know_prices(self, costs: Any) -> None: ...

    def history_changed(self) -> None: ...


class _Pricer(Protocol):
    def price(self, call: LLMCall) -> Any: ...


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    """What the header says about the ledger."""

    path: str
    calls: int
    first_ns: int | None
    last_ns: int | None
    pruned_calls: int = 0
    error: str | None = None  # set once the ledger failed: the process is memory-only
    #: A shared database that cannot be reached since then (unix seconds); the view is the
    #: last one read, and writes are refused (retryable) until it is back.
    unreachable_since: float | None = None
    #: Why it cannot be reached, in one line.
    unreachable: str | None = None


class LedgerLink:
    """One process's use of one ledger: seeding, writing, deriving, pruning."""

    def __init__(self, ledger: Ledger, *, retain_s: float | None = 30 * 86400,
                 max_bytes: int | None = None, pricer: _Pricer | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.rollups = Rollups(ledger)
        self.retain_s = retain_s
        self.max_bytes = max_bytes
        self.pricer = pricer
        self.clock = clock
        self.error: str | None = None
        self._store: _Store | None = None
        self._analytics: _Analytics | None = None
        self._last_id = 0
        self._calls = 0
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self._pruned = 0
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._status_lock = threading.Lock()
        #: Many processes write the ledger: derived rows come from the database's calls, and
        #: this process's views from what it polls (its own calls included).
        self.fleet = ledger.shared and not ledger.readonly
        self.sync_interval_s = SYNC_INTERVAL_S
        #: Whether this process shows what the ledger holds (a headless receiver does not:
        #: it only writes, and derives its share).
        self.views = True
        self._hours_read: dict[tuple[int, int], list[Aggregate]] = {}
        self._polled = 0  # the position up to which this process's views hold every call
        self._unreachable_since: float | None = None
        self._unreachable: str | None = None

    # -- start --------------------------------------------------------------------------------

    def attach(self, store: _Store | None, analytics: _Analytics, *, recent_calls: int,
               recent_keys: int, flagged: int, errors: int) -> None:
        """Derive what is underived, seed ``analytics`` and ``store``, and (unless the ledger
        is read-only) start writing to it.

        Read-only (another process may be writing), the derived rows are read as of one
        snapshot, which this thread keeps until ``stop``, and the calls written after them are
        added to ``analytics`` one by one.
        """
        ledger = self.ledger
        fleet = self.fleet
        try:
            if not ledger.readonly:
                self.rollups.derive_tail()
            else:
                ledger.begin_snapshot()
            with ledger.snapshot():
                through = self.rollups.derived_through()
                now_ns = int(self.clock() * 1e9)
                all_time = analytics.new_all()
                self.rollups.all_time(all_time)
                last_hour = list(ledger.calls_in(now_ns - int(_RECENT_BUCKETS_S * 1e9)))
                recent = [c for i, c in last_hour if i <= through]
                kept_flagged = list(reversed(ledger.kept_calls(1, flagged, max_id=through)))
                kept_errors = list(reversed(ledger.kept_calls(2, errors, max_id=through)))
                # Sharing a database, calls after the derived rows reach the views when they
                # are derived (``poll``); alone, they are added now.
                tail_rows = [] if fleet else list(ledger.calls_after(through))
                tail = [c for _, c in tail_rows]
                if fleet:  # positions there are transactions, not one per call
                    newest = list(reversed(ledger.recent_calls(recent_calls, through=through))) \
                        if recent_calls else []
                else:
                    newest = self._newest(recent_calls, last_hour, tail_rows)
                keys = ledger.span_keys(recent_keys) if recent_keys else []
                first, last = ledger.time_span()
                self._calls = self.rollups.calls_held()
                self._last_id = ledger.last_id()
                self._pruned = int(ledger.meta_sum("prunes", "calls"))
                kinds = ledger.call_kinds() if self.pricer is not None else []
        except LedgerError as e:
            self._fail(str(e))
            return
        self._polled = through
        self._first_ns, self._last_ns = first, last
        analytics.seed(all_time, recent, kept_flagged, kept_errors)
        if self.pricer is not None:
            analytics.know_prices(self.pricer.price(c) for c in kinds)
        analytics.attach_history(self)
        for call in tail:
            analytics.add(call)
        if store is not None:
            store.seed(newest, keys)
        self._store, self._analytics = store, analytics

    def _newest(self, n: int, *read: list[tuple[int, LLMCall]]) -> list[LLMCall]:
        """The newest ``n`` calls by arrival, oldest first: taken from calls already read when
        they hold every call from the n-th newest on (the usual case: they are the last hour),
        else read."""
        if n <= 0:
            return []
        pool = {i: c for rows in read for i, c in rows}
        if len(pool) >= n:
            ids = sorted(pool)[-n:]
            if self.ledger.calls_from(ids[0]) == n:
                return [pool[i] for i in ids]
        return list(reversed(self.ledger.recent_calls(n)))

    def start(self) -> None:
        """Sync derived rows and apply retention in the background."""
        if self.error is not None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="plano-obs-ledger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """A last sync, then close the file (windows then only count what memory holds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.error is None:
            self.sync()
        self._closed = True
        self.ledger.close()

    def _run(self) -> None:
        next_retention = 0.0
        while not self._stop.wait(self.sync_interval_s):
            if self.error is not None:
                return
            self.sync()
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + RETENTION_INTERVAL_S
                self.apply_retention()

    # -- the store's sink ---------------------------------------------------------------------

    def write(self, calls: Sequence[LLMCall], spans: Sequence[SpanRecord | LLMCall]) -> None:
        """Write one request's calls (and kept spans) in one transaction, before its reply."""
        if self.error is not None or not (calls or spans):
            return
        try:
            added = self.ledger.write(calls, spans)
        except LedgerError as e:
            if self.fleet:  # the database comes back: the exporter retries meanwhile
                self._lost(str(e))
                raise Unavailable(str(e)) from None
            self._fail(str(e))
            return
        if self.fleet:
            self._reached()
        if calls:
            self._last_id = self.ledger.last_written
            with self._status_lock:
                self._calls += added
                ends = [c.end_ns for c in calls]
                lo, hi = min(ends), max(ends)
                if self._first_ns is None or lo < self._first_ns:
                    self._first_ns = lo
                if self._last_ns is None or hi > self._last_ns:
                    self._last_ns = hi

    def _fail(self, message: str) -> None:
        if self.fleet and self._analytics is not None:  # running: the database comes back
            self._lost(message)
            return
        if self.error is None:
            self.error = message
            log.warning("%s; continuing in memory only", message)

    # -- derived rows -------------------------------------------------------------------------

    def _lost(self, message: str) -> None:
        with self._status_lock:
            if self._unreachable_since is None:
                self._unreachable_since = self.clock()
                log.warning("%s; retrying", message)
            self._unreachable = message

    def _reached(self) -> None:
        if self._unreachable_since is not None:
            with self._status_lock:
                if self._unreachable_since is not None:
                    log.warning("ledger %s: reachable again", self.ledger.path)
                self._unreachable_since = self._unreachable = None

    def sync(self) -> None:
        """Fold the analytics' hour parts into the derived rows (no ingest meanwhile, so the
        rows then hold exactly the calls written). Sharing the database: derive what every
        writer finished, then poll it into this process's views."""
        if self.fleet:
            if self.error is None and not self._closed:
                try:
                    self.rollups.derive_shared()
                    if self.views:
                        self.poll()
                    else:
                        held = self.rollups.calls_held()
                        with self._status_lock:
                            self._calls = held
                except LedgerError as e:
                    self._lost(str(e))
                else:
                    self._reached()
            return
        store, analytics = self._store, self._analytics
        if store is None or analytics is None or self.error is not None or \
                self.ledger.readonly:
            return
        with store.lock, analytics.lock:
            parts = analytics.take_hours()
            if not parts:
                return
            try:
                self.rollups.apply(parts, self._last_id)
            except LedgerError as e:
                analytics.return_hours(parts)
                self._fail(str(e))

    def poll(self) -> int:
        """Add the calls derived since the last poll to the analytics and the store (every
        process's, this one's included); returns how many."""
        store, analytics, ledger = self._store, self._analytics, self.ledger
        with ledger.snapshot():
            through = self.rollups.derived_through()
            if through <= self._polled:
                return 0
            calls = [c for _, c in ledger.calls_after(self._polled, through=through)]
            held = self.rollups.calls_held()
            first, last = ledger.time_span()
        if analytics is not None:
            with analytics.lock:
                for call in calls:
                    analytics.add(call)
                if self.pricer is not None:
                    # Calls read back carry no list rates: today's, for cost accuracy, as
                    # a process that priced them itself would show.
                    kinds = {(c.model, c.model_requested, c.provider, c.api_path): c
                             for c in calls}
                    analytics.know_prices(self.pricer.price(c) for c in kinds.values())
                # The derived rows hold these calls now: long windows read them from there.
                analytics.take_hours()
                analytics.history_changed()
        if store is not None:
            store.hold(calls)
        self._polled = through
        with self._status_lock:
            self._calls, self._first_ns, self._last_ns = held, first, last
        return len(calls)

    def hours(self, lo: int, hi: int) -> list[Aggregate]:
        """The derived rows of hours ``[lo, hi)``, oldest first (the analytics' history)."""
        if self.error is not None or self._closed:
            return []
        try:
            rows = self.rollups.hours(lo, hi)
        except LedgerError as e:
            if self.fleet:  # the last rows read for these hours, while the database is away
                self._lost(str(e))
                return self._hours_read.get((lo, hi), [])
            self._fail(str(e))
            return []
        if self.fleet:
            self._hours_read = {(lo, hi): rows, **{
                k: v for k, v in list(self._hours_read.items())[-3:] if k != (lo, hi)}}
        return rows

    def range_aggregate(self, lo_ns: int, hi_ns: int) -> Aggregate:
        """Every call that ended in ``[lo_ns, hi_ns)``: whole hours from the derived rows, the
        rest (and calls not derived yet) from the raw calls."""
        rollups, ledger = self.rollups, self.ledger
        total = Aggregate(bounded=False, max_sessions=_RANGE_SESSIONS, lru_sessions=True)
        h_lo, h_hi = -(-lo_ns // HOUR_NS), hi_ns // HOUR_NS
        with ledger.snapshot():
            through = rollups.derived_through()
            edges = [(lo_ns, hi_ns)]
            if h_lo < h_hi:
                merge_parts(total, rollups.hours(h_lo, h_hi))
                edges = [(lo_ns, h_lo * HOUR_NS), (h_hi * HOUR_NS, hi_ns)]
            for lo, hi in edges:
                for call_id, call in ledger.calls_in(lo, hi):
                    if call_id <= through:
                        total.add(call, CallFacts.of(call))
            for _, call in ledger.calls_after(through):
                if lo_ns <= call.end_ns < hi_ns:
                    total.add(call, CallFacts.of(call))
        return total

    # -- retention ----------------------------------------------------------------------------

    def apply_retention(self) -> PruneReport | None:
        """Prune whole UTC days older than the retention, then the oldest days while the
        ledger is above its size limit."""
        if self.error is not None:
            return None
        before_ns = None
        if self.retain_s is not None:
            cutoff = int((self.clock() - self.retain_s) * 1e9)
            before_ns = cutoff // DAY_NS * DAY_NS
        try:
            first, _ = self.ledger.time_span()
            if first is None:
                return None
            report = None
            if before_ns is not None and first < before_ns:
                report = self.prune(before_ns, f"retention {_age_text(self.retain_s)}")
            while self.max_bytes is not None and self.ledger.used_bytes() > self.max_bytes:
                first, last = self.ledger.time_span()
                if first is None or last is None or first // DAY_NS >= last // DAY_NS:
                    break  # never prune the day being written
                report = self.prune((first // DAY_NS + 1) * DAY_NS,
                                    f"size above {self.max_bytes // 1048576} MiB")
            return report
        except LedgerError as e:
            self._fail(str(e))
            return None

    def prune(self, before_ns: int, reason: str) -> PruneReport:
        """Delete calls that ended before ``before_ns`` (a whole hour) and their rows."""
        if before_ns % HOUR_NS:
            raise ValueError("the running ledger prunes whole hours")
        self.sync()
        report = prune(self.ledger, before_ns, reason, clock=self.clock)
        analytics = self._analytics
        if analytics is not None and report.calls:
            with analytics.lock:  # "all" is all the ledger holds
                all_time = analytics.new_all()
                self.rollups.all_time(all_time)
                pending = analytics.take_hours()
                for part in pending.values():
                    all_time.merge(part)
                analytics.return_hours(pending)
                analytics.reseed_all(all_time)
        with self._status_lock:
            self._calls -= report.calls
            self._pruned += report.calls
            self._first_ns, _ = self.ledger.time_span()
        return report

    # -- reading for the store ----------------------------------------------------------------

    def get_call(self, trace_id: str, span_id: str) -> LLMCall | None:
        """A call no longer (or not yet) in memory, with the rates that price it today when
        they give the same catalog cost (for the cost breakdown)."""
        if self.error is not None:
            return None
        try:
            call = self.ledger.get_call(trace_id, span_id)
        except LedgerError:
            return None
        if call is not None and self.pricer is not None and call.cost is not None:
            fresh = self.pricer.price(call)
            stored = call.cost.catalog_cost_usd
            if fresh.catalog_entry == call.cost.catalog_entry and stored is not None and \
                    fresh.catalog_cost_usd is not None and \
                    math.isclose(fresh.catalog_cost_usd, stored, rel_tol=1e-9, abs_tol=1e-9):
                call.cost.rates = fresh.rates
        return call

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """The stored spans of a trace."""
        if self.error is not None:
            return []
        try:
            return self.ledger.trace(trace_id)
        except LedgerError:
            return []

    def trace_calls(self, trace_id: str) -> list[LLMCall]:
        """The stored calls of a trace."""
        if self.error is not None:
            return []
        try:
            return self.ledger.trace_calls(trace_id)
        except LedgerError:
            return []

    # -- status -------------------------------------------------------------------------------

    def status(self) -> LedgerStatus:
        """Path, calls held, their time span, what was pruned, and the error if any."""
        with self._status_lock:
            return LedgerStatus(str(self.ledger.path), self._calls, self._first_ns,
                                self._last_ns, self._pruned, self.error,
                                self._unreachable_since, self._unreachable)


def _age_text(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
