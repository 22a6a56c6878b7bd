"""A console on a PostgreSQL ledger that only reads (``--no-receiver``): the fleet's calls
appear live, windows and drilldown work on them, and a database that goes away is said in the
header while the last view stays."""

from __future__ import annotations

import asyncio

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp
from plano_obs.tui.screens.detail import DetailScreen
from plano_obs.tui.widgets.flagged import FlaggedTable
from plano_obs.tui.widgets.recent import RecentTable
from plano_obs.tui.widgets.status import StatusLine
from plano_obs.tui.widgets.totals import WindowTotals

from tui_pilot import text_of, until

NOW = 1_760_000_000.0
SIZE = (160, 40)
DAY_NS = 86_400 * 10**9


def runtime(url: str, *, viewer: bool) -> Runtime:
    """A runtime on the database, opened as ``plano obs`` opens it."""
    rt = Runtime(Settings(offline=True, ledger=url, retain="none", no_receiver=viewer,
                          poll_ms=100), clock=lambda: NOW)
    rt.open_ledger()
    assert rt.ledger is not None and rt.ledger.fleet, rt.ledger_error
    return rt


def fill(rt: Runtime, seed: int, days: int, per_day: int) -> int:
    """Calls received by ``rt`` (a receiver of the fleet); returns how many."""
    demo = DemoTraffic(seed, flag_rate=0.1)
    end = int(NOW * 1e9)
    n = 0
    for i in range(days * per_day):
        at = end - (days * per_day - i) * DAY_NS // per_day
        n += rt.store.ingest(decode_request(demo.request([demo.trace(at)])))
    return n


async def settle(pilot, check, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Until ``check()`` holds: polling and deriving take a few intervals."""
    await until(pilot, check, seconds)


async def test_a_viewer_shows_every_receivers_calls_live_with_windows_and_drilldown(
        pg_url: str) -> None:
    viewer = runtime(pg_url, viewer=True)
    assert viewer.ledger is not None
    viewer.ledger.start()  # polls every --poll-ms
    receivers = [runtime(pg_url, viewer=False), runtime(pg_url, viewer=False)]
    app = ObsApp(viewer, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusLine)
        await settle(pilot, lambda: "ledger" in text_of(status))
        assert "not receiving" in text_of(status) and "OTLP" not in text_of(status)
        # Calls arrive at two receivers while the console runs.
        total = await asyncio.to_thread(fill, receivers[0], 4, 3, 100)
        total += await asyncio.to_thread(fill, receivers[1], 5, 3, 100)
        totals = app.screen.query_one(WindowTotals)
        await settle(pilot, lambda: f"requests {total:,}" in text_of(totals))
        # the header's counts (calls held for the lists, calls in the ledger) follow within
        # a poll: they are read at another moment than the totals
        await settle(pilot, lambda: f"│ {total:,} calls" in text_of(status)
                     and f": {total:,} calls" in text_of(status))
        header = text_of(status)  # the URL, or its database name when the line is full
        assert "postgresql://plano:***@127.0.0.1" in str(status.tooltip)
        assert "s3cret" not in header + str(status.tooltip)
        await settle(pilot, lambda: app.screen.query_one(RecentTable).row_count > 100)
        # the long windows, answered from the shared derived rows
        await pilot.press(*["w"] * 6)
        await settle(pilot, lambda: totals.border_title == "Totals · 7d")
        await settle(pilot, lambda: f"requests {total:,}" in text_of(totals))
        # a flagged call another process received: its whole trace, from the database
        flagged = app.screen.query_one(FlaggedTable)
        await settle(pilot, lambda: flagged.row_count > 3)
        flagged.focus()
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.call is not None
        assert detail.call.flagged and detail.call.signals is not None
        assert detail.call.signals.events
        assert {"plano(inbound)", "plano(llm)"} <= {s.service for s in detail.spans}
    for rt in (viewer, *receivers):
        rt.ledger.stop()  # type: ignore[union-attr]


async def test_a_database_gone_is_said_in_the_header_and_the_last_view_stays(
        pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.create_database()
    receiver = runtime(url, viewer=False)
    n = fill(receiver, 6, 1, 50)
    viewer = runtime(url, viewer=True)
    assert viewer.ledger is not None
    viewer.ledger.start()
    app = ObsApp(viewer, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusLine)
        totals = app.screen.query_one(WindowTotals)
        await settle(pilot, lambda: f"requests {n:,}" in text_of(totals))
        await asyncio.to_thread(pg_cluster.stop, "fast")
        try:
            await settle(pilot, lambda: "ledger unreachable since" in text_of(status))
            assert f"requests {n:,}" in text_of(totals)  # the last view, not zeros
            assert app.screen.query_one(RecentTable).row_count == n
        finally:
            await asyncio.to_thread(pg_cluster.start)
        # back, and calls written meanwhile by a receiver that reconnected show up
        more = await asyncio.to_thread(fill, receiver, 7, 1, 20)
        await settle(pilot, lambda: f"requests {n + more:,}" in text_of(totals))
        assert "unreachable" not in text_of(status)
    for rt in (viewer, receiver):
        rt.ledger.stop()  # type: ignore[union-attr]
