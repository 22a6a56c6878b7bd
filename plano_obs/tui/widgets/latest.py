"""The latest call: what was asked for, what ran, and what it cost."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from plano_obs.model import LLMCall
from plano_obs.tui.text import (
    DASH,
    ago,
    append_tokens,
    clean,
    ms,
    status_text,
    tokens_per_second,
    usd,
)
from plano_obs.tui.widgets.quiet import set_content


class LatestCall(Static):
    """The newest call, in a few labelled lines."""

    def show(self, call: LLMCall | None, now: float) -> None:
        """Render ``call`` (None before any arrives); ages count from ``now``."""
        self.border_subtitle = ago(call.end_ns / 1e9, now) if call else ""
        if call is None:
            set_content(self, Text("no calls yet", style="dim"))
            return
        t = Text()
        t.append(clean(call.model, 60), style="bold")
        t.append("  ")
        t.append_text(status_text(call.status_code, reason=True))
        if call.flagged:
            t.append(" 🚩")
        t.append("\nasked ", style="dim")
        t.append(clean(call.model_requested, 60))
        t.append("\nvia ", style="dim")
        t.append(clean(call.provider, 30))
        t.append(f" {clean(call.api_path or '', 30)}", style="dim")
        if call.is_streaming:
            t.append(" streaming", style="dim")
        t.append("\nroute ", style="dim")
        t.append(clean(call.route or "(direct)", 40))
        t.append(" · ", style="dim")
        t.append(clean(call.session_id or "no session", 40))
        t.append("\n")
        append_tokens(t, call.prompt_tokens, call.cached_input_tokens, call.completion_tokens)
        tps = tokens_per_second(call)
        t.append("\nTTFT ", style="dim")
        t.append(ms(call.ttft_ms))
        t.append(" · ", style="dim")
        t.append(ms(call.duration_ms))
        t.append(" · ", style="dim")
        t.append(DASH if tps is None else f"{tps:.0f}")
        t.append(" tok/s", style="dim")
        t.append("\ncost ", style="dim")
        t.append(usd(call.cost_usd), style="bold green" if call.cost_usd is not None else "")
        source = call.cost.source if call.cost is not None else None
        t.append(f" ({clean(source, 20)})" if source else " (no price)", style="dim")
        set_content(self, t)
