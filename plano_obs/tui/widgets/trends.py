"""Per-minute trend charts: request rate, p95 latency and spend."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from plano_obs.analytics.document import TrendPoint
from plano_obs.tui.text import DASH, count, ms, usd
from plano_obs.tui.widgets.quiet import set_content, set_title


class Trends(Vertical):
    """Three sparklines of the last minutes, each with its latest value."""

    def compose(self) -> ComposeResult:
        for name in ("requests", "latency", "cost"):
            yield Static(id=f"trend-{name}-label", classes="trend-label")
            yield Sparkline([], id=f"trend-{name}", classes=f"trend trend-{name}")

    def show(self, points: Sequence[TrendPoint]) -> None:
        """Render ``points`` (oldest first, one per minute)."""
        set_title(self, f"Trends · last {len(points)} min")
        # The current minute is still filling up; label the last complete one.
        last = points[-2] if len(points) > 1 else None
        self._series("requests", [p.requests for p in points], "requests/min",
                     count(last.requests) if last else DASH)
        self._series("latency", [p.p95_latency_ms or 0.0 for p in points], "p95 latency",
                     ms(last.p95_latency_ms) if last else DASH)
        self._series("cost", [p.cost_usd or 0.0 for p in points], "spend/min",
                     usd(last.cost_usd, compact=True) if last else DASH)

    def _series(self, name: str, data: list[float] | list[int], label: str, value: str) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(label, style="dim")
        text.append(f" {value}", style="bold")
        set_content(self.query_one(f"#trend-{name}-label", Static), text)
        sparkline = self.query_one(f"#trend-{name}", Sparkline)
        values = [float(x) for x in data]
        if sparkline.data != values:
            sparkline.data = values
