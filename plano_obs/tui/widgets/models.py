"""The per-model rollup table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from plano_obs.analytics.document import ModelRollup
from plano_obs.tui.messages import TryOnAnotherModel
from plano_obs.tui.text import count, ms, safe, usd_decimals, usd_fixed
from plano_obs.tui.widgets.quiet import set_title
from plano_obs.tui.widgets.table import Column, RowTable


class ModelTable(RowTable):
    """Requests, errors, cost, latency and flags per resolved model."""

    COLUMNS = (
        Column("Model", keep=90, min_width=12, max_width=48, grow=True),
        Column("Req", numeric=True, keep=100, sort="requests"),
        Column("Err", numeric=True, keep=60, sort="errors"),
        Column("Cost", numeric=True, keep=100, sort="cost"),
        Column("p95", numeric=True, keep=50, sort="p95 latency"),
        Column("🚩", numeric=True, keep=40, sort="flagged"),
    )
    #: What ``s`` cycles through on this table, in order.
    SORTS = ("requests", "cost", "p95 latency", "errors", "flagged")
    BINDINGS = [
        Binding("enter", "select", "Filter by model", id="filter_row",
                tooltip="On Models: show only calls of the model under the cursor"),
        Binding("o", "try_other_model", "Other model", id="try_other_model",
                tooltip="What if the calls of this model had run on another model"),
    ]

    def show(self, rows: Sequence[ModelRollup], sort: str) -> None:
        """Render ``rows`` (already in ``sort`` order)."""
        self.sort = sort
        set_title(self, f"Models · {len(rows):,} · by {sort}")
        decimals = usd_decimals(m.cost_usd for m in rows)
        seen: set[str] = set()
        out = []
        for m in rows:
            key = f"{m.model or ''}\x00{m.provider or ''}"
            if key in seen:
                continue
            seen.add(key)
            out.append((key, (
                safe(m.model or "(unknown)", "bold" if m.model else "dim"),
                Text(count(m.requests)),
                Text(count(m.errors), style="red" if m.errors else "dim"),
                Text(usd_fixed(m.cost_usd, decimals)),
                Text(ms(m.latency_ms.p95)),
                Text(count(m.flagged) if m.flagged else "", style="magenta"),
            )))
        self.set_rows(out)

    @property
    def highlighted_model(self) -> str | None:
        """The model under the cursor."""
        key = self.highlighted_key
        return key.split("\x00", 1)[0] or None if key else None

    def action_try_other_model(self) -> None:
        """Ask for the what-if screen for the model under the cursor."""
        model = self.highlighted_model
        if model is not None:
            self.post_message(TryOnAnotherModel(model=model))
