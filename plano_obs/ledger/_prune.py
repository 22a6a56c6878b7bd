"""Deleting old calls: in small transactions, so a writer waiting on the file never waits long."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from plano_obs.ledger._ledger import Ledger
from plano_obs.ledger._rollups import DAY_NS, HOUR_NS, Rollups

__all__ = ["PruneReport", "prune"]

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What one prune removed."""

    before_ns: int
    calls: int
    spans: int


def prune(ledger: Ledger, before_ns: int, reason: str, *,
          clock: Callable[[], float] = time.time) -> PruneReport:
    """Delete every call that ended before ``before_ns``, the spans of its trace that ended
    before it, and the derived rows that lie wholly before it; rows that straddle it are derived
    again from the calls that remain. Logged in ``prunes``."""
    calls = _delete(ledger, "calls", before_ns)
    spans = _delete(ledger, "spans", before_ns)
    rollups = Rollups(ledger)
    with ledger.lock:
        with ledger.transaction() as con:
            con.execute("DELETE FROM rollups WHERE start_ns + period_s * 1000000000 <= ?",
                        (before_ns,))
            straddling = con.execute(
                "SELECT period_s, start_ns FROM rollups WHERE start_ns < ?",
                (before_ns,)).fetchall()
            con.execute("DELETE FROM rollups WHERE start_ns < ?", (before_ns,))
            through = rollups.derived_through(con)
            con.execute("INSERT INTO prunes VALUES (?, ?, ?, ?, ?)",
                        (int(clock() * 1e9), before_ns, calls, spans, reason))
        if straddling:
            # Derive the straddled day (and its hours) again from what is left of it.
            lo = min(start for _, start in straddling)
            hi = max(start + period * 1_000_000_000 for period, start in straddling)
            lo, hi = lo // HOUR_NS * HOUR_NS, -(-hi // DAY_NS) * DAY_NS
            with ledger.transaction() as con:
                con.execute("DELETE FROM rollups WHERE start_ns >= ? AND start_ns < ?", (lo, hi))
            parts = ledger.calls_in(lo, hi)
            rollups.derive(((i, c) for i, c in parts if i <= through), through=through)
        ledger.reclaim()
    return PruneReport(before_ns, calls, spans)


def _delete(ledger: Ledger, table: str, before_ns: int) -> int:
    total = 0
    while True:
        with ledger.transaction() as con:
            n = con.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "
                f"WHERE end_ns < ? LIMIT {_BATCH})", (before_ns,)).rowcount
        total += n
        if n < _BATCH:
            return total
