"""The live console: header, error banner, summary, trends, flagged, rollups and recent calls."""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input
from textual.worker import Worker, WorkerState, get_current_worker

from plano_obs.model import WINDOWS
from plano_obs.tui.context import Context
from plano_obs.tui.keys import GLOBAL_KEYS
from plano_obs.tui.messages import Confirm, OpenCall, OpenSession, TryOnAnotherModel
from plano_obs.tui.text import clean
from plano_obs.tui.view import Frame, ViewState, call_key, split_key, take_frame
from plano_obs.tui.widgets.accuracy import AccuracyTable
from plano_obs.tui.widgets.empty import EmptyState
from plano_obs.tui.widgets.error_banner import ErrorBanner
from plano_obs.tui.widgets.flagged import FlaggedTable
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.latest import LatestCall
from plano_obs.tui.widgets.models import ModelTable
from plano_obs.tui.widgets.quiet import set_display
from plano_obs.tui.widgets.recent import RecentTable
from plano_obs.tui.widgets.routes import RouteTable
from plano_obs.tui.widgets.status import StatusLine
from plano_obs.tui.widgets.table import RowTable
from plano_obs.tui.widgets.totals import WindowTotals
from plano_obs.tui.widgets.trends import Trends

#: Redraw at least this often (seconds) so ages and sliding windows move without traffic.
_IDLE_REDRAW_S = 1.0
#: Frames wait at least this many times what the last one cost to read and draw (their share
#: of the CPU stays under a twelfth).
_CPU_SHARE_INVERSE = 12


class StoreChanged(Message):
    """New data was ingested; a burst of these collapses into one."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class FrameReady(Message):
    """A frame read in the worker, ready to draw; ``read_s``: how long the read took."""

    def __init__(self, frame: Frame, read_s: float) -> None:
        super().__init__()
        self.frame = frame
        self.read_s = read_s


class StoreCleared(Message):
    """Every call and counter was forgotten."""


@dataclass(frozen=True, slots=True)
class _Panels:
    """The main screen's panels, looked up once (a query walks the screen)."""

    status: StatusLine
    empty: EmptyState
    dashboard: Widget
    banner: ErrorBanner
    latest: LatestCall
    totals: WindowTotals
    trends: Trends
    models: ModelTable
    routes: RouteTable
    accuracy: AccuracyTable
    flagged: FlaggedTable
    recent: RecentTable


class MainScreen(Screen[None]):
    """Everything at a glance; ``enter`` drills into a call."""

    AUTO_FOCUS = ""  # focus is set in draw(), without scrolling
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("escape", "back", "Back", id="back",
                tooltip="Close the filter box, then drop filters"),
        Binding("f", "only('flagged')", "Flagged", id="flagged_only",
                tooltip="Recent calls: show only flagged calls (again: show all)"),
        Binding("e", "only('errors')", "Errors", id="errors_only",
                tooltip="Recent calls and flagged: show only errors (again: show all)"),
        Binding("slash", "filter", "Filter", key_display="/", id="filter",
                tooltip="Filter calls by model, route or session text"),
        Binding("w", "cycle_window", "Window", id="window",
                tooltip="Cycle the time window: " + ", ".join(WINDOWS)),
        Binding("a", "toggle_accuracy", "Accuracy", id="accuracy",
                tooltip="Show cost accuracy (gateway-reported cost vs list price) in place "
                        "of routes (again: routes)"),
        Binding("s", "cycle_sort", "Sort", id="sort",
                tooltip="Sort models and routes by requests, cost, p95 latency, errors, flags"),
        Binding("p", "toggle_pause", "Pause", id="pause",
                tooltip="Pause or resume the view (ingest continues)"),
        Binding("c", "clear", "Clear", id="clear",
                tooltip="Forget every call and counter, after confirming"),
        Binding("x", "export", "Export", id="export",
                tooltip="Write the current window's rollups as JSON to a file"),
        Binding("d", "dismiss_error", "Dismiss", id="dismiss_error",
                tooltip="Hide the error banner until a newer error arrives"),
        Binding("t", "session", "Session", id="session",
                tooltip="Every turn of the highlighted call's session"),
    ]

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.view = ViewState(window=ctx.runtime.settings.window)
        self.frame: Frame | None = None
        self.dismissed_error: str | None = None
        self._dirty = True
        self._last_request = float("-inf")
        self._frame_cost_s = 0.0  # reading plus drawing the last frame
        self._wanted: tuple[str, float] | None = None
        self._worker: Worker[None] | None = None
        self._bindings_for: tuple[bool, ...] = ()

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Input(placeholder="filter by model, route or session; enter to keep, esc to close",
                    id="filter-input")
        yield ErrorBanner(id="error-banner")
        yield EmptyState(id="empty")
        # Not a focus stop of its own: Tab goes from table to table, each scrolled into view.
        with VerticalScroll(id="dashboard", can_focus=False):
            with Horizontal(id="summary-row"):
                yield LatestCall(id="latest", classes="panel")
                yield WindowTotals(id="totals", classes="panel")
                yield Trends(id="trends", classes="panel")
            yield FlaggedTable(id="flagged")
            with Horizontal(id="rollups-row"):
                yield ModelTable(id="models")
                yield RouteTable(id="routes")
                yield AccuracyTable(id="accuracy")
            yield RecentTable(id="recent")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._widgets = _Panels(
            status=self.query_one(StatusLine), empty=self.query_one(EmptyState),
            dashboard=self.query_one("#dashboard"), banner=self.query_one(ErrorBanner),
            latest=self.query_one(LatestCall), totals=self.query_one(WindowTotals),
            trends=self.query_one(Trends), models=self.query_one(ModelTable),
            routes=self.query_one(RouteTable), accuracy=self.query_one(AccuracyTable),
            flagged=self.query_one(FlaggedTable),
            recent=self.query_one(RecentTable))
        self.query_one("#latest").border_title = "Latest call"
        # Nothing to show until the first frame arrives from its worker (milliseconds).
        self.query_one(EmptyState).display = False
        self.query_one("#dashboard").display = False
        self._show_accuracy()
        self.query_one(StatusLine).show(None, self.view)
        self.ctx.runtime.store.subscribe(self._on_ingest)
        self.set_interval(self.ctx.runtime.settings.refresh_ms / 1000, self.tick)
        self.request_frame()

    def on_unmount(self) -> None:
        self.ctx.runtime.store.unsubscribe(self._on_ingest)

    def _on_ingest(self) -> None:
        """Runs on the receiver thread: only post a message, never touch widgets."""
        self.post_message(StoreChanged())

    # -- data -----------------------------------------------------------------------------------

    def on_store_changed(self, _: StoreChanged) -> None:
        self._dirty = True

    def on_screen_resume(self) -> None:
        """Back from a covering screen: show what arrived meanwhile at once."""
        if self.frame is not None and not self.view.paused:
            self.request_frame()

    def tick(self) -> None:
        """The refresh timer: read a new frame when data arrived or a second went by."""
        # Nothing to compute while a detail, session or help screen covers this one.
        if self.view.paused or self.app.screen is not self or self.building:
            return
        since = time.monotonic() - self._last_request
        # A console must not eat the ingest it shows: when a frame costs more than a slice of
        # the refresh interval (a million calls held, thousands arriving a second), frames
        # come less often rather than taking the CPU the receiver needs.
        if since < _CPU_SHARE_INVERSE * self._frame_cost_s:
            return
        if self._dirty or since >= _IDLE_REDRAW_S:
            self.request_frame()

    @property
    def building(self) -> bool:
        """True while a frame is being read in its worker."""
        worker = self._worker
        return worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def request_frame(self, now: float | None = None) -> None:
        """Read a new frame (at ``now``, default the clock) in a worker; it arrives as a
        ``FrameReady``. A newer request replaces one still being read."""
        self._dirty = False
        self._last_request = time.monotonic()
        wanted = (self.view.window, self.ctx.clock() if now is None else now)
        self._wanted = wanted
        self._worker = self._read_frame(*wanted)

    def refresh_view(self) -> None:
        """A new frame now (while paused: redraw the one on screen)."""
        if self.frame is None or not self.view.paused:
            self.request_frame()
        else:
            self.draw()

    @work(thread=True, exclusive=True, group="frame", exit_on_error=False)
    def _read_frame(self, window: str, now: float) -> None:
        """Runs in a worker thread: read the runtime, never touch a widget."""
        started = time.perf_counter()
        frame = take_frame(self.ctx.runtime, window, now)
        if not get_current_worker().is_cancelled:
            self.post_message(FrameReady(frame, time.perf_counter() - started))

    def on_try_on_another_model(self, message: TryOnAnotherModel) -> None:
        """A what-if replays the window on screen, at the instant shown (paused or not)."""
        frame = self.frame
        message.window = self.view.window
        message.now = frame.now if frame is not None and frame.window == self.view.window \
            else self.ctx.clock()

    def on_frame_ready(self, message: FrameReady) -> None:
        frame = message.frame
        if (frame.window, frame.now) != self._wanted:
            return  # read for a window or an instant the user has left since
        self.frame = frame
        started = time.perf_counter()
        self.draw()
        self._frame_cost_s = message.read_s + time.perf_counter() - started

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.group in ("frame", "export", "clear"):
            error = worker.error
            self.notify(f"{type(error).__name__}: {error}", title=f"Could not {worker.name}",
                        severity="error", timeout=8)

    def draw(self) -> None:
        """Render the current frame under the current view state."""
        frame, view = self.frame, self.view
        w = self._widgets
        if frame is None:
            w.status.show(None, view)
            return
        now = frame.now
        w.status.show(frame, view)
        empty = not frame.calls and frame.doc.summary.requests == 0
        set_display(w.empty, empty)
        set_display(w.dashboard, not empty)
        if empty:
            w.empty.show(frame.listen_address, frame.http_address)
            self.set_focus(None)
        elif self.focused is None:
            # The triage list, without scrolling the summary away on short terminals.
            self.set_focus(w.flagged, scroll_visible=False)
        doc = frame.doc
        w.banner.show(doc.errors.most_recent, now, self.dismissed_error)
        w.latest.show(frame.calls[0] if frame.calls else None, now)
        w.totals.show(doc.summary, frame.window)
        w.trends.show(frame.trend)
        w.models.show(view.sorted_models(doc.models), view.model_sort)
        w.routes.show(view.sorted_routes(doc.routes), view.route_sort)
        w.accuracy.show(doc.cost_accuracy, frame.window)
        self._explain_empty_lists(frame)
        w.flagged.show(frame.shown_flagged(view), now, doc.summary.flagged)
        w.recent.show(frame.shown_calls(view), now, self._recent_title(frame),
                      source=(view.only, view.text, frame.window))
        self._sync_bindings()

    def _explain_empty_lists(self, frame: Frame) -> None:
        """What an empty table says: which filter or window hides everything, and the key
        that brings it back."""
        view = self.view
        narrowing = []
        if view.only:
            narrowing.append(f"{view.only} only ({'f' if view.only == 'flagged' else 'e'} "
                             f"again shows all)")
        if view.text:
            narrowing.append(f"filter “{clean(view.text, 30)}”")
        span = "yet" if frame.window == "all" else f"in the last {frame.window}"
        window_hint = "" if frame.window == "all" else " · w changes the window"
        if narrowing:
            why = f"match {', '.join(narrowing)} · esc clears the filters"
            flagged, recent = f"No flagged calls {why}", f"No calls {why}"
        else:
            flagged = f"No flagged calls {span}{window_hint}"
            recent = f"No calls {span}{window_hint}"
        w = self._widgets
        w.flagged.empty_text = flagged
        w.recent.empty_text = recent
        for table in (w.models, w.routes):
            table.empty_text = f"No calls {span}{window_hint}"

    def _recent_title(self, frame: Frame) -> str:
        parts = ["Recent calls · newest first"]
        if self.view.only:
            parts.append(f"{self.view.only} only")
        if frame.window != "all":
            parts.append(f"last {frame.window}")
        return " · ".join(parts)

    # -- keys -----------------------------------------------------------------------------------

    def _binding_state(self) -> tuple[bool, ...]:
        """Everything ``check_action`` depends on."""
        return (self.query_one(EmptyState).display,
                self.query_one(ErrorBanner).shown is not None,
                self.view.narrowed,
                self.query_one("#filter-input").display,
                self._highlighted_session() is not None)

    def _sync_bindings(self) -> None:
        """Tell the footer about keys that appeared or went away, and only then: each footer
        rebuild costs a dozen widgets, and redraws happen twice a second."""
        state = self._binding_state()
        if state != self._bindings_for:
            self._bindings_for = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.query_one(EmptyState).display:
            return False  # nothing to act on yet: the footer shows only help and quit
        if action == "dismiss_error":
            return self.query_one(ErrorBanner).shown is not None
        if action == "back":
            return self.view.narrowed or self.query_one("#filter-input").display
        if action == "session":
            return self._highlighted_session() is not None
        return True

    def action_only(self, which: str) -> None:
        self.view.only = None if self.view.only == which else which
        self.draw()

    def action_filter(self) -> None:
        box = self.query_one("#filter-input", Input)
        box.display = True
        box.value = self.view.text
        box.focus()
        self._sync_bindings()

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.view.text = event.value
        self.draw()

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self) -> None:
        self._close_filter()

    def _close_filter(self) -> None:
        self.query_one("#filter-input").display = False
        self.query_one(RecentTable).focus()
        self._sync_bindings()

    def action_back(self) -> None:
        if self.query_one("#filter-input").display:
            self._close_filter()
            return
        self.view.only = None
        self.view.text = ""
        self.draw()

    def action_cycle_window(self) -> None:
        self.view.window = WINDOWS[(WINDOWS.index(self.view.window) + 1) % len(WINDOWS)]
        # The header says which window is being read at once; its rollups follow.
        self.draw()
        # While paused, the new window is read at the paused instant.
        self.request_frame(self.frame.now if self.view.paused and self.frame else None)
        self.notify(f"Window: {self.view.window}", timeout=1.5)

    def action_toggle_accuracy(self) -> None:
        """Cost accuracy in the place of the routes table, and back."""
        self.view.accuracy = not self.view.accuracy
        self._show_accuracy()
        if self.frame is not None:
            self.draw()

    def _show_accuracy(self) -> None:
        shown = self.view.accuracy
        accuracy, routes = self.query_one(AccuracyTable), self.query_one(RouteTable)
        had_focus = self.focused in (accuracy, routes)
        accuracy.display = shown
        routes.display = not shown
        self.query_one("#rollups-row").set_class(shown, "-accuracy")
        if had_focus:
            self.set_focus(accuracy if shown else routes, scroll_visible=False)

    def action_cycle_sort(self) -> None:
        """Sort the routes when they have the focus, else the models, by their next column."""
        view = self.view
        sorts: tuple[str, ...]
        if isinstance(self.focused, RouteTable):
            sorts = RouteTable.SORTS
            view.route_sort = sorts[(sorts.index(view.route_sort) + 1) % len(sorts)]
            self.notify(f"Routes by {view.route_sort}", timeout=1.5)
        else:
            sorts = ModelTable.SORTS
            view.model_sort = sorts[(sorts.index(view.model_sort) + 1) % len(sorts)]
            self.notify(f"Models by {view.model_sort}", timeout=1.5)
        self.draw()

    def action_toggle_pause(self) -> None:
        self.view.paused = not self.view.paused
        if self.view.paused and self.frame is not None:
            self._wanted = (self.frame.window, self.frame.now)  # a frame on its way is dropped
        self.refresh_view()

    def action_clear(self) -> None:
        kept = ("\nThe ledger keeps every call on disk: the view starts over until the next "
                "start." if self.ctx.runtime.ledger is not None else "")
        self.post_message(Confirm("Forget every call, trace and counter held so far?\n"
                                  "Ingest continues; this cannot be undone." + kept,
                                  yes="Clear", on_answer=lambda _yes: self._clear_store()))

    @work(thread=True, group="clear", name="clear", exit_on_error=False)
    def _clear_store(self) -> None:
        """Forgetting a million calls frees a million objects: not on the UI loop."""
        self.ctx.runtime.store.clear()
        self.post_message(StoreCleared())

    def on_store_cleared(self, _: StoreCleared) -> None:
        self.dismissed_error = None
        self.frame = None
        self.request_frame()
        self.notify("Cleared every call and counter.", timeout=2)

    def action_export(self) -> None:
        now = self.frame.now if self.frame is not None and self.view.paused else self.ctx.clock()
        self._export(self.view.window, now)

    @work(thread=True, group="export", name="export", exit_on_error=False)
    def _export(self, window: str, now: float) -> None:
        rt = self.ctx.runtime
        doc = rt.analytics.document(window, now=now, stats=rt.store.stats(),
                                    pricing=rt.pricer.info(), source=rt.source)
        path = self.ctx.write_json("plano-obs-export", doc.model_dump_json(indent=2))
        self.app.call_from_thread(
            self.notify, f"Rollups ({window}) written to {path}", title="Exported")

    def action_dismiss_error(self) -> None:
        shown = self.query_one(ErrorBanner).shown
        if shown is not None:
            self.dismissed_error = shown.request_id
            self.draw()

    def action_session(self) -> None:
        session = self._highlighted_session()
        if session is not None:
            self.post_message(OpenSession(session, self._flagged_keys()))

    # -- drilldown ------------------------------------------------------------------------------

    def _flagged_keys(self) -> tuple[str, ...]:
        return tuple(call_key(f.trace_id, f.span_id)
                     for f in (self.frame.shown_flagged(self.view) if self.frame else []))

    def _highlighted_session(self) -> str | None:
        table = self.focused
        if not isinstance(table, FlaggedTable | RecentTable) or table.highlighted_key is None:
            return None
        call = self.ctx.runtime.store.get_call(*split_key(table.highlighted_key))
        return call.session_id if call is not None else None

    def on_row_table_highlighted(self, _: RowTable.Highlighted) -> None:
        self._sync_bindings()

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        event.stop()
        key, table = event.key, event.table
        if isinstance(table, FlaggedTable | RecentTable):
            self.post_message(OpenCall(key, self._flagged_keys()))
        elif isinstance(table, ModelTable):
            self._filter_by(table.highlighted_model)
        elif isinstance(table, RouteTable):
            self._filter_by(table.highlighted_route)
        elif isinstance(table, AccuracyTable):
            self._filter_by(table.highlighted_text)

    def _filter_by(self, text: str | None) -> None:
        if text:
            self.view.text = text
            self.draw()
            self.notify(f"Filter: {text}  (esc to drop it)", timeout=2)
