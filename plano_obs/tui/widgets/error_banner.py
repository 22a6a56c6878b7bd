"""The error banner: the most recent failed call, red for 5xx and yellow for 4xx."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from plano_obs.analytics.document import ErrorEntry
from plano_obs.tui.text import DASH, ago, clean
from plano_obs.tui.widgets.quiet import set_content, set_display


class ErrorBanner(Static):
    """Shown only while there is an error in the window that the user has not dismissed."""

    shown: ErrorEntry | None = None

    def show(self, error: ErrorEntry | None, now: float, dismissed: str | None) -> None:
        """Render ``error``; hidden when None or when its request id was ``dismissed``."""
        visible = error is not None and error.request_id != dismissed
        set_display(self, visible)
        self.shown = error if visible else None
        if error is None or not visible:
            return
        server = (error.status_code or 0) >= 500 or error.status_code is None
        self.set_class(server, "-server")
        self.set_class(not server, "-client")
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(" ✖ ")
        status = DASH if error.status_code is None else str(error.status_code)
        head.append(f"{status} {clean(error.reason or 'error', 40)}", style="bold")
        head.append(f" · {clean(error.model or 'unknown model', 50)}")
        head.append(f" · route {clean(error.route or '(direct)', 30)}")
        head.append(f" · {ago(error.at, now)}")
        head.append(f" · request {clean(error.request_id, 40)}")
        detail = Text(no_wrap=True, overflow="ellipsis")
        detail.append("   ")
        if error.error_type:
            detail.append(f"{clean(error.error_type, 40)}: ", style="bold")
        detail.append(clean(error.error_message or "no error message", 300))
        set_content(self, Text("\n").join([head, detail]))
