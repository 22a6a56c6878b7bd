"""Pilot tests of the console: every key, the drilldown round trip, literal span text."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from rich.console import Console, RenderableType
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, Static

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.ingest.store import Store
from plano_obs.model import DecodeResult, LLMCall, SignalEvent, Signals, SpanRecord
from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp
from plano_obs.tui.probe import watcher_count
from plano_obs.tui.sample import SAMPLE_NOW, sample_runtime
from plano_obs.tui.screens.confirm import ConfirmScreen
from plano_obs.tui.screens.detail import DetailScreen, trace_json
from plano_obs.tui.screens.help import HelpScreen, HelpText
from plano_obs.tui.screens.main import MainScreen
from plano_obs.tui.screens.session import SessionScreen
from plano_obs.tui.text import clean
from plano_obs.tui.view import call_key, split_key
from plano_obs.tui.widgets.empty import EmptyState
from plano_obs.tui.widgets.error_banner import ErrorBanner
from plano_obs.tui.widgets.flagged import FlaggedTable
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.models import ModelTable
from plano_obs.tui.widgets.recent import RecentTable
from plano_obs.tui.widgets.spans import SpanTable
from plano_obs.tui.widgets.status import StatusLine
from plano_obs.tui.widgets.totals import WindowTotals

from otlp_fixtures import llm_attrs, span
from otlp_fixtures import request as otlp_request
from tui_pilot import running, settled, ticked

SIZE = (120, 40)


def text_of(widget: Static) -> str:
    """The plain text a Static shows."""
    return str(widget.content)


def rendered(renderable: RenderableType, width: int = 120) -> str:
    """A Rich renderable as plain text."""
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def recent_calls(app: ObsApp) -> list[LLMCall]:
    """The calls the recent table shows, top to bottom."""
    table = app.screen.query_one(RecentTable)
    store = app.ctx.runtime.store
    return [store.get_call(*split_key(k)) for k in table.row_keys]  # type: ignore[misc]


@pytest.fixture(scope="module")
def demo() -> Runtime:
    return sample_runtime(minutes=10)


def make_app(runtime: Runtime, tmp_path: Path | None = None) -> ObsApp:
    return ObsApp(runtime, clock=lambda: SAMPLE_NOW, export_dir=tmp_path)


async def test_empty_state_tells_a_new_user_the_plano_config_lines_and_demo() -> None:
    app = make_app(Runtime(Settings(offline=True)))
    async with running(app):
        empty = app.screen.query_one(EmptyState)
        assert empty.display and not app.screen.query_one("#dashboard").display
        text = text_of(empty)
        assert "opentracing_grpc_endpoint: http://localhost:4317" in text
        assert "random_sampling: 100" in text
        assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318" in text
        assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in text
        assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317" in text
        assert "127.0.0.1:4318 (OTLP/HTTP)" in text
        assert "plano obs --demo" in text


async def test_without_http_the_empty_state_and_header_show_grpc_only() -> None:
    app = make_app(Runtime(Settings(offline=True, no_http=True)))
    async with app.run_test(size=SIZE):
        text = text_of(app.screen.query_one(EmptyState))
        assert "4318" not in text and "OTLP/HTTP" not in text
        assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in text
        assert "OTLP gRPC 127.0.0.1:4317" in text_of(app.screen.query_one(StatusLine))


async def test_demo_data_fills_every_panel(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app):
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert not screen.query_one(EmptyState).display
        header = text_of(screen.query_one(StatusLine))
        assert "OTLP gRPC :4317 HTTP :4318" in header
        assert "pricing embedded snapshot" in header
        assert f"{demo.store.stats().calls_held:,} calls" in header
        assert "4,141 models" in header
        totals = text_of(screen.query_one(WindowTotals))
        assert f"requests {demo.store.stats().calls:,}" in totals
        banner = screen.query_one(ErrorBanner)
        assert banner.display and banner.shown is not None
        assert str(banner.shown.status_code) in text_of(banner)
        assert screen.query_one(ModelTable).row_count > 3
        assert screen.query_one(FlaggedTable).row_count > 3
        assert screen.query_one(RecentTable).row_count == 200
        assert screen.focused is screen.query_one(FlaggedTable)


async def test_enter_opens_the_flagged_call_and_escape_returns_to_the_same_row(
        demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        flagged = app.screen.query_one(FlaggedTable)
        await pilot.press("down", "down", "enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        assert detail.call is not None and detail.call.flagged
        assert detail.key == flagged.highlighted_key
        facts = rendered(detail.query_one("#detail-facts", Static).content)  # type: ignore[arg-type]
        assert detail.call.request_id in facts
        trace = detail.query_one(SpanTable)
        spans = [trace._line_text(trace.cells_at(r)).plain for r in range(trace.row_count)]
        assert any("plano(llm)" in s and "▶" in s for s in spans)
        assert any("plano(inbound)" in s for s in spans)
        events = rendered(detail.query_one("#detail-events", Static).content)  # type: ignore[arg-type]
        assert detail.call.signals is not None
        assert detail.call.signals.events[0].type in events
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        assert app.screen.focused is flagged and flagged.cursor_row == 2


async def test_n_and_p_walk_the_flagged_calls_without_leaving_the_detail(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        keys = app.screen.query_one(FlaggedTable).row_keys
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.key == keys[0]
        await pilot.press("n", "n")
        assert app.screen is detail and detail.key == keys[2]
        await pilot.press("p")
        assert detail.key == keys[1]
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_enter_on_a_recent_call_opens_it(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        app.screen.query_one(RecentTable).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.call is demo.store.recent_calls(1)[0]


async def test_x_on_the_detail_writes_the_trace_as_json(demo: Runtime, tmp_path: Path) -> None:
    app = make_app(demo, tmp_path)
    async with running(app) as pilot:
        await pilot.press("enter", "x")
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.call is not None
        (path,) = tmp_path.glob("plano-obs-trace-*.json")
        doc = json.loads(path.read_text())
        assert doc["call"]["request_id"] == detail.call.request_id
        # Every attribute of the call, though ingest decoded only the ones it uses.
        assert doc["call"]["attributes"]["llm.model"] == detail.call.model
        assert doc["call"]["attributes"] == dict(detail.call.attributes)
        assert {s["service"] for s in doc["spans"]} >= {"plano(llm)", "plano(inbound)"}
        (llm_span,) = (s for s in doc["spans"] if s["span_id"] == detail.call.span_id)
        assert llm_span["attributes"] == doc["call"]["attributes"]
        assert any(str(path) in n.message for n in app._notifications)


def test_the_trace_export_holds_the_attributes_ingest_did_not_read() -> None:
    store = Store()
    attrs = llm_attrs(**{"llm.user_message_preview": "hi", "component": "llm"})
    store.ingest(decode_request(otlp_request(span(attrs))))
    (call,) = store.recent_calls()
    doc = json.loads(trace_json(call, store.trace(call.trace_id)))
    assert doc["call"]["attributes"] == attrs
    assert doc["spans"][0]["attributes"] == attrs


async def test_t_shows_every_turn_of_the_session(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("enter")
        call = app.screen.call  # type: ignore[attr-defined]
        await pilot.press("t")
        session = app.screen
        assert isinstance(session, SessionScreen) and session.session_id == call.session_id
        turns = [c for c in demo.store.calls_snapshot() if c.session_id == call.session_id]
        assert session.query_one(RecentTable).row_count == len(turns)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)


async def test_f_and_e_show_only_flagged_or_failed_calls(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("f")
        shown = recent_calls(app)
        assert shown and all(c.flagged for c in shown)
        assert "flagged only" in text_of(app.screen.query_one(StatusLine))
        await pilot.press("e")
        shown = recent_calls(app)
        assert shown and all(c.is_error for c in shown)
        await pilot.press("e")
        assert len(recent_calls(app)) == 200


async def test_slash_filters_by_route_text_and_escape_drops_it(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"summarization", "enter")
        assert not app.screen.query_one(Input).display
        assert all(c.route == "summarization" for c in recent_calls(app))
        flagged = app.screen.query_one(FlaggedTable)
        assert flagged.row_count > 0
        assert all("summarization" in str(flagged.cell(k, "Route")) for k in flagged.row_keys)
        await pilot.press("escape")
        assert len(recent_calls(app)) == 200


async def test_enter_on_a_model_filters_by_that_model(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        models = app.screen.query_one(ModelTable)
        models.focus()
        await pilot.press("enter")
        model = models.highlighted_model
        assert model and all(c.model == model for c in recent_calls(app))


async def test_w_cycles_the_window(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        status = app.screen.query_one(StatusLine)
        all_requests = app.screen.frame.doc.summary.requests  # type: ignore[attr-defined]
        for window in ("1m", "5m", "15m", "1h", "24h", "7d", "30d", "all"):
            await pilot.press("w")
            assert f"window {window}" in text_of(status)
            await settled(pilot)
            assert app.screen.frame.window == window  # type: ignore[attr-defined]
            if window == "1m":
                assert 0 < app.screen.frame.doc.summary.requests < all_requests  # type: ignore[attr-defined]
                assert "Totals · 1m" in str(app.screen.query_one(WindowTotals).border_title)


async def test_s_cycles_the_sort_of_models_and_routes(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("s")
        models = app.screen.query_one(ModelTable)
        assert "by cost" in str(models.border_title)
        costs = [m.cost_usd or -1 for m in
                 app.screen.view.sorted_models(app.screen.frame.doc.models)]  # type: ignore[attr-defined]
        assert costs == sorted(costs, reverse=True)
        first = app.screen.frame.doc.models  # type: ignore[attr-defined]
        top = max(first, key=lambda m: m.cost_usd or -1)
        assert str(models.cells_at(0)[0]) == top.model


async def test_p_freezes_the_view_while_ingest_continues() -> None:
    runtime = sample_runtime(minutes=2)
    app = make_app(runtime)
    async with running(app) as pilot:
        await pilot.press("p")
        assert "PAUSED" in text_of(app.screen.query_one(StatusLine))
        before = recent_calls(app)[0]
        for req in DemoTraffic(99).history(end_ns=int(SAMPLE_NOW * 1e9), minutes=1, per_minute=30):
            runtime.store.ingest(decode_request(req))
        await pilot.pause()
        app.screen.tick()  # type: ignore[attr-defined]
        await settled(pilot)
        assert recent_calls(app)[0] is before
        await pilot.press("p")
        await settled(pilot)
        assert "PAUSED" not in text_of(app.screen.query_one(StatusLine))
        assert runtime.store.stats().calls_held == len(app.screen.frame.calls)  # type: ignore[attr-defined]


async def test_c_clears_only_after_confirming() -> None:
    runtime = sample_runtime(minutes=1)
    app = make_app(runtime)
    async with running(app) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert runtime.store.stats().calls_held > 0
        await pilot.press("c", "y")
        await settled(pilot)
        assert isinstance(app.screen, MainScreen)
        assert runtime.store.stats().calls_held == 0
        assert app.screen.query_one(EmptyState).display


async def test_x_exports_the_current_window_and_says_where(demo: Runtime, tmp_path: Path) -> None:
    app = make_app(demo, tmp_path)
    async with running(app) as pilot:
        await pilot.press("w", "x")
        await settled(pilot)
        (path,) = tmp_path.glob("plano-obs-export-*.json")
        assert path.name == "plano-obs-export-20250615-150640.json"
        doc = json.loads(path.read_text())
        assert doc["window"]["name"] == "1m" and doc["summary"]["requests"] > 0
        assert any(str(path) in n.message for n in app._notifications)
        assert not list(tmp_path.glob(".plano-obs-*"))


async def test_d_dismisses_the_error_banner(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        banner = app.screen.query_one(ErrorBanner)
        assert banner.display
        await pilot.press("d")
        assert not banner.display
        before = app.screen.frame  # type: ignore[attr-defined]
        app.screen.refresh_view()  # type: ignore[attr-defined]
        await settled(pilot)
        assert app.screen.frame is not before  # type: ignore[attr-defined]
        assert app.screen.frame.doc.errors.most_recent.request_id == banner_id(before)  # type: ignore[attr-defined]
        assert not banner.display  # the same error, read again, stays dismissed


async def test_question_mark_shows_help_with_every_key(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.markdown
        for key in ("enter", "esc", "f", "e", "/", "w", "s", "p", "c", "x", "?", "q", "n", "d"):
            assert f"| `{key}` |" in source, key
        assert "quality score" in app.screen.query_one(HelpText).plain
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_keys_that_do_not_apply_are_hidden(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert {"drill", "flagged_only", "window", "dismiss_error", "help", "quit"} <= shown
        assert "back" not in shown
        await pilot.press("f")
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert "back" in shown


async def test_q_quits(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_recent_calls_follow_the_newest_on_the_top_row_and_hold_still_below_it() -> None:
    runtime = sample_runtime(minutes=2)
    app = make_app(runtime)
    traffic = DemoTraffic(5)

    async def calls_arrive_from_the_receiver_thread(pilot: Pilot) -> None:
        requests = list(traffic.history(end_ns=int(SAMPLE_NOW * 1e9), minutes=1, per_minute=30))
        thread = threading.Thread(
            target=lambda: [runtime.store.ingest(decode_request(r)) for r in requests])
        thread.start()
        thread.join()
        await pilot.pause()
        await ticked(pilot)

    def newest_key() -> str:
        call = runtime.store.recent_calls(1)[0]
        return call_key(call.trace_id, call.span_id)

    async with running(app) as pilot:
        table = app.screen.query_one(RecentTable)
        table.focus()
        await calls_arrive_from_the_receiver_thread(pilot)
        assert table.cursor_row == 0 and table.highlighted_key == newest_key()  # following
        await pilot.press("down", "down")
        watched, rows = table.highlighted_key, table.row_keys
        before = runtime.store.stats().calls
        await calls_arrive_from_the_receiver_thread(pilot)
        arrived = runtime.store.stats().calls - before
        assert app.screen.frame.stats.calls_held == runtime.store.stats().calls_held  # type: ignore[attr-defined]
        assert table.highlighted_key == watched and table.cursor_row == 2  # held on its call
        assert table.row_keys == rows
        assert f"held · {arrived} newer calls" in str(table.border_title)
        await pilot.press("home")
        app.screen.tick()  # type: ignore[attr-defined]
        await settled(pilot)
        assert table.cursor_row == 0 and table.highlighted_key == newest_key()
        assert "held" not in str(table.border_title)


def banner_id(frame: object) -> str:
    """The request id of the most recent error in ``frame``."""
    return frame.doc.errors.most_recent.request_id  # type: ignore[attr-defined]


def _hostile_call() -> DecodeResult:
    evil = "[bold red]pwned[/] \x1b[31mred\x1b[0m \x07bell\nnext"
    trace_id, span_id, parent_id = "ab" * 16, "cd" * 8, "ef" * 8
    call = LLMCall(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent_id, name=f"POST {evil}",
        service="plano(llm)", start_ns=int((SAMPLE_NOW - 2) * 1e9),
        end_ns=int((SAMPLE_NOW - 1) * 1e9), request_id=evil, model=evil, route=evil,
        session_id=evil, status_code=500, error_message=evil, flagged=True,
        signals=Signals(quality="severe", categories={"execution.failure": (1, 1)},
                        events=[SignalEvent(name="signal.x", type=evil, snippet=evil,
                                            metadata=json.dumps({"k": evil}))]))
    span = SpanRecord(trace_id=trace_id, span_id=parent_id, parent_span_id=None, name=evil,
                      service=evil, start_ns=call.start_ns - 1, end_ns=call.end_ns,
                      status="error")
    return DecodeResult(calls=[call], spans=[span])


async def test_markup_and_escapes_in_span_data_are_shown_literally() -> None:
    runtime = Runtime(Settings(offline=True))
    runtime.store.ingest(_hostile_call())
    app = make_app(runtime)
    async with running(app) as pilot:
        cell = app.screen.query_one(RecentTable).cell_at(0, "Model")
        assert isinstance(cell, Text)
        assert "[bold red]pwned[/]" in cell.plain and "\x1b" not in cell.plain
        assert not any("red" in str(span.style) for span in cell.spans)
        banner = text_of(app.screen.query_one(ErrorBanner))
        assert "[bold red]pwned[/]" in banner and "\x1b" not in banner and "\x07" not in banner
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        for pid in ("facts", "events", "span"):
            out = rendered(detail.query_one(f"#detail-{pid}", Static).content)  # type: ignore[arg-type]
            assert "[bold red]pwned[/]" in out and "\x1b" not in out and "\x07" not in out
        trace = detail.query_one(SpanTable)
        names = [trace.cells_at(r)[0] for r in range(trace.row_count)]
        assert any("[bold red]pwned[/]" in n.plain and "\x1b" not in n.plain for n in names)


def test_clean_strips_ansi_and_control_characters() -> None:
    assert clean("a\x1b[1;31mb\x1b[0m\x1b]0;title\x07c\td\x00e\u202ef") == "abc d e f"
    assert clean(None) == "—"
    assert clean("x" * 50, 10) == "x" * 9 + "…"


async def test_header_says_what_was_evicted_and_rejected_while_totals_keep_everything() -> None:
    runtime = Runtime(Settings(offline=True, capacity=100, trace_capacity=10))
    traffic = DemoTraffic(3)
    for request in traffic.history(end_ns=int(SAMPLE_NOW * 1e9), minutes=3, per_minute=120):
        runtime.store.ingest(decode_request(request))
    runtime.store.count_rejected(2, "test: junk")
    stats = runtime.store.stats()
    assert stats.evicted_calls > 0 and stats.evicted_traces > 0
    app = make_app(runtime)
    async with running(app, (200, 40)):
        header = text_of(app.screen.query_one(StatusLine))
        assert f"evicted {stats.evicted_calls:,} calls, {stats.evicted_traces:,} traces" in header
        assert "rejected 2" in header
        totals = text_of(app.screen.query_one(WindowTotals))
        assert f"requests {stats.calls:,}" in totals  # evicted calls still count


async def test_calls_that_arrive_during_a_drilldown_show_on_return() -> None:
    runtime = sample_runtime(minutes=3)
    runtime.settings.refresh_ms = 60_000  # no timer refresh: returning must redraw by itself
    app = make_app(runtime)
    async with running(app) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        traffic = DemoTraffic(99)
        runtime.store.ingest(decode_request(traffic.request(
            [traffic.trace(int((SAMPLE_NOW - 1) * 1e9)) for _ in range(5)])))
        await pilot.pause()
        await pilot.press("escape")
        await settled(pilot)
        assert isinstance(app.screen, MainScreen)
        totals = text_of(app.screen.query_one(WindowTotals))
        assert f"requests {runtime.store.stats().calls:,}" in totals


async def test_redraws_leave_no_watchers_behind(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.pause()
        before = watcher_count(app)
        for _ in range(30):
            app.screen.draw()  # type: ignore[attr-defined]
            await pilot.pause()
        assert watcher_count(app) == before


async def test_footer_rebuilds_leave_no_watchers_behind(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("tab")
        await settled(pilot)
        before = watcher_count(app)
        for _ in range(12):  # each focus change rebuilds the footer's keys
            await pilot.press("tab")
            await settled(pilot)
        assert watcher_count(app) == before


async def test_a_slow_window_read_never_freezes_the_screen() -> None:
    runtime = sample_runtime(minutes=3)
    read = runtime.analytics.document
    release = threading.Event()

    def slow_document(window: str = "all", **kw: object) -> object:
        if window == "1m":
            release.wait(timeout=30)  # as the first read of a big window would take
        return read(window, **kw)  # type: ignore[arg-type]

    runtime.analytics.document = slow_document  # type: ignore[method-assign]
    app = make_app(runtime)
    async with running(app) as pilot:
        screen = app.screen
        await pilot.press("w")
        status = text_of(screen.query_one(StatusLine))
        assert "window 1m reading…" in status  # answered at once, rollups on their way
        assert "Totals · all" in str(screen.query_one(WindowTotals).border_title)
        await pilot.press("s")  # keys keep working meanwhile
        assert "by cost" in str(screen.query_one(ModelTable).border_title)
        release.set()
        await settled(pilot)
        assert screen.frame.window == "1m"  # type: ignore[attr-defined]
        assert "reading" not in text_of(screen.query_one(StatusLine))
        assert "Totals · 1m" in str(screen.query_one(WindowTotals).border_title)


async def test_totals_name_unpriced_models_and_calls_without_usage_apart() -> None:
    app = make_app(sample_runtime())
    async with running(app):
        summary = app.screen.frame.doc.summary  # type: ignore[attr-defined]
        no_usage = summary.no_usage_requests
        unpriced = summary.unpriced_requests - no_usage
        assert no_usage > 0 and unpriced > 0
        totals = text_of(app.screen.query_one(WindowTotals))
        assert f"({unpriced:,} unpriced · {no_usage:,} no usage)" in totals


async def test_walking_the_trace_shows_each_spans_attributes_and_events(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.call is not None
        trace = detail.query_one(SpanTable)
        panel = detail.query_one("#detail-span", Static)
        own = trace.selected_span
        assert own is not None and own.span_id == detail.call.span_id  # starts on the call
        text = rendered(panel.content)  # type: ignore[arg-type]
        assert "llm.model" in text or "gen_ai.request.model" in text
        trace.focus()
        await pilot.press("home")
        root = trace.selected_span
        assert root is not None and root is not own
        text = rendered(panel.content)  # type: ignore[arg-type]
        assert root.name in text and f"attributes · {len(root.attributes)}" in text
        for key in root.attributes:
            assert key in text
        trace.move_cursor(trace.row_keys.index(own.span_id))  # the flagged LLM call
        await pilot.pause()
        text = rendered(panel.content)  # type: ignore[arg-type]
        assert detail.call.signals is not None
        events = detail.call.signals.events
        assert events and f"events · {len(events)}" in text
        assert events[0].name in text and "signal.confidence" in text


async def test_y_copies_the_request_id_and_shift_y_the_trace_id(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.call is not None
        await pilot.press("y")
        assert app.clipboard == detail.call.request_id
        await pilot.press("Y")
        assert app.clipboard == detail.call.trace_id
        assert any("Copied trace id" in n.message for n in app._notifications)


@pytest.mark.parametrize("opened_by", ["question_mark", "c"])
async def test_q_quits_from_help_and_dialogs_which_show_their_own_keys(
        demo: Runtime, opened_by: str) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        await pilot.press(opened_by)
        await settled(pilot)
        shown = {k.action for k in app.screen.query_one(KeysFooter).keys}
        assert {"app.quit"} <= shown and ("close" in shown or "answer(False)" in shown)
        await pilot.press("q")
    assert app.return_code == 0


async def test_frames_come_less_often_when_each_costs_more(demo: Runtime) -> None:
    app = make_app(demo)
    async with running(app) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        before = screen.frame
        screen._frame_cost_s = 60.0  # as if the last frame took a minute to read and draw
        screen.on_store_changed(None)  # type: ignore[arg-type]
        screen.tick()
        await settled(pilot)
        assert screen.frame is before and not screen.building
        screen._frame_cost_s = 0.0
        await ticked(pilot)
        assert screen.frame is not before
