"""The header line: where the console listens, pricing, what it holds and the view's state."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from plano_obs.ledger import LedgerStatus
from plano_obs.tui.text import age, clean, count, plural
from plano_obs.tui.view import Frame, ViewState
from plano_obs.tui.widgets.quiet import set_content


def receivers_text(grpc_address: str, http_address: str | None) -> str:
    """Both listen addresses, short: ``gRPC :4317 HTTP :4318`` on the default loopback host."""
    if http_address is None:
        return f"gRPC {grpc_address}"
    grpc_host, _, grpc_port = grpc_address.rpartition(":")
    http_host, _, http_port = http_address.rpartition(":")
    if grpc_host != http_host:
        return f"gRPC {grpc_address} HTTP {http_address}"
    # The header is one line: the default host goes unsaid, any other is shown once.
    host = "" if grpc_host == "127.0.0.1" else f"{grpc_host} "
    return f"{host}gRPC :{grpc_port} HTTP :{http_port}"


class StatusLine(Static):
    """One line: PAUSED, window, filters, then calls held, drops, listen address, pricing."""

    def show(self, frame: Frame | None, view: ViewState) -> None:
        """Render the line for ``frame`` (None before the first one) under ``view``."""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" plano obs ", style="bold reverse")
        if view.paused:
            line.append(" ⏸ PAUSED ", style="bold black on yellow")
        line.append(f" window {view.window}", style="bold")
        if frame is None or frame.window != view.window:
            line.append(" reading…", style="italic")  # the window's rollups are on their way
        if frame is None:
            set_content(self, line)
            return
        s = frame.stats
        if view.only:
            line.append(f" │ {view.only} only", style="bold magenta")
        if view.text:
            line.append(" │ filter ", style="bold magenta")
            line.append(clean(view.text, 40), style="magenta")
        line.append(" │ ", style="dim")
        line.append(plural(s.calls_held, "call"))
        if s.rejected_spans:
            line.append(f" │ rejected {count(s.rejected_spans)}", style="yellow")
        if s.refused_requests:
            line.append(f" │ refused {count(s.refused_requests)}", style="yellow")
        if s.evicted_calls or s.evicted_traces:
            # Totals never lose evicted calls; only the lists and the drilldown do.
            line.append(f" │ evicted {plural(s.evicted_calls, 'call')}, "
                        f"{plural(s.evicted_traces, 'trace')}", style="yellow")
        if frame.ledger is not None:
            _ledger(line, frame.ledger, frame.now)
        line.append(" │ ", style="dim")
        line.append(f"OTLP {clean(receivers_text(frame.listen_address, frame.http_address))}")
        line.append(" │ ", style="dim")
        p = frame.pricing
        line.append(f"pricing {clean(p.source)} · {plural(p.models, 'model')} · "
                    f"{p.age_text(frame.now)}")
        if frame.pricing_warning:
            line.append(" ⚠ refresh failed", style="bold yellow")
        set_content(self, line)
        tips = [clean(frame.pricing_warning) if frame.pricing_warning else None]
        if frame.ledger is not None:
            tips.append(clean(frame.ledger.error or f"ledger {frame.ledger.path}"))
        self.tooltip = "\n".join(t for t in tips if t) or None


def _ledger(line: Text, status: LedgerStatus, now: float) -> None:
    """`` │ ledger PATH: N calls over 6d`` or, without it, ``memory only``."""
    line.append(" │ ", style="dim")
    if status.error is not None:
        line.append("⚠ memory only", style="bold black on yellow")
        line.append(" (ledger unusable; see the tooltip)", style="yellow")
        return
    line.append(f"ledger {_short(clean(status.path, 4096))}: {count(status.calls)} calls")
    if status.first_ns is not None and status.last_ns is not None:
        span = status.last_ns / 1e9 - status.first_ns / 1e9
        line.append(f" over {age(now - span, now) if span >= 1 else '1s'}")
    if status.pruned_calls:
        line.append(f", pruned {count(status.pruned_calls)}", style="dim")


def _short(path: str, limit: int = 48) -> str:
    """``~`` for the home directory; a long path keeps its end (the file name)."""
    home = str(Path.home())
    if path.startswith(home + "/"):
        path = "~" + path[len(home):]
    return path if len(path) <= limit else "…" + path[-(limit - 1):]
