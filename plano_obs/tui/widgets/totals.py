"""Totals of the current window: requests, errors, cost, tokens, latency and sessions."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from plano_obs.analytics.document import Percentiles, Summary
from plano_obs.tui.text import DASH, append_tokens, count, missing_cost, ms, pct, usd
from plano_obs.tui.widgets.quiet import set_content, set_title


def _percentiles(label: str, p: Percentiles) -> Text:
    t = Text()
    t.append(f"{label:<8}", style="dim")
    for value in (p.p50, p.p95, p.p99):
        t.append(f"{ms(value):>9}")
    return t


class WindowTotals(Static):
    """The current window's headline numbers."""

    def show(self, summary: Summary, window: str) -> None:
        """Render ``summary`` for ``window``."""
        set_title(self, f"Totals · {window}")
        s = summary
        t = Text()
        t.append("requests ", style="dim")
        t.append(count(s.requests), style="bold")
        t.append("  errors ", style="dim")
        t.append(count(s.errors), style="bold red" if s.errors else "bold")
        if s.error_rate is not None:
            t.append(f" ({pct(s.error_rate * 100)})", style="dim")
        t.append("\n4xx ", style="dim")
        t.append(count(s.errors_4xx), style="yellow" if s.errors_4xx else "")
        t.append(" · 5xx ", style="dim")
        t.append(count(s.errors_5xx), style="red" if s.errors_5xx else "")
        t.append(" · sessions ", style="dim")
        t.append(count(s.sessions))
        t.append(" · 🚩 ", style="dim")
        t.append(count(s.flagged), style="bold magenta" if s.flagged else "")
        t.append("\ncost ", style="dim")
        t.append(usd(s.cost_usd), style="bold green" if s.cost_usd is not None else "bold")
        missing = missing_cost(s.unpriced_requests, s.no_usage_requests)
        if missing:
            t.append(f" ({missing})", style="yellow")
        t.append("\n")
        append_tokens(t, s.input_tokens, s.cached_input_tokens, s.output_tokens)
        t.append(" · ", style="dim")
        t.append(DASH if s.tokens_per_second is None else f"{s.tokens_per_second:,.0f}")
        t.append(" tok/s", style="dim")
        t.append(f"\n{'':<8}{'p50':>9}{'p95':>9}{'p99':>9}\n", style="dim")
        t.append_text(_percentiles("latency", s.latency_ms))
        t.append("\n")
        t.append_text(_percentiles("TTFT", s.ttft_ms))
        set_content(self, t)
