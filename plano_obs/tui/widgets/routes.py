"""The route-share table: how routed traffic splits across routing preferences."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from plano_obs.analytics.document import RouteRollup
from plano_obs.tui.messages import TryOnAnotherModel
from plano_obs.tui.text import DASH, count, safe, usd_decimals, usd_fixed
from plano_obs.tui.widgets.quiet import set_title
from plano_obs.tui.widgets.table import Column, RowTable

_BAR = 5


def share_bar(share_pct: float | None) -> Text:
    """``52.6% ████▏`` — the share with a small bar (eighth-block resolution)."""
    if share_pct is None:
        return Text(DASH, style="dim")
    eighths = round(max(0.0, min(100.0, share_pct)) / 100 * _BAR * 8)
    bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    out = Text(f"{share_pct:5.1f}% ")
    out.append(f"{bar:<{_BAR}}", style="cyan")
    return out


class RouteTable(RowTable):
    """Requests, share, errors, cost and flags per routing preference; direct traffic too."""

    COLUMNS = (
        Column("Route", keep=90, min_width=10, max_width=40, grow=True),
        Column("Req", numeric=True, keep=100, sort="requests"),
        Column("Share", keep=30, min_width=12, max_width=12),
        Column("Err", numeric=True, keep=60, sort="errors"),
        Column("Cost", numeric=True, keep=100, sort="cost"),
        Column("🚩", numeric=True, keep=40, sort="flagged"),
    )
    #: What ``s`` cycles through on this table, in order.
    SORTS = ("requests", "cost", "errors", "flagged")
    BINDINGS = [
        Binding("enter", "select", "Filter by route", id="filter_row",
                tooltip="On Routes: show only calls of the route under the cursor"),
        Binding("o", "try_other_model", "Other model", id="try_other_model",
                tooltip="What if the calls of this route had run on another model"),
    ]

    def show(self, rows: Sequence[RouteRollup], sort: str) -> None:
        """Render ``rows`` (already in ``sort`` order)."""
        self.sort = sort
        set_title(self, f"Routes · {len(rows):,} · by {sort}")
        decimals = usd_decimals(r.cost_usd for r in rows)
        self.set_rows([
            (r.route if r.route is not None else "\x00direct", (
                safe(r.route, "bold") if r.route is not None else Text("(direct)", "dim"),
                Text(count(r.requests)),
                share_bar(r.share_pct),
                Text(count(r.errors), style="red" if r.errors else "dim"),
                Text(usd_fixed(r.cost_usd, decimals)),
                Text(count(r.flagged) if r.flagged else "", style="magenta"),
            ))
            for r in rows
        ])

    @property
    def highlighted_route(self) -> str | None:
        """The route under the cursor (None for direct traffic)."""
        key = self.highlighted_key
        return None if key is None or key.startswith("\x00") else key

    def action_try_other_model(self) -> None:
        """Ask for the what-if screen for the route under the cursor."""
        if self.highlighted_key is not None:
            route = self.highlighted_route
            self.post_message(TryOnAnotherModel(route=route, direct=route is None))
