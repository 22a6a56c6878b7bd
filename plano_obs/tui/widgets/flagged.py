"""Flagged calls (🚩) ranked for triage: worst quality, then severity, then cost."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from plano_obs.analytics.document import FlaggedCall
from plano_obs.tui.text import DASH, age, clean, safe, usd
from plano_obs.tui.view import call_key
from plano_obs.tui.widgets.table import KeptCursorTable

_COLUMNS = ("Quality", "Signals", "Model", "Route", "Session", "Age", "Cost")

QUALITY_STYLES = {"severe": "bold red", "poor": "yellow", "neutral": "dim",
                  "good": "green", "excellent": "bold green"}


def quality_text(quality: str | None, score: float | None) -> Text:
    """``🚩 severe 7`` coloured by quality."""
    out = Text("🚩 ")
    out.append(clean(quality or "unknown", 12), style=QUALITY_STYLES.get(quality or "", "dim"))
    if score is not None:
        out.append(f" {score:.0f}", style="dim")
    return out


def categories_text(flagged: FlaggedCall, limit: int = 28) -> Text:
    """``disengagement×7 stagnation×4``: each category that fired, worst first."""
    out = Text()
    for i, c in enumerate(flagged.categories):
        if i:
            out.append(" ")
        style = "bold red" if (c.severity or 0) >= 3 else "yellow" if (c.severity or 0) >= 2 else ""
        out.append(clean(c.name.rsplit(".", 1)[-1], 20), style=style)
        out.append(f"×{c.count}", style="dim")
    out.truncate(limit, overflow="ellipsis")
    return out if flagged.categories else Text(DASH, style="dim")


class FlaggedTable(KeptCursorTable):
    """The ranked flagged calls; ``enter`` opens one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(_COLUMNS, id=id)

    def show(self, rows: Sequence[FlaggedCall], now: float, total: int) -> None:
        """Render ``rows``; ``total`` is the window's flagged count (the list is bounded)."""
        self.border_title = f"🚩 Flagged · {len(rows)} of {total} · ranked for triage"
        self.replace_rows([
            (call_key(f.trace_id, f.span_id), [
                quality_text(f.quality, f.quality_score),
                categories_text(f),
                safe(f.model, "bold", 24),
                safe(f.route or "(direct)", "", 18),
                safe(f.session_id, "dim", 14),
                Text(age(f.at, now), justify="right"),
                Text(usd(f.cost_usd, compact=True), justify="right"),
            ])
            for f in rows
        ])
