"""The console over a ledger: the header says where calls are kept, how many and over what
span (or that it runs in memory only); the long windows; a restart shows what was there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Static

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


def runtime(path: Path | str) -> Runtime:
    """A runtime on the ledger at ``path``, opened as ``plano obs`` opens it (no receiver)."""
    rt = Runtime(Settings(offline=True, ledger=str(path), retain="none"), clock=lambda: NOW)
    rt.open_ledger()
    return rt


def fill(rt: Runtime, days: int = 10, per_day: int = 60) -> None:
    demo = DemoTraffic(4, flag_rate=0.1)
    end = int(NOW * 1e9)
    for i in range(days * per_day):
        at = end - (days * per_day - i) * DAY_NS // per_day
        rt.store.ingest(decode_request(demo.request([demo.trace(at)])))


async def test_the_header_says_where_calls_are_kept_how_many_and_over_what_span(
        tmp_path: Path) -> None:
    rt = runtime(tmp_path / "ledger.sqlite")
    fill(rt, days=3)
    held = rt.ledger_status()
    assert held is not None and held.calls == 180
    app = ObsApp(rt, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusLine)
        await until(pilot, lambda: "ledger" in text_of(status))
        header = text_of(status)
        assert "ledger.sqlite: 180 calls over 2d" in header
        assert str(tmp_path / "ledger.sqlite") in str(status.tooltip)
        assert "memory only" not in header
    rt.ledger.stop()  # type: ignore[union-attr]


@pytest.mark.parametrize("columns", [80, 120, 200])
async def test_the_header_fits_the_width_and_always_shows_the_pricing_age(
        tmp_path: Path, columns: int) -> None:
    rt = runtime(tmp_path / "ledger.sqlite")
    fill(rt, days=3)
    age = rt.pricer.info().age_text(NOW)
    app = ObsApp(rt, clock=lambda: NOW)
    async with app.run_test(size=(columns, 24)) as pilot:
        status = app.screen.query_one(StatusLine)
        await until(pilot, lambda: "ledger" in text_of(status))
        header = text_of(status)
        assert len(header) <= columns and header.endswith(f" {age}"), header
        assert "│ pricing " in header
        assert "180 calls" in header and "window all" in header
        if columns >= 200:  # room for everything: the ledger's directory and the models count
            assert "/ledger.sqlite: 180 calls over 2d" in header and " models · " in header
        # Whatever gave way is in the tooltip.
        tooltip = str(status.tooltip)
        assert str(tmp_path / "ledger.sqlite") in tooltip and " models · " in tooltip
        assert "gRPC" in tooltip
    rt.ledger.stop()  # type: ignore[union-attr]


async def test_an_unusable_ledger_shows_memory_only_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    rt = runtime(path)
    assert rt.ledger is None and rt.ledger_error is not None
    fill(rt, days=1, per_day=20)
    app = ObsApp(rt, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusLine)
        await until(pilot, lambda: "memory only" in text_of(status))
        assert "damaged" in str(status.tooltip) and str(path) in str(status.tooltip)
        totals = app.screen.query_one(WindowTotals)
        assert "requests 20" in text_of(totals)  # the live view carries on in memory


@pytest.mark.parametrize("presses, window", [(5, "24h"), (6, "7d"), (7, "30d"), (8, "all")])
async def test_w_reaches_the_long_windows_and_they_count_what_the_ledger_holds(
        tmp_path: Path, presses: int, window: str) -> None:
    path = tmp_path / "ledger.sqlite"
    writer = runtime(path)
    fill(writer, days=40, per_day=24)
    writer.ledger.stop()  # type: ignore[union-attr]
    rt = runtime(path)  # a restart: everything comes from the file
    want = rt.analytics.document(window, now=NOW).summary.requests
    assert 0 < want <= 960
    app = ObsApp(rt, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["w"] * presses)
        totals = app.screen.query_one(WindowTotals)
        await until(pilot, lambda: totals.border_title == f"Totals · {window}")
        await until(pilot, lambda: f"requests {want:,}" in text_of(totals))
        header = text_of(app.screen.query_one(StatusLine))
        assert f"window {window}" in header
    expected = {"24h": 24, "7d": 7 * 24, "30d": 30 * 24, "all": 960}[window]
    assert abs(want - expected) <= 2  # one call an hour: the window holds its hours
    rt.ledger.stop()  # type: ignore[union-attr]


async def test_a_restart_brings_back_totals_lists_and_a_stored_flagged_trace(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    before = runtime(path)
    fill(before, days=2, per_day=200)
    want = before.analytics.document("all", now=NOW)
    recent = [c.request_id for c in before.store.recent_calls(50)]
    before.ledger.stop()  # type: ignore[union-attr]
    after = runtime(path)
    got = after.analytics.document("all", now=NOW)
    assert got.model_dump(exclude={"generated_at"}) == want.model_dump(
        exclude={"generated_at"})
    assert [c.request_id for c in after.store.recent_calls(50)] == recent
    app = ObsApp(after, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        flagged = app.screen.query_one(FlaggedTable)
        await until(pilot, lambda: flagged.row_count > 3)
        assert app.screen.query_one(RecentTable).row_count == 200
        flagged.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.call is not None
        assert detail.call.flagged and detail.call.signals is not None
        assert detail.call.signals.events  # the signal events came back from the file
        services = {s.service for s in detail.spans}
        assert {"plano(inbound)", "plano(llm)"} <= services  # and the whole span tree
    after.ledger.stop()  # type: ignore[union-attr]
    await asyncio.sleep(0)


async def test_what_if_replays_the_window_on_screen_from_the_ledger(tmp_path: Path) -> None:
    """After a restart the store holds only the newest calls; the what-if of the 7d window
    replays every call of those 7 days, read from the file."""
    from textual.widgets import OptionList

    from plano_obs.tui.screens.whatif import WhatIfScreen
    from plano_obs.tui.widgets.routes import RouteTable

    path = tmp_path / "ledger.sqlite"
    writer = runtime(path)
    fill(writer, days=10, per_day=48)
    writer.ledger.stop()  # type: ignore[union-attr]
    rt = Runtime(Settings(offline=True, ledger=str(path), retain="none", capacity=100),
                 clock=lambda: NOW)
    rt.open_ledger()
    in_7d = sum(1 for _ in rt.ledger.ledger.calls_in(  # type: ignore[union-attr]
        int((NOW - 7 * 86_400) * 1e9), int(NOW * 1e9) + 1))
    assert len(rt.store.calls_snapshot()) == 100 < in_7d < 480
    app = ObsApp(rt, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["w"] * 6)
        totals = app.screen.query_one(WindowTotals)
        await until(pilot, lambda: totals.border_title == "Totals · 7d")
        routes = app.screen.query_one(RouteTable)
        await until(pilot, lambda: routes.row_count > 0)
        routes.focus()
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, WhatIfScreen))
        screen = app.screen
        assert isinstance(screen, WhatIfScreen) and screen.window == "7d"
        targets = screen.query_one(OptionList)
        await until(pilot, lambda: targets.option_count > 0)
        await pilot.press("enter")
        result = screen.query_one("#whatif-result", Static)
        await until(pilot, lambda: "what if:" in text_of(result))
        assert f"what if: {in_7d} calls" in text_of(result)
        assert "from the ledger" in text_of(result)
        assert "the last 7d" in text_of(screen.query_one("#whatif-title", Static))
    rt.ledger.stop()  # type: ignore[union-attr]
