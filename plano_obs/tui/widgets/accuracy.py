"""The cost-accuracy table: the gateway's reported cost beside the catalog's list price."""

from __future__ import annotations

import math
from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding

from plano_obs.analytics.document import CostAccuracy, CostAccuracyRow
from plano_obs.tui.text import DASH, clean, count, plural
from plano_obs.tui.widgets.table import Column, RowTable

__all__ = ["AccuracyTable", "rate_decimals"]

#: The style of a row whose reported cost drifted from list price beyond the threshold.
DRIFT_STYLE = "bold red"


def rate_decimals(values: Iterable[float | None]) -> int:
    """Decimals one $/M column uses for all its rows: two significant digits of its smallest
    non-zero rate, between 2 and 4."""
    smallest = min((abs(v) for v in values if v), default=None)
    if smallest is None or smallest >= 0.1:
        return 2
    return max(2, min(4, 1 - math.floor(math.log10(smallest))))


def _rate(value: float | None, decimals: int) -> str:
    return DASH if value is None else f"{value:,.{decimals}f}"


def _pair(inp: float | None, out: float | None, decimals: int) -> str:
    """``2.50/10.00`` ($ per million input/output tokens); unknown halves as —."""
    if inp is None and out is None:
        return DASH
    return f"{_rate(inp, decimals)}/{_rate(out, decimals)}"


def ratio_text(row: CostAccuracyRow) -> str:
    """``1.18 (1.02/1.25)``: measured over list cost, then input and output alone."""
    if row.basis == "derived":
        return DASH if row.ratio is None else f"{row.ratio:.2f} (derived)"
    if row.ratio is None:
        return DASH
    text = f"{row.ratio:.2f}"
    if row.input_ratio is not None or row.output_ratio is not None:
        inp = DASH if row.input_ratio is None else f"{row.input_ratio:.2f}"
        out = DASH if row.output_ratio is None else f"{row.output_ratio:.2f}"
        text += f" ({inp}/{out})"
    return text


def drift_text(row: CostAccuracyRow) -> str:
    """``+18.0%`` (the furthest of ratio, input and output ratio from 1), or — when too few
    calls were compared or the row is derived."""
    return DASH if row.drift_pct is None else f"{row.drift_pct:+.1f}%"


class AccuracyTable(RowTable):
    """Per provider, then its models: calls compared, effective and list $/M, ratio, drift."""

    # Every column is kept at any width: the numbers are compact (about 60 cells in all) and
    # the name, first in line, gives way to them before anything else.
    COLUMNS = (
        Column("Provider / model", keep=90, min_width=14, max_width=48, grow=True),
        Column("Basis", keep=91, min_width=8, max_width=8),
        Column("Calls", numeric=True, keep=97),
        Column("Eff $/M", numeric=True, keep=95),
        Column("List $/M", numeric=True, keep=94),
        Column("Ratio in/out", numeric=True, keep=99),
        Column("Drift", numeric=True, keep=98),
    )
    BINDINGS = [
        Binding("enter", "select", "Filter by row", id="filter_row",
                tooltip="On Cost accuracy: show only calls of the provider or model under "
                        "the cursor"),
    ]

    def show(self, accuracy: CostAccuracy | None, window: str) -> None:
        """Render ``accuracy`` (of ``window``): each provider with its models under it."""
        span = "yet" if window == "all" else f"in the last {window}"
        self.border_title = "Cost accuracy · reported vs list price"
        if accuracy is None or not accuracy.providers:
            self.border_subtitle = ""
            self.empty_text = f"No priced calls {span}."
            self.set_rows([])
            return
        self.border_subtitle = (f"calls compared/reported · $/M in/out · drift >"
                                f"{accuracy.threshold_pct:g}% over ≥{accuracy.min_calls} calls")
        if not any(r.basis == "reported" for r in accuracy.providers):
            derived = sum(r.calls for r in accuracy.providers)
            self.empty_text = (
                f"No gateway-reported costs {span}.\n"
                f"{plural(derived, 'call')} priced from the catalog only: derived from the\n"
                "list price itself, so a ratio of 1.00 by construction.\n"
                "Gateways with a cost source send llm.usage.*_cost_usd;\n"
                "their figures show here beside list price, and drift is flagged.")
            self.set_rows([])
            return
        rows = [*accuracy.providers, *accuracy.models]
        eff = rate_decimals(v for r in rows for v in (r.effective_input_usd_per_m,
                                                      r.effective_output_usd_per_m))
        listed = rate_decimals(v for r in rows for v in (r.list_input_usd_per_m,
                                                         r.list_output_usd_per_m))
        out: list[tuple[str, tuple[Text, ...]]] = []
        for provider in accuracy.providers:
            out.append((f"p\x00{provider.provider or ''}",
                        self._row_cells(provider, provider_row=True, eff=eff, listed=listed)))
            for model in accuracy.models:
                if model.provider == provider.provider:
                    out.append((f"m\x00{model.provider or ''}\x00{model.model or ''}",
                                self._row_cells(model, provider_row=False, eff=eff,
                                            listed=listed)))
        self.set_rows(out)

    @staticmethod
    def _row_cells(row: CostAccuracyRow, *, provider_row: bool, eff: int, listed: int
               ) -> tuple[Text, ...]:
        derived = row.basis == "derived"
        style = "dim" if derived else DRIFT_STYLE if row.drift else ""
        name = Text(no_wrap=True, overflow="ellipsis")
        if provider_row:
            name.append(clean(row.provider or "(unknown provider)", 60),
                        style="dim" if derived else "bold")
        else:
            name.append("  ")
            name.append(clean(row.model or "(unknown model)", 60), style=style)
            entry = row.pricing_entry
            if entry and row.provider and entry.startswith(f"{row.provider}/"):
                entry = entry[len(row.provider) + 1:]  # the provider is the row above
            if entry and entry != row.model:
                name.append(f" · {clean(entry, 60)}", style="dim")
        if row.drift:
            name.append(" ▲" if (row.drift_pct or 0) > 0 else " ▼", style=DRIFT_STYLE)
        calls = (count(row.calls) if derived
                 else f"{count(row.compared_calls)}/{count(row.reported_calls)}")
        return (
            name,
            Text(row.basis, style="dim" if derived else "cyan"),
            Text(calls, style=style),
            Text(_pair(row.effective_input_usd_per_m, row.effective_output_usd_per_m, eff),
                 style=style),
            Text(_pair(row.list_input_usd_per_m, row.list_output_usd_per_m, listed),
                 style="dim" if derived else ""),
            Text(ratio_text(row), style=style),
            Text(drift_text(row), style=style),
        )

    @property
    def highlighted_text(self) -> str | None:
        """The model (or, on a provider's row, the provider) under the cursor."""
        key = self.highlighted_key
        if key is None:
            return None
        parts = key.split("\x00")
        return (parts[2] if parts[0] == "m" else parts[1]) or None
