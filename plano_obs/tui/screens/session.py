"""Every turn of one session, in order; ``enter`` opens a turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from plano_obs.model import LLMCall
from plano_obs.tui.context import Context
from plano_obs.tui.keys import GLOBAL_KEYS
from plano_obs.tui.messages import OpenCall
from plano_obs.tui.text import clean, count, has_usage, missing_cost, plural, usd
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.recent import RecentTable
from plano_obs.tui.widgets.table import RowTable


@dataclass
class SessionLoaded(Message):
    """The session's held turns, oldest first."""

    calls: list[LLMCall]


class SessionScreen(Screen[None]):
    """The calls of one session (``x-model-affinity``), oldest turn first."""

    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("escape", "back", "Back", tooltip="Return to where you were", id="back"),
    ]

    def __init__(self, ctx: Context, session_id: str, flagged: Sequence[str] = ()) -> None:
        super().__init__()
        self.ctx = ctx
        self.session_id = session_id
        self.flagged = list(flagged)

    def compose(self) -> ComposeResult:
        yield Static(id="session-title")
        yield RecentTable(id="session-turns", follow=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"Session {clean(self.session_id, 60)}", style="bold")
        title.append(" · reading…", style="italic")
        self.query_one("#session-title", Static).update(title)
        self.query_one(RecentTable).focus()
        self._load()

    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def _load(self) -> None:
        """Finding one session's turns scans every held call: not on the UI loop."""
        calls = [c for c in self.ctx.runtime.store.calls_snapshot()
                 if c.session_id == self.session_id]
        self.post_message(SessionLoaded(calls))

    def on_session_loaded(self, message: SessionLoaded) -> None:
        calls = message.calls
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        models = sorted({c.model for c in calls if c.model})
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"Session {clean(self.session_id, 60)}", style="bold")
        title.append(f" · {plural(len(calls), 'turn')} held")
        title.append(f" · cost {usd(sum(costs)) if costs else usd(None)}")
        missing = missing_cost(len(calls) - len(costs),
                               sum(c.cost_usd is None and not has_usage(c) for c in calls))
        if missing:
            title.append(f" ({missing})", style="yellow")
        errors = sum(c.is_error for c in calls)
        flagged = sum(c.flagged for c in calls)
        if errors:
            title.append(f" · {plural(errors, 'error')}", style="red")
        if flagged:
            title.append(f" · 🚩 {count(flagged)}", style="magenta")
        title.append(f" · {clean(', '.join(models), 120)}", style="dim")
        self.query_one("#session-title", Static).update(title)
        table = self.query_one(RecentTable)
        table.empty_text = "No turn of this session is held any more (evicted)"
        table.show(calls, self.ctx.clock(), f"Turns · oldest first · {len(calls):,}")

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        event.stop()
        self.post_message(OpenCall(event.key, tuple(self.flagged)))

    def action_back(self) -> None:
        self.dismiss()


__all__ = ["SessionScreen"]
