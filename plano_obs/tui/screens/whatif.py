"""What if: the calls of a route (or a model) replayed on another model, with intervals.

The targets are the priced models of the held calls; the replay runs in a thread worker over
the calls the store holds, and its summary (totals with 95% intervals, the rule, quality
evidence, caveats) arrives as a message.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
                 model: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.route = route
        self.direct = direct
        self.model = model

    @property
    def scope(self) -> str:
        """The calls in question, in words."""
        if self.route is not None:
            return f"route {self.route}"
        if self.direct:
            return "direct calls"
        return f"model {self.model}"

    def compose(self) -> ComposeResult:
        yield Static(Text(f"What if {self.scope} had run on another model? Pick a priced "
                          f"model (enter); esc goes back."), id="whatif-title")
        yield OptionList(id="whatif-targets")
        with VerticalScroll(id="whatif-scroll"):
            yield Static(Text("Reading the priced models…"), id="whatif-result")
        yield KeysFooter(show_command_palette=True)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._load_targets()

    @work(thread=True, exclusive=True, exit_on_error=False, group="whatif-targets")
    def _load_targets(self) -> None:
        calls = self.ctx.runtime.store.calls_snapshot()
        mine = {c.cost.catalog_entry for c in calls
                if self.model is not None and c.model == self.model and c.cost is not None}
        models = sorted({c.cost.catalog_entry for c in calls
                         if c.cost is not None and c.cost.catalog_entry} - mine)
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
        calls = runtime.store.calls_snapshot()
        if not calls:
            self.post_message(self.Computed("No calls held yet."))
            return
        end_ns = max(c.end_ns for c in calls)
        end = datetime.fromtimestamp(end_ns / 1e9, UTC)
        rules = single_rule(target, route=self.route, direct=self.direct, model=self.model)
        try:
            result = replay(calls, rules, runtime.pricer, window=Window("held calls", None, end),
                            seed=0, iterations=CONSOLE_ITERATIONS,
                            source=f"the {len(calls):,} calls held by the console")
        except ReplayError as e:
            self.post_message(self.Computed(f"Cannot replay: {e}"))
            return
        text = summary_text(result)
        evicted = runtime.store.stats().evicted_calls
        if evicted:
            text += (f"\nOnly the calls still held are replayed: {evicted:,} older calls were "
                     f"evicted (--capacity).\n")
        self.post_message(self.Computed(text))

    def on_what_if_screen_computed(self, message: Computed) -> None:
        self.query_one("#whatif-result", Static).update(Text(message.text))
