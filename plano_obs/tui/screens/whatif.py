"""What if: the calls of a route (or a model) replayed on another model, with intervals.

The targets are the priced models of the calls held (in memory and in the ledger); the replay
runs in a thread worker over the calls of the window the main screen shows (from the ledger when
there is one, so up to 30 days; else from memory), and its summary (totals with 95% intervals,
the rule, quality evidence, caveats) arrives as a message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from plano_obs.model import WINDOW_SECONDS
from plano_obs.tui.context import Context
from plano_obs.tui.widgets.footer import KeysFooter

__all__ = ["WhatIfScreen"]

#: Replicates per interval in the console: enough for two significant digits, quick to draw.
CONSOLE_ITERATIONS = 500


class WhatIfScreen(Screen[None]):
    """Pick a priced model; see what the chosen calls would have cost and how fast they'd be."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back",
                tooltip="Back to the main screen"),
    ]

    class Targets(Message):
        """The priced models a replay can target, read in a worker."""

        def __init__(self, models: list[str]) -> None:
            super().__init__()
            self.models = models

    class Computed(Message):
        """A replay's summary, or why there is none."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, ctx: Context, *, route: str | None = None, direct: bool = False,
                 model: str | None = None, window: str = "all",
                 now: float | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.route = route
        self.direct = direct
        self.model = model
        self.window = window
        self.now = ctx.clock() if now is None else now

    @property
    def scope(self) -> str:
        """The calls in question, in words."""
        if self.route is not None:
            return f"route {self.route}"
        if self.direct:
            return "direct calls"
        return f"model {self.model}"

    @property
    def span(self) -> str:
        """The window replayed, in words."""
        return "all calls held" if self.window == "all" else f"the last {self.window}"

    def compose(self) -> ComposeResult:
        yield Static(Text(f"What if {self.scope} had run on another model, over {self.span}? "
                          f"Pick a priced model (enter); esc goes back."), id="whatif-title")
        yield OptionList(id="whatif-targets")
        with VerticalScroll(id="whatif-scroll"):
            yield Static(Text("Reading the priced models…"), id="whatif-result")
        yield KeysFooter(show_command_palette=True)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._load_targets()

    @work(thread=True, exclusive=True, exit_on_error=False, group="whatif-targets")
    def _load_targets(self) -> None:
        runtime = self.ctx.runtime
        mine: set[str | None] = set()
        if self.model is not None:
            mine = {c.cost.catalog_entry for c in runtime.store.calls_snapshot()
                    if c.model == self.model and c.cost is not None}
        models = sorted(runtime.priced_models() - mine)
        self.post_message(self.Targets(models))

    def on_what_if_screen_targets(self, message: Targets) -> None:
        targets = self.query_one(OptionList)
        targets.clear_options()
        targets.add_options([Option(Text(m), id=m) for m in message.models])
        if message.models:
            targets.highlighted = 0
        result = self.query_one("#whatif-result", Static)
        result.update(Text("Pick a model to replay these calls on." if message.models else
                           "No priced model among the held calls to replay on."))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        target = event.option.id
        if target is None:
            return
        self.query_one("#whatif-result", Static).update(
            Text(f"Replaying {self.scope} on {target}…"))
        self._replay(target)

    @work(thread=True, exclusive=True, exit_on_error=False, group="whatif-replay")
    def _replay(self, target: str) -> None:
        from plano_obs.replay import ReplayError, Window, replay, single_rule
        from plano_obs.replay.summary import summary_text

        runtime = self.ctx.runtime
        held = runtime.window_calls(self.window, self.now)
        calls = held.calls
        if not calls:
            self.post_message(self.Computed(f"No calls in {self.span}."))
            return
        end = datetime.fromtimestamp(self.now, UTC)
        start = None if self.window == "all" else end - timedelta(
            seconds=WINDOW_SECONDS[self.window] or 0)
        rules = single_rule(target, route=self.route, direct=self.direct, model=self.model)
        where = "the ledger" if held.source.startswith("ledger") else "memory"
        read = f"{len(calls):,} calls of {self.span}, from {where}"
        try:
            result = replay(calls, rules, runtime.pricer,
                            window=Window(self.window, start, end), seed=0,
                            iterations=CONSOLE_ITERATIONS,
                            source=read)
        except ReplayError as e:
            self.post_message(self.Computed(f"Cannot replay: {e}"))
            return
        text = f"Replayed {read}.\n" + summary_text(result)
        if held.in_window > len(calls):
            text += (f"\nOnly the newest {len(calls):,} of the window's {held.in_window:,} calls "
                     f"are replayed (plano obs whatif --ledger reads them all).\n")
        if held.evicted and self.window == "all":
            text += (f"\nOnly the calls still held are replayed: {held.evicted:,} older calls "
                     f"were evicted (--capacity).\n")
        self.post_message(self.Computed(text))

    def on_what_if_screen_computed(self, message: Computed) -> None:
        self.query_one("#whatif-result", Static).update(Text(message.text))
