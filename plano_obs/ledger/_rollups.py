"""Derived rows: one serialized ``Aggregate`` per hour and per UTC day, rebuilt from raw calls.

The raw calls are the truth; these rows only make long windows fast (a 30-day window reads 30
day rows and the hours at its edges instead of millions of calls). ``ledger_meta``
``derived_through`` says which calls they hold: every call with ``id`` at most that. Calls
after it (written since the last sync, or before a crash) are derived again from their raw rows
when the ledger opens, so a killed process never leaves a row short.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from plano_obs.analytics import Aggregate, CallFacts, hour_part
from plano_obs.ledger._sqlite import Ledger, LedgerError, describe
from plano_obs.model import LLMCall

__all__ = ["HOUR_NS", "DAY_NS", "Rollups", "day_part"]

HOUR_NS = 3600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS
#: Sessions a day row tracks (an hour row tracks what an in-memory hour part does).
DAY_SESSIONS = 20_000
_HOURS_PER_DAY = 24


def day_part() -> Aggregate:
    """An empty day row."""
    return Aggregate(max_sessions=DAY_SESSIONS)


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

    # -- reading ------------------------------------------------------------------------------

    def derived_through(self, con: sqlite3.Connection | None = None) -> int:
        """The id of the last call the rows hold."""
        con = con or self.ledger.reader()
        row = con.execute(
            "SELECT value FROM ledger_meta WHERE key = 'derived_through'").fetchone()
        return int(row[0]) if row else 0

    def _load(self, con: sqlite3.Connection, period_s: int, lo_ns: int,
              hi_ns: int) -> list[tuple[int, Aggregate]]:
        rows = con.execute(
            "SELECT start_ns, state FROM rollups WHERE period_s = ? AND start_ns >= ? "
            "AND start_ns < ? ORDER BY start_ns", (period_s, lo_ns, hi_ns)).fetchall()
        policy = _policy(period_s)
        out = []
        for start, state in rows:
            try:
                out.append((start, Aggregate.loads(state, **policy)))
            except ValueError as e:
                raise LedgerError(f"ledger {self.ledger.path}: a derived row is damaged ({e}); "
                                  f"run `plano obs ledger rebuild`") from None
        return out

    def hours(self, lo: int, hi: int) -> Aggregate | None:
        """The sum of the rows of hours ``[lo, hi)`` (hour indexes since the epoch): whole UTC
        days from day rows, the rest from hour rows; None when there are none."""
        lo_ns, hi_ns = lo * HOUR_NS, hi * HOUR_NS
        first_day = -(-lo_ns // DAY_NS)  # the first day that starts inside the range
        last_day = hi_ns // DAY_NS  # one past the last day that ends inside it
        try:
            con = self.ledger.reader()
            parts: list[Aggregate] = []
            if first_day < last_day:
                parts += [a for _, a in self._load(con, 86400, first_day * DAY_NS,
                                                   last_day * DAY_NS)]
                parts += [a for _, a in self._load(con, 3600, lo_ns, first_day * DAY_NS)]
                parts += [a for _, a in self._load(con, 3600, last_day * DAY_NS, hi_ns)]
            else:
                parts += [a for _, a in self._load(con, 3600, lo_ns, hi_ns)]
        except sqlite3.Error as e:
            raise LedgerError(describe(e, self.ledger.path)) from None
        if not parts:
            return None
        total = Aggregate.unbounded()
        for part in parts:
            total.merge(part)
        return total

    def all_time(self, into: Aggregate) -> None:
        """Merge every day row into ``into``, oldest first."""
        try:
            for _, part in self._load(self.ledger.reader(), 86400, -(2**62), 2**62):
                into.merge(part)
        except sqlite3.Error as e:
            raise LedgerError(describe(e, self.ledger.path)) from None

    def calls_held(self) -> int:
        """Calls in the ledger: what the day rows count plus calls not derived yet."""
        def count(con: sqlite3.Connection) -> int:
            derived = con.execute(
                "SELECT coalesce(sum(calls), 0) FROM rollups WHERE period_s = 86400").fetchone()
            tail = con.execute("SELECT count(*) FROM calls WHERE id > ?",
                               (self.derived_through(con),)).fetchone()
            return int(derived[0]) + int(tail[0])
        return int(self.ledger._read(count))

    # -- writing ------------------------------------------------------------------------------

    def apply(self, parts: dict[int, Aggregate], through_id: int) -> None:
        """Merge hour parts (hour index -> the calls added since the last apply) into the hour
        and day rows, and record that the rows now hold every call up to ``through_id``; one
        transaction."""
        ledger = self.ledger
        with ledger.lock:
            con = ledger._con
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    self._apply(con, parts, through_id)
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise LedgerError(describe(e, ledger.path)) from None

    def _apply(self, con: sqlite3.Connection, parts: dict[int, Aggregate],
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

    def _merge_row(self, con: sqlite3.Connection, period_s: int, start_ns: int,
                   parts: list[Aggregate]) -> None:
        loaded = self._load(con, period_s, start_ns, start_ns + 1)
        row = loaded[0][1] if loaded else Aggregate(**_policy(period_s))
        for part in parts:
            row.merge(part)
        con.execute(
            "INSERT INTO rollups VALUES (?, ?, ?, ?) ON CONFLICT (period_s, start_ns) "
            "DO UPDATE SET calls = excluded.calls, state = excluded.state",
            (period_s, start_ns, row.total.requests, row.dumps()))

    def derive(self, calls: Iterable[tuple[int, LLMCall]], *, through: int | None = None,
               batch_calls: int = 200_000, progress: Callable[[int], None] | None = None) -> int:
        """Add ``(id, call)`` pairs to the rows, committing every ``batch_calls``; the rows
        then hold every call up to the last id seen (in id order), or up to ``through`` when
        given. Returns how many calls were derived."""
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
            if n % batch_calls == 0:
                self.apply(parts, last_id)
                parts = {}
                if progress is not None:
                    progress(n)
        if parts or n:
            self.apply(parts, last_id)
        return n

    def derive_tail(self) -> int:
        """Derive the calls written after ``derived_through`` (after a crash, or written by a
        version without derived rows); returns how many."""
        start = self.derived_through(self.ledger._con)
        return self.derive(self.ledger.calls_after(start))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> RebuildReport:
        """Drop every derived row and derive them again from the raw calls."""
        ledger = self.ledger
        with ledger.lock:
            try:
                con = ledger._con
                con.execute("BEGIN IMMEDIATE")
                con.execute("DELETE FROM rollups")
                con.execute("DELETE FROM ledger_meta WHERE key = 'derived_through'")
                con.execute("COMMIT")
            except sqlite3.Error as e:
                if ledger._con.in_transaction:
                    ledger._con.execute("ROLLBACK")
                raise LedgerError(describe(e, ledger.path)) from None
            n = self.derive(ledger.calls_after(0), progress=progress)
        count = ledger._read(lambda con: con.execute(
            "SELECT sum(period_s = 3600), sum(period_s = 86400) FROM rollups").fetchone())
        return RebuildReport(n, int(count[0] or 0), int(count[1] or 0))


def _policy(period_s: int) -> dict[str, Any]:
    if period_s == 86400:
        return {"max_sessions": DAY_SESSIONS}
    part = hour_part()
    return {"max_sessions": part.max_sessions, "lru_sessions": part.lru_sessions}
