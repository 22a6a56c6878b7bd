"""Derived rows: one serialized ``Aggregate`` per hour and per UTC day, rebuilt from raw calls.

The raw calls are the truth; these rows only make long windows fast (a 30-day window reads 30
day rows and the hours at its edges instead of millions of calls). ``ledger_meta``
``derived_through`` says which calls they hold: every call with ``id`` at most that. Calls
after it (written since the last sync, or before a crash) are derived again from their raw rows
when the ledger opens, so a killed process never leaves a row short.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from plano_obs.analytics import Aggregate, CallFacts, hour_part, merge_parts
from plano_obs.ledger._ledger import Ledger, LedgerError
from plano_obs.model import LLMCall

__all__ = ["HOUR_NS", "DAY_NS", "Rollups", "day_part"]

HOUR_NS = 3600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS
#: Sessions a day row tracks, the most recently seen (an hour row tracks what an in-memory
#: hour part does): a 30-day window reads thirty of them.
DAY_SESSIONS = 2_000
_HOURS_PER_DAY = 24
#: Rows kept read back in memory: a 30-day window's days and edge hours, and some to spare.
_CACHED_ROWS = 160


def day_part() -> Aggregate:
    """An empty day row."""
    return Aggregate(max_sessions=DAY_SESSIONS, lru_sessions=True)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What ``rebuild`` derived."""

    calls: int
    hours: int
    days: int


class Rollups:
    """The hour and day rows of one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        # (period, start) -> (calls, the row read back): rows only change by taking calls, so
        # an unchanged count is an unchanged row. Never handed out to be changed.
        self._cache: OrderedDict[tuple[int, int], tuple[int, Aggregate]] = OrderedDict()
        # The rows this process last wrote, as it wrote them: the next sync of the same hour
        # and day merges into them without reading them back.
        self._written: dict[tuple[int, int], tuple[int, Aggregate]] = {}

    # -- reading ------------------------------------------------------------------------------

    def derived_through(self, con: Any = None) -> int:
        """The position of the last call the rows hold (every call up to it is in them)."""
        con = con or self.ledger.reader()
        row = con.execute(
            "SELECT value FROM ledger_meta WHERE key = 'derived_through'").fetchone()
        return int(row[0]) if row else 0

    def _load(self, con: Any, period_s: int, lo_ns: int, hi_ns: int, *,
              cached: bool = True) -> list[tuple[int, Aggregate]]:
        """The rows of ``[lo_ns, hi_ns)``; ``cached`` ones are shared: read, never change."""
        rows = con.execute(
            "SELECT start_ns, calls FROM rollups WHERE period_s = ? AND start_ns >= ? "
            "AND start_ns < ? ORDER BY start_ns", (period_s, lo_ns, hi_ns)).fetchall()
        cache = self._cache
        out: list[tuple[int, Aggregate]] = []
        for start, calls in rows:
            hit = cache.get((period_s, start)) if cached else None
            if hit is not None and hit[0] == calls:
                cache.move_to_end((period_s, start))
                out.append((start, hit[1]))
                continue
            (state,) = con.execute("SELECT state FROM rollups WHERE period_s = ? AND "
                                   "start_ns = ?", (period_s, start)).fetchone()
            try:
                row = Aggregate.loads(state, **_policy(period_s))
            except ValueError as e:
                raise LedgerError(f"ledger {self.ledger.path}: a derived row is damaged ({e}); "
                                  f"run `plano obs ledger rebuild`") from None
            if cached:
                cache[(period_s, start)] = (calls, row)
                while len(cache) > _CACHED_ROWS:
                    cache.popitem(last=False)
            out.append((start, row))
        return out

    def hours(self, lo: int, hi: int) -> list[Aggregate]:
        """The rows that hold hours ``[lo, hi)`` (hour indexes since the epoch), oldest first:
        whole UTC days from day rows, the rest from hour rows. Shared: never change them."""
        lo_ns, hi_ns = lo * HOUR_NS, hi * HOUR_NS
        first_day = -(-lo_ns // DAY_NS)  # the first day that starts inside the range
        last_day = hi_ns // DAY_NS  # one past the last day that ends inside it
        try:
            con = self.ledger.reader()
            parts: list[Aggregate] = []
            if first_day <= last_day:
                parts += [a for _, a in self._load(con, 3600, lo_ns, first_day * DAY_NS)]
                parts += [a for _, a in self._load(con, 86400, first_day * DAY_NS,
                                                   last_day * DAY_NS)]
                parts += self._last_day(con, last_day, hi_ns)
            else:
                parts += [a for _, a in self._load(con, 3600, lo_ns, hi_ns)]
        except self.ledger.errors as e:
            raise self.ledger.error(e) from None
        return parts

    def _last_day(self, con: Any, day: int, hi_ns: int) -> list[Aggregate]:
        """The hours of ``day`` before ``hi_ns``: its day row when nothing of it comes later
        (the usual case: the range ends now), else its hour rows."""
        if hi_ns == day * DAY_NS:
            return []
        rows = self._load(con, 86400, day * DAY_NS, day * DAY_NS + 1)
        if rows and (rows[0][1].last_ns is None or rows[0][1].last_ns < hi_ns):
            return [rows[0][1]]
        return [a for _, a in self._load(con, 3600, day * DAY_NS, hi_ns)]

    def all_time(self, into: Aggregate) -> None:
        """Merge every day row into ``into``, oldest first. When ``into`` keeps at most N
        sessions (least recently seen evicted), the sessions of days older than the newest N
        are counted as evicted without being read."""
        try:
            days = [part for _, part in self._load(self.ledger.reader(), 86400, -(2**62),
                                                   2**62)]
        except self.ledger.errors as e:
            raise self.ledger.error(e) from None
        merge_parts(into, days)

    def calls_held(self) -> int:
        """Calls in the ledger: what the day rows count plus calls not derived yet."""
        pos = self.ledger.engine.position.removeprefix("c.")

        def count(con: Any) -> int:
            derived = con.execute(
                "SELECT coalesce(sum(calls), 0) FROM rollups WHERE period_s = 86400").fetchone()
            tail = con.execute(f"SELECT count(*) FROM calls WHERE {pos} > ?",
                               (self.derived_through(con),)).fetchone()
            return int(derived[0]) + int(tail[0])
        return int(self.ledger._read(count))

    # -- writing ------------------------------------------------------------------------------

    def apply(self, parts: dict[int, Aggregate], through_id: int, *,
              derived_from: int | None = None) -> bool:
        """Merge hour parts (hour index -> the calls added since the last apply) into the hour
        and day rows, and record that the rows now hold every call up to ``through_id``; one
        transaction. With ``derived_from``, only if the rows still hold calls up to exactly
        that (another process sharing the database may have derived them meanwhile): returns
        whether the parts were applied."""
        try:
            with self.ledger.transaction() as con:
                if derived_from is not None:
                    engine = self.ledger.shared_engine
                    if not engine.try_derive_lock(con) or \
                            self.derived_through(con) != derived_from:
                        return False  # nothing written: the empty transaction commits
                self._apply(con, parts, through_id)
                return True
        except BaseException:
            self._written.clear()  # they hold what did not commit
            raise

    def _apply(self, con: Any, parts: dict[int, Aggregate],
               through_id: int) -> None:
        days: dict[int, list[Aggregate]] = {}
        for hour, part in sorted(parts.items()):
            if part.total.requests:
                self._merge_row(con, 3600, hour * HOUR_NS, [part])
                days.setdefault(hour // _HOURS_PER_DAY, []).append(part)
        for day, day_parts in days.items():
            self._merge_row(con, 86400, day * DAY_NS, day_parts)
        con.execute("INSERT INTO ledger_meta VALUES ('derived_through', ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value", (str(through_id),))

    def _merge_row(self, con: Any, period_s: int, start_ns: int,
                   parts: list[Aggregate]) -> None:
        key = (period_s, start_ns)
        stored = con.execute("SELECT calls FROM rollups WHERE period_s = ? AND start_ns = ?",
                             key).fetchone()
        mine = self._written.pop(key, None)
        if mine is not None and stored is not None and mine[0] == stored[0]:
            row = mine[1]
        else:
            loaded = self._load(con, period_s, start_ns, start_ns + 1, cached=False)
            row = loaded[0][1] if loaded else Aggregate(**_policy(period_s))
        for part in parts:
            row.merge(part)
        con.execute(
            "INSERT INTO rollups VALUES (?, ?, ?, ?) ON CONFLICT (period_s, start_ns) "
            "DO UPDATE SET calls = excluded.calls, state = excluded.state",
            (period_s, start_ns, row.total.requests, row.dumps()))
        if len(self._written) >= 8:  # only the hour and day being written matter
            self._written.clear()
        self._written[key] = (row.total.requests, row)

    def derive(self, calls: Iterable[tuple[int, LLMCall]], *, through: int | None = None,
               batch_calls: int = 200_000, progress: Callable[[int], None] | None = None,
               derived_from: int | None = None) -> int:
        """Add ``(position, call)`` pairs to the rows, committing every ``batch_calls``; the
        rows then hold every call up to the last position seen (in position order), or up to
        ``through`` when given. Returns how many calls were derived (-1: another process
        derived them first, see ``apply``)."""
        parts: dict[int, Aggregate] = {}
        n = 0
        last_id = self.derived_through(self.ledger._con) if through is None else through
        for call_id, call in calls:
            f = CallFacts.of(call)
            hour = f.end_ns // HOUR_NS
            part = parts.get(hour)
            if part is None:
                part = parts[hour] = hour_part()
            part.add(call, f)
            n += 1
            if through is None:
                last_id = call_id
            if n % batch_calls == 0 and derived_from is None:
                self.apply(parts, last_id)
                parts = {}
                if progress is not None:
                    progress(n)
        if parts or n or derived_from is not None:
            if not self.apply(parts, last_id, derived_from=derived_from):
                return -1
        return n

    def derive_tail(self) -> int:
        """Derive the calls written after ``derived_through`` (after a crash, or written by a
        version without derived rows); returns how many."""
        if self.ledger.shared:
            return max(self.derive_shared(), 0)
        start = self.derived_through(self.ledger._con)
        return self.derive(self.ledger.calls_after(start))

    def derive_shared(self) -> int:
        """In a database many processes write: derive every call whose writer has finished
        since the rows were last derived. Whoever commits first wins; a process that lost the
        race drops its work (-1). Returns how many calls were derived."""
        ledger = self.ledger
        engine = ledger.shared_engine
        try:
            con = ledger.reader()
            if not engine.try_deriver_lock(con):
                return 0  # another process is deriving these calls right now
        except ledger.errors as e:
            raise ledger.error(e) from None
        try:
            try:
                start = self.derived_through(con)
                upto = engine.watermark(con)
            except ledger.errors as e:
                raise ledger.error(e) from None
            if upto <= start:
                return 0
            return self.derive(ledger.calls_after(start, through=upto), through=upto,
                               derived_from=start)
        finally:
            try:
                engine.release_deriver_lock(con)
            except ledger.errors:
                pass  # a connection that broke has let go of its locks

    def _rebuild_shared(self, progress: Callable[[int], None] | None) -> RebuildReport:
        """Rebuild in one transaction, so that consoles never see the rows half gone."""
        ledger = self.ledger
        engine = ledger.shared_engine
        parts: dict[int, Aggregate] = {}
        with ledger.transaction() as con:
            con.execute("SELECT pg_advisory_xact_lock(?)", (engine.derive_lock_id,))
            upto = engine.watermark(con)
            n = 0
            for _, call in ledger.calls_after(-(2**62), through=upto):
                f = CallFacts.of(call)
                part = parts.get(f.end_ns // HOUR_NS)
                if part is None:
                    part = parts[f.end_ns // HOUR_NS] = hour_part()
                part.add(call, f)
                n += 1
                if progress is not None and n % 200_000 == 0:
                    progress(n)
            con.execute("DELETE FROM rollups")
            self._written.clear()
            self._apply(con, parts, upto)
        return self._report(n)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> RebuildReport:
        """Drop every derived row and derive them again from the raw calls."""
        ledger = self.ledger
        with ledger.lock:
            if ledger.shared:
                return self._rebuild_shared(progress)
            with ledger.transaction() as con:
                con.execute("DELETE FROM rollups")
                con.execute("DELETE FROM ledger_meta WHERE key = 'derived_through'")
            n = self.derive(ledger.calls_after(0), progress=progress)
        return self._report(n)

    def _report(self, n: int) -> RebuildReport:
        count = self.ledger._read(lambda con: con.execute(
            "SELECT sum(CASE WHEN period_s = 3600 THEN 1 ELSE 0 END), "
            "sum(CASE WHEN period_s = 86400 THEN 1 ELSE 0 END) FROM rollups").fetchone())
        return RebuildReport(n, int(count[0] or 0), int(count[1] or 0))


def _policy(period_s: int) -> dict[str, Any]:
    part = day_part() if period_s == 86400 else hour_part()
    return {"max_sessions": part.max_sessions, "lru_sessions": part.lru_sessions}
