"""Totals of the current window: requests, errors, cost, tokens, latency and sessions."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.widgets import Static

from plano_obs.analytics.document import Percentiles, Summary
from plano_obs.tui.text import DASH, count, missing_cost, ms, pct, tokens, usd
from plano_obs.tui.widgets.quiet import set_content, set_title

#: A line as (text, style) parts; each line has variants from the fullest to the shortest.
_Parts = Sequence[tuple[str, str]]


def _percentiles(label: str, p: Percentiles) -> Text:
    t = Text()
    t.append(f"{label:<8}", style="dim")
    for value in (p.p50, p.p95, p.p99):
        t.append(f"{ms(value):>9}")
    return t


def _fitting(variants: Sequence[_Parts], width: int) -> Text:
    """The fullest variant that fits ``width`` cells (the shortest when none does)."""
    texts = [Text.assemble(*parts) for parts in variants]
    if width <= 0:
        return texts[0]
    return next((t for t in texts if t.cell_len <= width), texts[-1])


def _lines(s: Summary) -> list[list[_Parts]]:
    errors_style = "bold red" if s.errors else "bold"
    rate = [] if s.error_rate is None else [(f" ({pct(s.error_rate * 100)})", "dim")]
    x4 = (count(s.errors_4xx), "yellow" if s.errors_4xx else "")
    x5 = (count(s.errors_5xx), "red" if s.errors_5xx else "")
    flagged = (count(s.flagged), "bold magenta" if s.flagged else "")
    cost = (usd(s.cost_usd), "bold green" if s.cost_usd is not None else "bold")
    missing = missing_cost(s.unpriced_requests, s.no_usage_requests)
    unpriced = [(f" ({missing})", "yellow")] if missing else []
    unpriced_short = [(f" ({count(s.unpriced_requests)} without cost)", "yellow")] \
        if missing else []
    speed = (DASH if s.tokens_per_second is None else f"{s.tokens_per_second:,.0f}", "")
    tin, tcached, tout = tokens(s.input_tokens), tokens(s.cached_input_tokens), \
        tokens(s.output_tokens)
    sep = (" · ", "dim")
    return [
        [[("requests ", "dim"), (count(s.requests), "bold"), ("  errors ", "dim"),
          (count(s.errors), errors_style), *rate],
         [("req ", "dim"), (count(s.requests), "bold"), (" err ", "dim"),
          (count(s.errors), errors_style), *rate]],
        [[("4xx ", "dim"), x4, (" · 5xx ", "dim"), x5, (" · sessions ", "dim"),
          (count(s.sessions), ""), (" · 🚩 ", "dim"), flagged],
         [("4xx ", "dim"), x4, (" · 5xx ", "dim"), x5, (" · sess ", "dim"),
          (count(s.sessions), ""), (" · 🚩 ", "dim"), flagged],
         [("4xx ", "dim"), x4, (" 5xx ", "dim"), x5, (" sess ", "dim"),
          (count(s.sessions), ""), (" 🚩 ", "dim"), flagged]],
        [[("cost ", "dim"), cost, *unpriced],
         [("cost ", "dim"), cost, *[(t.replace(" · ", ", "), st) for t, st in unpriced]],
         [("cost ", "dim"), cost, *unpriced_short]],
        [[("in ", "dim"), (tin, ""), (" · cached ", "dim"), (tcached, ""), (" · out ", "dim"),
          (tout, ""), sep, speed, (" tok/s", "dim")],
         [("in ", "dim"), (tin, ""), (" cached ", "dim"), (tcached, ""), (" out ", "dim"),
          (tout, ""), (" ", ""), speed, ("/s", "dim")],
         [("in ", "dim"), (tin, ""), (" · cached ", "dim"), (tcached, ""), (" · out ", "dim"),
          (tout, "")]],
    ]


class WindowTotals(Static):
    """The current window's headline numbers, shortened (never cut) to the panel's width."""

    _shown: tuple[Summary, str] | None = None

    def show(self, summary: Summary, window: str) -> None:
        """Render ``summary`` for ``window``."""
        self._shown = (summary, window)
        set_title(self, f"Totals · {window}")
        width = self.content_size.width
        t = Text("\n").join(_fitting(variants, width) for variants in _lines(summary))
        t.append(f"\n{'':<8}{'p50':>9}{'p95':>9}{'p99':>9}\n", style="dim")
        t.append_text(_percentiles("latency", summary.latency_ms))
        t.append("\n")
        t.append_text(_percentiles("TTFT", summary.ttft_ms))
        set_content(self, t)

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None:
            self.show(*self._shown)
