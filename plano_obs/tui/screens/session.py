"""Every turn of one session, in order; ``enter`` opens a turn."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from plano_obs.tui.context import Context
from plano_obs.tui.keys import GLOBAL_KEYS
from plano_obs.tui.screens.detail import DetailScreen
from plano_obs.tui.text import clean, count, usd
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.recent import RecentTable
from plano_obs.tui.widgets.table import RowTable


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
        yield KeysFooter(show_command_palette=True)

    def on_mount(self) -> None:
        calls = [c for c in self.ctx.runtime.store.calls_snapshot()
                 if c.session_id == self.session_id]
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        models = sorted({c.model for c in calls if c.model})
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Session ", style="bold")
        title.append(clean(self.session_id, 60), style="bold")
        title.append(f" · {count(len(calls))} turns held")
        title.append(f" · cost {usd(sum(costs)) if costs else usd(None)}")
        if costs and len(costs) < len(calls):
            title.append(f" ({len(calls) - len(costs)} unpriced)", style="yellow")
        errors = sum(c.is_error for c in calls)
        flagged = sum(c.flagged for c in calls)
        if errors:
            title.append(f" · {errors} errors", style="red")
        if flagged:
            title.append(f" · 🚩 {flagged}", style="magenta")
        title.append(f" · {clean(', '.join(models), 120)}", style="dim")
        self.query_one("#session-title", Static).update(title)
        table = self.query_one(RecentTable)
        table.show(calls, self.ctx.clock(), f"Turns · oldest first · {len(calls)}")
        table.focus()

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        event.stop()
        self.app.push_screen(DetailScreen(self.ctx, event.key, self.flagged))

    def action_back(self) -> None:
        self.dismiss()


__all__ = ["SessionScreen"]
