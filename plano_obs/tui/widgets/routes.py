"""The route-share table: how routed traffic splits across routing preferences."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from plano_obs.analytics.document import RouteRollup
from plano_obs.tui.text import DASH, count, safe, usd
from plano_obs.tui.widgets.table import KeptCursorTable

_COLUMNS = ("Route", "Req", "Share", "Err", "Cost")
_BAR = 5


def share_bar(share_pct: float | None) -> Text:
    """``52.6% ████▏`` — the share with a small bar (eighth-block resolution)."""
    if share_pct is None:
        return Text(f"{DASH:>6}", style="dim")
    eighths = round(max(0.0, min(100.0, share_pct)) / 100 * _BAR * 8)
    bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    out = Text(f"{share_pct:5.1f}% ")
    out.append(f"{bar:<{_BAR}}", style="cyan")
    return out


class RouteTable(KeptCursorTable):
    """Requests, share, errors and cost per routing preference; direct traffic too."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Filter by route", id="filter_row",
                tooltip="On Routes: show only calls of the route under the cursor"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(_COLUMNS, id=id)

    def show(self, rows: Sequence[RouteRollup], sort: str) -> None:
        """Render ``rows`` (already in ``sort`` order)."""
        self.border_title = f"Routes · share of routed calls · by {sort}"
        self.replace_rows([
            (r.route if r.route is not None else "\x00direct", [
                safe(r.route, "bold", 16) if r.route is not None else Text("(direct)", "dim"),
                Text(count(r.requests), justify="right"),
                share_bar(r.share_pct),
                Text(count(r.errors), style="red" if r.errors else "dim", justify="right"),
                Text(usd(r.cost_usd, compact=True), justify="right"),
            ])
            for r in rows
        ])

    @property
    def highlighted_route(self) -> str | None:
        """The route under the cursor (None for direct traffic)."""
        key = self.highlighted_key
        return None if key is None or key.startswith("\x00") else key
