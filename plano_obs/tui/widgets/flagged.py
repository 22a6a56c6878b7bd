"""Flagged calls (🚩) ranked for triage: worst quality, then severity, then cost."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from plano_obs.analytics.document import FlaggedCall
from plano_obs.tui.text import (
    DASH,
    age,
    clean,
    plural,
    safe,
    status_text,
    usd_decimals,
    usd_fixed,
)
from plano_obs.tui.view import call_key
from plano_obs.tui.widgets.table import Column, RowTable

QUALITY_STYLES = {"severe": "bold red", "poor": "yellow", "neutral": "dim",
                  "good": "green", "excellent": "bold green"}


def quality_text(quality: str | None, score: float | None) -> Text:
    """``🚩 severe 7`` coloured by quality (the score is 0–100, lower is worse)."""
    out = Text("🚩 ")
    out.append(clean(quality or "unknown", 12), style=QUALITY_STYLES.get(quality or "", "dim"))
    if score is not None:
        out.append(f" {score:.0f}", style="dim")
    return out


def categories_text(flagged: FlaggedCall) -> Text:
    """``disengagement×7 stagnation×4``: each category that fired, worst first."""
    out = Text()
    for i, c in enumerate(flagged.categories):
        if i:
            out.append(" ")
        style = "bold red" if (c.severity or 0) >= 3 else "yellow" if (c.severity or 0) >= 2 else ""
        out.append(clean(c.name.rsplit(".", 1)[-1], 20), style=style)
        out.append(f"×{c.count}", style="dim")
    return out if flagged.categories else Text(DASH, style="dim")


class FlaggedTable(RowTable):
    """The ranked flagged calls; ``enter`` opens one."""

    COLUMNS = (
        Column("Quality", keep=80, min_width=9, max_width=16),
        Column("Signals", keep=20, min_width=10, max_width=48),
        Column("Status", numeric=True, keep=95),
        Column("Model", keep=90, min_width=12, max_width=48, grow=True),
        Column("Route", keep=30, min_width=8, max_width=32, grow=True),
        Column("Session", keep=10, min_width=8, max_width=20),
        Column("Age", numeric=True, keep=100),
        Column("Cost", numeric=True, keep=100),
    )

    def show(self, rows: Sequence[FlaggedCall], now: float, total: int) -> None:
        """Render ``rows``; ``total`` is the window's flagged count (the list is bounded)."""
        self.border_title = f"🚩 Flagged · {len(rows):,} of {plural(total, 'call')} · worst first"
        decimals = usd_decimals(f.cost_usd for f in rows)
        self.set_rows([
            (call_key(f.trace_id, f.span_id), (
                quality_text(f.quality, f.quality_score),
                categories_text(f),
                status_text(f.status_code),
                safe(f.model, "bold"),
                safe(f.route or "(direct)", "" if f.route else "dim"),
                safe(f.session_id, "dim"),
                Text(age(f.at, now)),
                Text(usd_fixed(f.cost_usd, decimals)),
            ))
            for f in rows
        ])
