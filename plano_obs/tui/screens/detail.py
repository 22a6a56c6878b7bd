"""One call in full: facts, cost line by line, signals, signal events and the trace's span tree."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from plano_obs.model import LLMCall, SpanRecord
from plano_obs.tui.context import Context
from plano_obs.tui.keys import GLOBAL_KEYS
from plano_obs.tui.messages import OpenSession
from plano_obs.tui.text import (
    CALL_COST_DIGITS,
    DASH,
    ago,
    clean,
    count,
    has_usage,
    model_text,
    ms,
    safe,
    status_text,
    tokens_per_second,
    usd,
    usd_decimals,
    usd_fixed,
)
from plano_obs.tui.view import split_key
from plano_obs.tui.widgets.flagged import QUALITY_STYLES
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.spans import SpanTable, span_details
from plano_obs.tui.widgets.table import RowTable

_SEVERITY = {0: "none", 1: "1–2", 2: "3–4", 3: "5+"}


def _label(text: str) -> Text:
    return Text(text, style="dim")


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def facts_view(call: LLMCall, now: float) -> RenderableType:
    """The call's identity, model, route, status, tokens and timing."""
    g = _grid()
    end = datetime.fromtimestamp(call.end_ns / 1e9, UTC)
    g.add_row(_label("request"), safe(call.request_id, "bold", 80))
    g.add_row(_label("time"), Text(f"{end:%Y-%m-%d %H:%M:%S} UTC ({ago(end, now)})"))
    g.add_row(_label("model"), model_text(call, 80))
    api = Text(clean(call.provider or "unknown provider", 40))
    api.append(f" · {clean(call.api_path or 'unknown API', 40)}")
    if call.is_streaming is not None:
        api.append(" · streaming" if call.is_streaming else " · not streaming")
    g.add_row(_label("provider"), api)
    route = safe(call.route or "(direct: the client named the model)", "", 60)
    if call.routing_strategy:
        route.append(f" · {clean(call.routing_strategy, 30)}", style="dim")
    if call.selection_reason:
        route.append(f" · {clean(call.selection_reason, 80)}", style="dim")
    g.add_row(_label("route"), route)
    g.add_row(_label("session"), safe(call.session_id, "", 80))
    status = status_text(call.status_code, reason=True)
    status.append(f" · span {clean(call.span_status, 10)}", style="dim")
    if call.span_status_message:
        status.append(f": {clean(call.span_status_message, 120)}", style="dim")
    g.add_row(_label("status"), status)
    if call.error_type or call.error_message:
        err = Text(style="red")
        if call.error_type:
            err.append(f"{clean(call.error_type, 60)}: ", style="bold red")
        err.append(clean(call.error_message or "", 500))
        g.add_row(_label("error"), err)
    g.add_row(_label("tokens"), Text(
        f"in {count(call.prompt_tokens)} · cached {count(call.cached_input_tokens)}"
        f" · cache write {count(call.cache_creation_tokens)}"
        f" · out {count(call.completion_tokens)} · reasoning {count(call.reasoning_tokens)}"
        f" · total {count(call.total_tokens)}"))
    tps = tokens_per_second(call)
    g.add_row(_label("timing"), Text(
        f"TTFT {ms(call.ttft_ms)} · latency {ms(call.duration_ms)}"
        f" · {DASH if tps is None else f'{tps:.0f}'} tok/s"))
    g.add_row(_label("trace"), Text(f"{clean(call.trace_id, 64)} / span {clean(call.span_id, 32)}",
                                    style="dim"))
    return g


def _rate(usd_per_million: float) -> str:
    return f"${usd_per_million:,.2f}" if usd_per_million >= 0.01 else f"${usd_per_million:.4g}"


_KIND_LABELS = {"cached_input": "cache read", "cache_write": "cache write"}


def _ambiguous_note(call: LLMCall) -> Text:
    model = clean(call.model, 60)
    # plano(llm) is the gateway's own service name, not the upstream provider.
    known = call.provider and not call.provider.startswith("plano")
    via = f" --provider {clean(call.provider, 30)}" if known else ""
    note = Text(f"No single catalog price for {model}", style="yellow")
    note.append(": the catalog lists it, but not for this call's provider or the model's owner, "
                "or at several prices. ", style="yellow")
    note.append(f"plano obs pricing {model}{via} --explain", style="bold")
    note.append(" lists the candidates.", style="yellow")
    return note


def cost_view(call: LLMCall) -> RenderableType:
    """Each token kind times its rate, the total, and which catalog entry priced it."""
    cost = call.cost
    lines = cost.lines(call) if cost is not None else []
    if cost is None or (cost.cost_usd is None and not lines):
        if cost is not None and cost.ambiguous:
            return Group(_ambiguous_note(call),
                         Text("Its cost counts as unknown (—), never as $0.", style="yellow"))
        if not has_usage(call):
            return Text("No token usage reported (usual for a failed call): nothing to price. "
                        "Counted as “no usage”, its cost unknown (—), never $0.", style="yellow")
        return Text(f"No price known for {clean(call.model, 60)}: its cost counts as unknown (—)"
                    ", never as $0.", style="yellow")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    table.add_column("kind", no_wrap=True, min_width=11)
    table.add_column("tokens", justify="right")
    table.add_column("× $/M tokens", justify="right")
    table.add_column("cost", justify="right")
    # One format for the column, as in the tables, with a digit more than a table's (this is
    # where a cost is read to the last digit): the smallest line shows four.
    decimals = usd_decimals([line.cost_usd for line in lines] + [cost.cost_usd],
                            CALL_COST_DIGITS + 1)
    for line in lines:
        kind = _KIND_LABELS.get(line.kind, line.kind)
        table.add_row(Text(clean(kind, 30), no_wrap=True), Text(count(line.tokens)),
                      Text(_rate(line.usd_per_million)), Text(usd_fixed(line.cost_usd, decimals)))
    table.add_row(Text("total", style="bold"), Text(""), Text(""),
                  Text(usd_fixed(cost.cost_usd, decimals), style="bold green"))
    source = Text()
    source.append("source ", style="dim")
    source.append(clean(cost.source, 20), style="bold")
    if cost.catalog_entry:
        source.append(" · priced as " if cost.source == "catalog" else " · catalog entry ",
                      style="dim")
        source.append(clean(cost.catalog_entry, 70), style="bold")
    if cost.pricing_source:
        source.append(f" ({clean(cost.pricing_source, 40)})", style="dim")
    parts: list[RenderableType] = [table, source]
    borrowed = getattr(getattr(cost.rates, "entry", None), "tiers_from", ())
    tier = cost.rates.tier_applied(call) if cost.rates is not None else None
    if tier is not None:
        note = Text(f"billed at the rates above {tier:,} tokens of context", style="dim")
        if borrowed:
            note.append(f", as listed for the same model by {clean(', '.join(borrowed), 160)}",
                        style="dim")
        parts.append(note)
    if cost.ambiguous:
        parts.append(_ambiguous_note(call))
    if cost.gateway_cost_usd is not None:
        gw = Text(f"gateway {usd(cost.gateway_cost_usd)} · catalog {usd(cost.catalog_cost_usd)}")
        if cost.drift:
            gw.append("  differ by more than 5%", style="bold yellow")
        parts.append(gw)
    return Group(*parts)


def signals_view(call: LLMCall) -> RenderableType:
    """Quality, score, turns, efficiency, and each category's count and severity."""
    s = call.signals
    if s is None:
        return Text("No signal analysis on this call.", style="dim")
    head = Text()
    head.append("quality ", style="dim")
    head.append(clean(s.quality or "unknown", 20), style=QUALITY_STYLES.get(s.quality or "", ""))
    head.append("  score ", style="dim")
    head.append(DASH if s.quality_score is None else f"{s.quality_score:.0f}/100")
    head.append("  turns ", style="dim")
    head.append(count(s.turn_count))
    head.append("  efficiency ", style="dim")
    head.append(DASH if s.efficiency_score is None else f"{s.efficiency_score:.2f}")
    if call.flagged:
        head.append("  🚩 flagged by the gateway", style="bold magenta")
    if not s.categories:
        return Group(head, Text("No category fired.", style="dim"))
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    table.add_column("category")
    table.add_column("count", justify="right")
    table.add_column("severity")
    for name, (n, severity) in sorted(s.categories.items(), key=lambda kv: -(kv[1][1] or 0)):
        sev = severity or 0
        style = "bold red" if sev >= 3 else "yellow" if sev >= 2 else ""
        table.add_row(Text(clean(name, 60)), Text(count(n)),
                      Text(f"{'●' * sev}{'○' * (3 - sev)} {_SEVERITY.get(sev, str(sev))}"
                           if severity is not None else DASH, style=style))
    return Group(head, table)


def _metadata(raw: str | None) -> Text:
    if not raw:
        return Text(DASH, style="dim")
    try:
        value = json.loads(raw)
    except ValueError:
        return Text(clean(raw, 300))
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) <= 60:
        return Text(clean(flat, 60))
    lines = json.dumps(value, indent=2, ensure_ascii=False).splitlines()
    return Text("\n").join(Text(clean(line, 120)) for line in lines[:40])


def events_view(call: LLMCall) -> RenderableType:
    """The signal events: type, message index, confidence, snippet and metadata."""
    events = call.signals.events if call.signals is not None else []
    if not events:
        return Text("No signal events.", style="dim")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim", expand=True)
    table.add_column("type", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("msg", justify="right", no_wrap=True)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("snippet", ratio=1)
    table.add_column("metadata", ratio=1)
    for ev in events:
        table.add_row(
            Text(clean(ev.type or ev.name, 80)),
            Text(count(ev.message_index)),
            Text(DASH if ev.confidence is None else f"{ev.confidence:.2f}"),
            Text(clean(ev.snippet, 300), style="italic"),
            _metadata(ev.metadata),
        )
    return table


def trace_json(call: LLMCall | None, spans: Sequence[SpanRecord]) -> str:
    """The call and every held span of its trace as indented JSON."""
    def span_dict(s: SpanRecord) -> dict[str, Any]:
        d = asdict(s)
        d.pop("raw", None)
        d["attributes"] = dict(s.attributes)  # an LLM span's are decoded when first read
        d["events"] = [{"time_ns": t, "name": n, "attributes": a} for t, n, a in s.events]
        return d

    call_dict = None
    if call is not None:
        call_dict = asdict(call)
        call_dict["attributes"] = dict(call.attributes)
    doc = {"call": call_dict, "spans": [span_dict(s) for s in spans]}
    return json.dumps(doc, indent=2, default=str, ensure_ascii=False)


class DetailScreen(Screen[None]):
    """A call's detail; ``n``/``p`` walk the flagged calls without leaving it."""

    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("escape", "back", "Back", tooltip="Return to where you were", id="back"),
        Binding("n", "step(1)", "Next 🚩", tooltip="Open the next flagged call",
                id="next_flagged"),
        Binding("p", "step(-1)", "Prev 🚩", tooltip="Open the previous flagged call",
                id="previous_flagged"),
        Binding("t", "session", "Session", tooltip="Every turn of this call's session",
                id="session"),
        Binding("y", "copy_id('request')", "Copy id",
                tooltip="Copy the request id to the clipboard (OSC 52)", id="copy_request_id"),
        Binding("Y", "copy_id('trace')", "Copy trace id",
                tooltip="Copy the trace id to the clipboard (OSC 52)", id="copy_trace_id"),
        Binding("v", "pager", "View JSON",
                tooltip="Open the call and its trace as JSON in $PAGER (less by default)",
                id="pager"),
        Binding("x", "export_trace", "Export trace",
                tooltip="Write this trace (call and spans) as JSON to a file", id="export_trace"),
    ]

    def __init__(self, ctx: Context, key: str, flagged: Sequence[str] = ()) -> None:
        super().__init__()
        self.ctx = ctx
        self.key = key
        self.flagged = list(flagged)
        self.call: LLMCall | None = None
        self.spans: list[SpanRecord] = []

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with VerticalScroll(id="detail-body"):
            with Horizontal(id="detail-top"):
                yield Static(id="detail-facts", classes="panel")
                yield Static(id="detail-cost", classes="panel")
            yield Static(id="detail-signals", classes="panel")
            yield Static(id="detail-events", classes="panel")
            yield SpanTable(id="detail-spans")
            yield Static(id="detail-span", classes="panel")
        yield KeysFooter()

    def on_mount(self) -> None:
        for pid, title in (("facts", "Call"), ("cost", "Cost breakdown"),
                           ("signals", "Signals"), ("events", "Signal events"),
                           ("span", "Span")):
            self.query_one(f"#detail-{pid}").border_title = title
        self.show_call(self.key)
        self.query_one("#detail-body").focus()

    def show_call(self, key: str) -> None:
        """Show the call with row key ``key`` (the trace even if the call was evicted)."""
        self.key = key
        trace_id, span_id = split_key(key)
        store = self.ctx.runtime.store
        self.call = store.get_call(trace_id, span_id)
        self.spans = store.trace(trace_id)
        now = self.ctx.clock()
        title = Text(no_wrap=True, overflow="ellipsis")
        call = self.call
        if call is not None and call.flagged:
            title.append("🚩 ")
        title.append("Call ", style="bold")
        title.append(clean(call.request_id if call else span_id, 60), style="bold")
        if call is not None:
            title.append(" · ")
            title.append_text(model_text(call, 60))
            title.append(" · ")
            title.append_text(status_text(call.status_code, reason=True))
        position = self._position()
        if position is not None:
            title.append(f"   flagged {position + 1} of {len(self.flagged)}", style="magenta")
        self.query_one("#detail-title", Static).update(title)
        spans = self.query_one(SpanTable)
        spans.show(self.spans, span_id)
        # The tree is as tall as the trace, up to a screenful; it scrolls beyond that.
        spans.styles.height = min(len(self.spans), 14) + 3
        self._show_span()
        if call is None:
            gone = Text("This call is no longer held (evicted); its spans are below if kept.",
                        style="yellow")
            for pid in ("facts", "cost", "signals", "events"):
                self.query_one(f"#detail-{pid}", Static).update(gone if pid == "facts" else "")
        else:
            self.query_one("#detail-facts", Static).update(facts_view(call, now))
            self.query_one("#detail-cost", Static).update(cost_view(call))
            self.query_one("#detail-signals", Static).update(signals_view(call))
            self.query_one("#detail-events", Static).update(events_view(call))
        self.query_one("#detail-body", VerticalScroll).scroll_home(animate=False)
        self.refresh_bindings()

    def on_row_table_highlighted(self, event: RowTable.Highlighted) -> None:
        """Moving through the trace shows each span's attributes and events below it."""
        event.stop()
        self._show_span()

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        event.stop()
        self.query_one("#detail-span").scroll_visible(animate=False)

    def _show_span(self) -> None:
        spans = self.query_one(SpanTable)
        span = spans.selected_span
        panel = self.query_one("#detail-span", Static)
        # A Text title: span names come off the wire and must never be read as markup.
        panel.border_title = Text("Span" if span is None else f"Span · {clean(span.name, 60)}")
        panel.update(span_details(span, spans.start_ns, self._call_events(span)))

    def _call_events(self, span: SpanRecord | None
                     ) -> list[tuple[int, str, dict[str, object]]] | None:
        """The call's own span keeps its events as the signal analysis read them."""
        call = self.call
        if span is None or call is None or span.span_id != call.span_id or span.events:
            return None
        events = call.signals.events if call.signals is not None else []
        return [(ev.time_ns or call.end_ns, ev.name, {
            key: value for key, value in (
                ("signal.type", ev.type), ("signal.message_index", ev.message_index),
                ("signal.confidence", ev.confidence), ("signal.snippet", ev.snippet),
                ("signal.metadata", ev.metadata)) if value is not None})
            for ev in events]

    def _position(self) -> int | None:
        try:
            return self.flagged.index(self.key)
        except ValueError:
            return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step":
            return bool(self.flagged)
        if action == "session":
            return self.call is not None and self.call.session_id is not None
        if action == "copy_id" and parameters == ("request",):
            return self.call is not None
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_step(self, delta: int) -> None:
        """Open the next (``delta`` 1) or previous (-1) flagged call."""
        position = self._position()
        if position is None:
            target = 0 if delta > 0 else len(self.flagged) - 1
        else:
            target = position + delta
        if not 0 <= target < len(self.flagged):
            self.notify("No more flagged calls that way.", timeout=2)
            return
        self.show_call(self.flagged[target])

    def action_session(self) -> None:
        if self.call is not None and self.call.session_id is not None:
            self.post_message(OpenSession(self.call.session_id, tuple(self.flagged)))

    def action_copy_id(self, which: str) -> None:
        """Put the request id (or the trace id) on the clipboard, through the terminal."""
        if which == "request":
            if self.call is None:
                return
            text, label = self.call.request_id, "request id"
        else:
            text, label = split_key(self.key)[0], "trace id"
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {label} {clean(text, 60)}", timeout=3)

    def action_pager(self) -> None:
        """Show the call and its trace as JSON in ``$PAGER``, then come back here."""
        command = shlex.split(os.environ.get("PAGER") or "less")
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="plano-obs-call-",
                                         delete=False, encoding="utf-8") as f:
            f.write(trace_json(self.call, self.spans))
            f.write("\n")
        try:
            with self.app.suspend():
                subprocess.run([*command, f.name], check=False)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand the screen to a pager; x writes the JSON "
                        "to a file instead.", severity="warning")
        except OSError as e:
            self.notify(f"Could not run the pager {command[0]!r} ({e.strerror}); set $PAGER.",
                        severity="error")
        finally:
            Path(f.name).unlink(missing_ok=True)

    def action_export_trace(self) -> None:
        trace_id = split_key(self.key)[0]
        stem = "".join(ch for ch in trace_id[:16] if ch.isalnum()) or "unknown"
        path = self.ctx.write_json(f"plano-obs-trace-{stem}",
                                   trace_json(self.call, self.spans))
        self.notify(f"Trace written to {path}", title="Exported")
