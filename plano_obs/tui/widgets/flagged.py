"""Flagged calls (🚩) ranked for triage: worst quality, then severity, then cost."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from rich.text import Text

from plano_obs.analytics.document import FlaggedCall
from plano_obs.tui.text import (
    CALL_COST_DIGITS,
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
from plano_obs.tui.widgets.quiet import set_title
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # call key -> (cost decimals, its cells but the age, {age: whole row})
        self._cells_by_key: OrderedDict[
            str, tuple[int, tuple[Text, ...], dict[str, tuple[Text, ...]]]] = OrderedDict()

    def show(self, rows: Sequence[FlaggedCall], now: float, total: int) -> None:
        """Render ``rows``; ``total`` is the window's flagged count (the list is bounded)."""
        set_title(self, f"🚩 Flagged · {len(rows):,} of {plural(total, 'call')} · worst first")
        decimals = usd_decimals((f.cost_usd for f in rows), CALL_COST_DIGITS)
        cache = self._cells_by_key
        out = []
        for f in rows:
            key = call_key(f.trace_id, f.span_id)
            when = age(f.at, now)
            hit = cache.get(key)
            if hit is None or hit[0] != decimals:
                hit = cache[key] = (decimals, self._row_cells(f, decimals), {})
            else:
                cache.move_to_end(key)
            by_age = hit[2]  # only the age moves from one refresh to the next
            cells = by_age.get(when)
            if cells is None:
                by_age.clear()
                head = hit[1]
                cells = by_age[when] = (*head[:6], Text(when), head[6])
            out.append((key, cells))
        while len(cache) > 1_000:  # rows kept ready across filters, a few lists' worth
            cache.popitem(last=False)
        self.set_rows(out)

    @staticmethod
    def _row_cells(f: FlaggedCall, decimals: int) -> tuple[Text, ...]:
        """Every cell of the call's row but its age."""
        return (
            quality_text(f.quality, f.quality_score),
            categories_text(f),
            status_text(f.status_code),
            safe(f.model, "bold"),
            safe(f.route or "(direct)", "" if f.route else "dim"),
            safe(f.session_id, "dim"),
            Text(usd_fixed(f.cost_usd, decimals)),
        )
