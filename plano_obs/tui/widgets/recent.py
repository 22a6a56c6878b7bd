"""Recent calls, newest first, streaming in without moving the cursor."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from plano_obs.model import LLMCall
from plano_obs.tui.text import age, model_text, ms, safe, status_text, tokens, usd
from plano_obs.tui.view import call_key
from plano_obs.tui.widgets.table import KeptCursorTable

# The flag leads the row: on a narrow screen the last columns are the ones cut off.
_COLUMNS = ("Age", "🚩", "Status", "Model", "Route", "Session", "In", "Out", "Latency", "Cost")


class RecentTable(KeptCursorTable):
    """The newest calls that pass the view's filters; ``enter`` opens one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(_COLUMNS, id=id)

    def show(self, calls: Sequence[LLMCall], now: float, title: str) -> None:
        """Render ``calls`` (newest first) under ``title``."""
        self.border_title = title
        self.replace_rows([
            (call_key(c.trace_id, c.span_id), [
                Text(age(c.end_ns / 1e9, now), justify="right"),
                Text("🚩" if c.flagged else ""),
                status_text(c.status_code),
                model_text(c, 34),
                safe(c.route or "(direct)", "", 16),
                safe(c.session_id, "dim", 16),
                Text(tokens(c.prompt_tokens), justify="right"),
                Text(tokens(c.completion_tokens), justify="right"),
                Text(ms(c.duration_ms), justify="right"),
                Text(usd(c.cost_usd, compact=True), justify="right"),
            ])
            for c in calls
        ])
