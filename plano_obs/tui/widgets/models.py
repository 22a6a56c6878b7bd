"""The per-model rollup table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from plano_obs.analytics.document import ModelRollup
from plano_obs.tui.text import count, ms, safe, usd
from plano_obs.tui.widgets.table import KeptCursorTable

_COLUMNS = ("Model", "Req", "Err", "Cost", "p95", "🚩")


class ModelTable(KeptCursorTable):
    """Requests, errors, cost, latency and flags per resolved model."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Filter by model", id="filter_row",
                tooltip="On Models: show only calls of the model under the cursor"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(_COLUMNS, id=id)

    def show(self, rows: Sequence[ModelRollup], sort: str) -> None:
        """Render ``rows`` (already in ``sort`` order)."""
        self.border_title = f"Models · by {sort}"
        seen: set[str] = set()
        out = []
        for m in rows:
            key = f"{m.model or ''}\x00{m.provider or ''}"
            if key in seen:
                continue
            seen.add(key)
            out.append((key, [
                safe(m.model or "(unknown)", "bold" if m.model else "dim", 26),
                Text(count(m.requests), justify="right"),
                Text(count(m.errors), style="red" if m.errors else "dim", justify="right"),
                Text(usd(m.cost_usd, compact=True), justify="right"),
                Text(ms(m.latency_ms.p95), justify="right"),
                Text(count(m.flagged) if m.flagged else "", style="magenta", justify="right"),
            ]))
        self.replace_rows(out)

    @property
    def highlighted_model(self) -> str | None:
        """The model under the cursor."""
        key = self.highlighted_key
        return key.split("\x00", 1)[0] or None if key else None
