"""The header line: where the console listens, pricing, what it holds and the view's state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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


@dataclass
class _Part:
    """One piece of the header, longest form first; ``gives_way[i]`` ranks the step from form
    ``i`` to ``i + 1`` (the lowest rank is taken first when the line is too wide)."""

    forms: list[Text]
    gives_way: list[int] = field(default_factory=list)


def _text(*pieces: tuple[str, str] | str) -> Text:
    out = Text()
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        else:
            out.append(*piece)
    return out


_BAR = (" │ ", "dim")


def fit_line(parts: list[_Part], width: int) -> Text:
    """The parts in one line of at most ``width`` cells where their shorter forms allow: the
    step of lowest rank is taken first, until the line fits or nothing can give way."""
    chosen = [0] * len(parts)

    def total() -> int:
        return sum(p.forms[i].cell_len for p, i in zip(parts, chosen, strict=True))

    while width > 0 and total() > width:
        steps = [(p.gives_way[i], n) for n, (p, i) in enumerate(zip(parts, chosen, strict=True))
                 if i < len(p.gives_way)]
        if not steps:
            break
        chosen[min(steps)[1]] += 1
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for part, i in zip(parts, chosen, strict=True):
        line.append_text(part.forms[i])
    return line


class StatusLine(Static):
    """One line: PAUSED, window, filters, then calls held, drops, ledger, listen address,
    pricing. When the width is short, details give way (the models count, the ledger's
    directory, the pricing source, the listen address) before the pricing age or a warning;
    the tooltip always says everything."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Frame | None, ViewState] | None = None

    def on_resize(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, frame: Frame | None, view: ViewState) -> None:
        """Render the line for ``frame`` (None before the first one) under ``view``."""
        self._shown = (frame, view)
        parts = [_Part([_text((" plano obs ", "bold reverse"))])]
        if view.paused:
            parts.append(_Part([_text((" ⏸ PAUSED ", "bold black on yellow"))]))
        window = _text((f" window {view.window}", "bold"))
        if frame is None or frame.window != view.window:
            window.append(" reading…", style="italic")  # the window's rollups are on their way
        parts.append(_Part([window]))
        if frame is None:
            set_content(self, fit_line(parts, self.size.width))
            return
        s = frame.stats
        if view.only:
            parts.append(_Part([_text((f" │ {view.only} only", "bold magenta"))]))
        if view.text:
            parts.append(_Part([
                _text((" │ filter ", "bold magenta"), (clean(view.text, limit), "magenta"))
                for limit in (40, 12)], [45]))
        parts.append(_Part([_text(_BAR, plural(s.calls_held, "call"))]))
        if s.rejected_spans:
            parts.append(_Part([_text((f" │ rejected {count(s.rejected_spans)}", "yellow"))]))
        if s.refused_requests:
            parts.append(_Part([_text((f" │ refused {count(s.refused_requests)}", "yellow"))]))
        if s.evicted_calls or s.evicted_traces:
            # Totals never lose evicted calls; only the lists and the drilldown do.
            parts.append(_Part([
                _text((f" │ evicted {plural(s.evicted_calls, 'call')}, "
                       f"{plural(s.evicted_traces, 'trace')}", "yellow")),
                _text((f" │ evicted {count(s.evicted_calls)}", "yellow"))], [35]))
        if frame.ledger is not None:
            parts.append(_ledger(frame.ledger, frame.now))
        receivers = clean(receivers_text(frame.listen_address, frame.http_address))
        if frame.receiving:
            parts.append(_Part([_text(_BAR, f"OTLP {receivers}"), _text(_BAR, receivers),
                                Text()], [30, 60]))
        else:
            parts.append(_Part([_text(_BAR, ("not receiving (reads the ledger)", "dim")),
                                _text(_BAR, ("not receiving", "dim")), Text()], [30, 60]))
        p = frame.pricing
        when = p.age_text(frame.now)
        warning = (" ⚠ refresh failed", "bold yellow") if frame.pricing_warning else ""
        parts.append(_Part([
            _text(_BAR, f"pricing {clean(p.source)} · {plural(p.models, 'model')} · {when}",
                  warning),
            _text(_BAR, f"pricing {clean(p.source)} · {when}", warning),
            _text(_BAR, f"pricing {when}", warning)], [10, 40]))
        set_content(self, fit_line(parts, self.size.width))
        tips = [f"OTLP {receivers}" if frame.receiving else "not receiving: reads the ledger",
                f"pricing {clean(p.source)} · {plural(p.models, 'model')} · {when}"]
        if frame.pricing_warning:
            tips.append(clean(frame.pricing_warning))
        if frame.ledger is not None:
            tips.append(clean(frame.ledger.error or frame.ledger.unreachable or
                              f"ledger {frame.ledger.path}"))
        tooltip = "\n".join(tips)
        if tooltip != self.tooltip:
            self.tooltip = tooltip


def _ledger(status: LedgerStatus, now: float) -> _Part:
    """`` │ ledger PATH: N calls over 6d`` (shorter: the file name, then just ``ledger``) or,
    without it, ``memory only``; a shared ledger that went away: since when."""
    if status.error is not None:
        return _Part([
            _text(_BAR, ("⚠ memory only", "bold black on yellow"),
                  (" (ledger unusable; see the tooltip)", "yellow")),
            _text(_BAR, ("⚠ memory only", "bold black on yellow"))], [25])
    if status.unreachable_since is not None:
        since = time.strftime("%H:%M:%S", time.localtime(status.unreachable_since))
        return _Part([
            _text(_BAR, (f"⚠ ledger unreachable since {since}", "bold black on yellow"),
                  (" (showing the last view)", "yellow")),
            _text(_BAR, (f"⚠ ledger unreachable since {since}", "bold black on yellow"))], [25])
    held = f": {plural(status.calls, 'call')}"
    if status.first_ns is not None and status.last_ns is not None:
        span = status.last_ns / 1e9 - status.first_ns / 1e9
        held += f" over {age(now - span, now) if span >= 1 else '1s'}"
    pruned = (f", pruned {count(status.pruned_calls)}", "dim") if status.pruned_calls else ""
    path = clean(status.path, 4096)
    return _Part([_text(_BAR, f"ledger {_short(path)}{held}", pruned),
                  _text(_BAR, f"ledger {Path(path).name}{held}", pruned),
                  _text(_BAR, "ledger")], [20, 50])


def _short(path: str, limit: int = 48) -> str:
    """``~`` for the home directory; a long path keeps its end (the file name)."""
    home = str(Path.home())
    if path.startswith(home + "/"):
        path = "~" + path[len(home):]
    return path if len(path) <= limit else "…" + path[-(limit - 1):]
