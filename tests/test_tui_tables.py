"""Tables you can trust: columns that fit, numbers never cut, one cost format per column,
sorts marked and offered per table, a visible cursor, and lists that say why they are empty."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widget import Widget

from plano_obs.tui.app import ObsApp
from plano_obs.tui.sample import SAMPLE_NOW, sample_runtime
from plano_obs.tui.text import count, plural, tokens, usd, usd_decimals, usd_fixed
from plano_obs.tui.widgets.flagged import FlaggedTable
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.models import ModelTable
from plano_obs.tui.widgets.recent import RecentTable
from plano_obs.tui.widgets.routes import RouteTable
from plano_obs.tui.widgets.table import Column, RowTable, fit_columns
from plano_obs.tui.widgets.totals import WindowTotals

from tui_pilot import running, screen_lines, settled

COLUMNS = (
    Column("Age", numeric=True, keep=100),
    Column("Model", keep=90, min_width=12, max_width=48, grow=True),
    Column("Route", keep=30, min_width=8, max_width=32, grow=True),
    Column("Session", keep=10, min_width=8),
    Column("Tokens", numeric=True, keep=40),
    Column("Cost", numeric=True, keep=100),
)
CONTENT = (3, 30, 20, 12, 7, 9)


def test_wide_tables_show_every_column_and_give_spare_width_to_names() -> None:
    long_names = (3, 70, 45, 12, 7, 9)  # beyond the model's and route's usual widths
    layout = dict(fit_columns(COLUMNS, long_names, 160))
    assert set(layout) == set(range(len(COLUMNS)))
    assert layout[1] == 70 and layout[2] == 45  # names whole: model and route grow
    assert layout[0] == 3 and layout[4] == 7 and layout[5] == 9  # numbers as wide as needed
    assert dict(fit_columns(COLUMNS, long_names, 120))[1] < 70  # shorter where room is short


def test_narrow_tables_shorten_then_drop_text_before_any_number() -> None:
    layout = dict(fit_columns(COLUMNS, CONTENT, 70))
    assert 3 not in layout  # the session goes first
    assert layout[4] == 7 and layout[5] == 9 and layout[0] == 3  # numbers whole
    assert sum(layout.values()) + len(layout) - 1 <= 70
    tight = dict(fit_columns(COLUMNS, CONTENT, 34))
    assert set(tight) == {0, 1, 5}  # model, cost and age are never dropped
    assert tight[5] == 9 and tight[0] == 3
    assert sum(tight.values()) + len(tight) - 1 <= 34


def test_one_cost_format_per_column() -> None:
    costs = [0.00033, 0.0168, 1234.5, None, 0.0]
    decimals = usd_decimals(costs)
    shown = [usd_fixed(c, decimals) for c in costs]
    assert shown == ["$0.00033", "$0.01680", "$1,234.50000", "—", "$0.00000"]
    assert {len(s.split(".")[1]) for s in shown if "." in s} == {5}
    assert usd_decimals([4.12, 0.17]) == 2
    # Columns of single calls: the smallest cost keeps three digits, as usd() shows it alone.
    assert usd_fixed(0.000404, usd_decimals([0.000404, 0.016531], 3)) == usd(0.000404)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_a_calls_cost_reads_the_same_in_the_table_as_alone(size: tuple[int, int]) -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app, size) as pilot:
        recent = app.screen.query_one(RecentTable)
        recent.focus()  # scrolled into view on short terminals
        await settled(pilot)
        newest = recent.calls[0]
        cost = usd(newest.cost_usd)
        assert recent.cell_at(0, "Cost").plain == cost
        # On screen: the whole figure, and a blank cell between it and the table's scrollbar.
        row = screen_lines(app)[recent.region.y + 2]  # border, header, then the newest call
        cost_end = row.index(f" {cost} ") + 1 + len(cost)
        assert recent.scrollbar_size_vertical > 0
        scrollbar_x = recent.region.right - 1 - recent.scrollbar_size_vertical  # inside border
        assert cost_end < scrollbar_x


def test_counts_are_plural_only_when_they_should_be() -> None:
    assert plural(1, "call") == "1 call"
    assert plural(2, "call") == "2 calls"
    assert plural(12345, "call") == "12,345 calls"


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_every_call_table_shows_model_status_cost_and_age(size: tuple[int, int]) -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app, size) as pilot:
        for table in (app.screen.query_one(FlaggedTable), app.screen.query_one(RecentTable)):
            shown = table.shown_columns
            assert {"Model", "Status", "Cost", "Age"} <= set(shown), (size, shown)
            # Numbers are never cut: every shown numeric cell fits its column whole.
            widths = dict(table._layout)
            for i, width in widths.items():
                if table.COLUMNS[i].numeric:
                    assert all(table.cells_at(r)[i].cell_len <= width
                               for r in range(table.row_count))
        recent = app.screen.query_one(RecentTable)
        layout = dict(recent._layout)
        if size[0] >= 200:  # wide terminals show every name whole
            for label in ("Model", "Route"):
                i = [c.label for c in recent.COLUMNS].index(label)
                assert all(recent.cells_at(r)[i].cell_len <= layout[i]
                           for r in range(recent.row_count))
        await pilot.pause()


async def test_shortened_text_ends_with_an_ellipsis() -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app, (80, 24)):
        flagged = app.screen.query_one(FlaggedTable)
        route = [c.label for c in flagged.COLUMNS].index("Route")
        width = dict(flagged._layout)[route]
        long_routes = [r for r in range(flagged.row_count)
                       if flagged.cells_at(r)[route].cell_len > width]
        assert long_routes
        line = flagged._line_text(flagged.cells_at(long_routes[0])).plain
        assert "…" in line


async def test_the_active_sort_is_marked_and_s_offers_only_what_the_table_has() -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app) as pilot:
        models = app.screen.query_one(ModelTable)
        routes = app.screen.query_one(RouteTable)
        assert "▼ Req" in models._header().plain and "▼ Req" in routes._header().plain
        await pilot.press("s")
        assert "▼ Cost" in models._header().plain and "▼ Req" in routes._header().plain
        routes.focus()
        seen = []
        for _ in range(len(RouteTable.SORTS)):
            await pilot.press("s")
            seen.append(routes.sort)
        assert sorted(seen) == sorted(RouteTable.SORTS) and "p95 latency" not in seen
        assert models.sort == "cost"  # sorting the routes left the models alone


async def test_tab_visits_only_visible_tables_and_each_shows_its_cursor_row() -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app, (80, 24)) as pilot:
        visited: list[Widget] = []
        for _ in range(6):
            await pilot.press("tab")
            await settled(pilot)
            focused = app.focused
            assert isinstance(focused, RowTable), focused
            visited.append(focused)
            await pilot.press("end")
            await settled(pilot)
            # The cursor row is on screen: inside the table's rows and the screen's region.
            top = round(focused.scroll_y)
            assert top <= focused.cursor_row < top + max(1, focused.visible_rows)
            assert focused.region.height > 0
            assert app.screen.region.contains_region(focused.region)
        assert len(set(visited)) == 4


async def test_an_empty_list_under_a_filter_says_why_and_how_to_clear_it() -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app) as pilot:
        await pilot.press("slash", *"no-such-model", "enter")
        recent = app.screen.query_one(RecentTable)
        flagged = app.screen.query_one(FlaggedTable)
        assert recent.row_count == 0 and flagged.row_count == 0
        assert "no-such-model" in recent.empty_text and "esc clears" in recent.empty_text
        assert "esc clears" in flagged.empty_text
        await pilot.press("escape")
        assert recent.row_count > 0
        await pilot.press("e")
        await pilot.press("slash", *"summarization", "enter")
        await pilot.press("slash", *"no-such-route", "enter")
        assert "errors only" in recent.empty_text and "e again" in recent.empty_text


@pytest.mark.parametrize("width", [80, 120])
async def test_the_footer_fits_the_width_and_keeps_help_and_quit(width: int) -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app, (width, 30)):
        footer = app.screen.query_one(KeysFooter)
        line = footer.render()
        assert isinstance(line, Text) and 0 < line.cell_len <= width
        actions = [k.action for k in footer.keys]
        assert {"app.help", "app.quit", "cycle_window", "filter"} <= set(actions)
        for key in footer.keys:  # each shown key is readable in full
            assert f"{key.display} {key.description}" in line.plain
        if width >= 120:
            assert len(actions) > 10


async def test_a_call_stamped_a_moment_ahead_of_the_console_reads_now_not_now_ago() -> None:
    """A gateway whose clock runs slightly ahead: its newest call is "now", the others "Ns ago"."""
    from plano_obs.tui.text import ago
    from plano_obs.tui.widgets.latest import LatestCall

    assert ago(SAMPLE_NOW + 0.4, SAMPLE_NOW) == "now"
    assert ago(SAMPLE_NOW - 4, SAMPLE_NOW) == "4s ago"
    assert ago(None, SAMPLE_NOW) == "—"
    runtime = sample_runtime()
    app = ObsApp(runtime, clock=lambda: SAMPLE_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        latest = app.screen.query_one(LatestCall)
        call = runtime.store.recent_calls(1)[0]
        latest.show(call, call.end_ns / 1e9 - 0.5)  # the console's clock 0.5 s behind the call
        assert latest.border_subtitle == "now"
        latest.show(call, call.end_ns / 1e9 + 4)
        assert latest.border_subtitle == "4s ago"


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_the_totals_panel_shortens_its_labels_and_never_cuts_a_number(
        size: tuple[int, int]) -> None:
    app = ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)
    async with running(app, size):
        totals = app.screen.query_one(WindowTotals)
        s = app.screen.frame.doc.summary  # type: ignore[attr-defined]
        lines = screen_lines(app)[totals.content_region.y:totals.content_region.bottom]
        shown = "\n".join(line[totals.content_region.x:totals.content_region.right]
                          for line in lines)
        assert "…" not in shown
        for figure in (count(s.requests), count(s.sessions), f"🚩 {count(s.flagged)}",
                       usd(s.cost_usd), tokens(s.output_tokens)):
            assert figure in shown, (size, figure, shown)
        if size[0] >= 120:
            assert "sessions" in shown
        if size[0] >= 200:  # room for the generation speed too
            assert "tok/s" in shown
