"""A trace as a tree of spans you can walk, and the attributes and events of the one selected."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding

from plano_obs.model import SpanRecord
from plano_obs.tui.text import clean, count, ms, plural, safe
from plano_obs.tui.widgets.table import Column, RowTable

__all__ = ["SpanTable", "span_details", "tree_order"]

BAR_WIDTH = 28
#: Attribute values longer than this are cut (with …) in the panel; the JSON has them whole.
_VALUE_LIMIT = 400


def tree_order(spans: Sequence[SpanRecord]) -> list[tuple[SpanRecord, str]]:
    """Spans depth-first in start order, each with its tree-guide prefix."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for s in spans:
        parent = s.parent_span_id if s.parent_span_id in ids else None
        children.setdefault(parent, []).append(s)
    out: list[tuple[SpanRecord, str]] = []

    def walk(parent: str | None, indent: str) -> None:
        kids = sorted(children.get(parent, []), key=lambda s: s.start_ns)
        for i, span in enumerate(kids):
            last = i == len(kids) - 1
            guide = "" if parent is None else indent + ("└─ " if last else "├─ ")
            out.append((span, guide))
            if span.span_id != parent:  # a span that names itself as parent is not walked twice
                walk(span.span_id, "" if parent is None else indent + ("   " if last else "│  "))

    walk(None, "")
    return out


def timeline_bar(span: SpanRecord, start_ns: int, total_ns: int) -> Text:
    """Where the span sits within the trace, as a bar of ``BAR_WIDTH`` cells."""
    left = int((span.start_ns - start_ns) / total_ns * BAR_WIDTH) if total_ns else 0
    width = max(1, round(max(0, span.end_ns - span.start_ns) / total_ns * BAR_WIDTH)
                ) if total_ns else BAR_WIDTH
    left = min(left, BAR_WIDTH - 1)
    width = min(width, BAR_WIDTH - left)
    style = "red" if span.status == "error" else "magenta" if span.is_llm else "cyan"
    bar = Text("·" * left, style="dim")
    bar.append("█" * width, style=style)
    bar.append("·" * (BAR_WIDTH - left - width), style="dim")
    return bar


def _status(span: SpanRecord) -> Text:
    out = Text(clean(span.status, 10), style="red" if span.status == "error" else "green"
               if span.status == "ok" else "dim")
    if span.status_message:
        out.append(f" {clean(span.status_message, 80)}", style="red")
    return out


def _value(value: Any) -> Text:
    if isinstance(value, str):
        return Text(clean(value, _VALUE_LIMIT))
    if isinstance(value, bool | int | float) or value is None:
        return Text(json.dumps(value), style="cyan")
    return Text(clean(json.dumps(value, default=str, ensure_ascii=False), _VALUE_LIMIT),
                style="cyan")


def _attributes(attributes: Mapping[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key in sorted(attributes):
        grid.add_row(Text(clean(key, 80)), _value(attributes[key]))
    return grid


def span_details(span: SpanRecord | None, trace_start_ns: int,
                 events: Sequence[tuple[int, str, Mapping[str, Any]]] | None = None
                 ) -> RenderableType:
    """A span's timing, status, every attribute, and its events with their attributes
    (``events``, when given, instead of the span's own)."""
    if span is None:
        return Text("No span selected.", style="dim")
    head = Text()
    head.append(clean(span.name, 120), style="bold")
    head.append(f" · {clean(span.service or 'unknown service', 40)}", style="dim")
    head.append(f" · starts +{ms((span.start_ns - trace_start_ns) / 1e6)}")
    head.append(f" · lasts {ms(span.duration_ms)} · ")
    head.append_text(_status(span))
    head.append(f"\nspan {clean(span.span_id, 32)} · parent {clean(span.parent_span_id, 32)}",
                style="dim")
    parts: list[RenderableType] = [head]
    attributes = span.attributes
    if attributes:
        parts.append(Text(f"\nattributes · {count(len(attributes))}", style="bold"))
        parts.append(_attributes(attributes))
    else:
        parts.append(Text("\nno attributes", style="dim"))
    events = span.events if events is None else events
    if events:
        parts.append(Text(f"\nevents · {count(len(events))}", style="bold"))
        for time_ns, name, event_attributes in events:
            line = Text(f"+{ms((time_ns - trace_start_ns) / 1e6)} ", style="dim")
            line.append(clean(name, 120), style="bold")
            parts.append(line)
            if event_attributes:
                parts.append(_attributes(event_attributes))
    else:
        parts.append(Text("\nno events", style="dim"))
    return Group(*parts)


class SpanTable(RowTable):
    """The spans of one trace as a tree; the call's own span is marked ▶."""

    COLUMNS = (
        Column("Span", keep=95, min_width=16, max_width=50, grow=True),
        Column("Service", keep=40, min_width=8, max_width=24),
        Column("Duration", numeric=True, keep=96),
        Column("Timeline", keep=97, min_width=BAR_WIDTH, max_width=BAR_WIDTH),
        Column("Status", keep=60, min_width=5, max_width=40),
    )
    # The panel below follows the cursor: enter has nothing more to open here.
    BINDINGS = [Binding("enter", "select", "Span", show=False)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spans: dict[str, SpanRecord] = {}
        self.start_ns = 0
        self.empty_text = "No span of this trace is held any more"

    def show(self, spans: Sequence[SpanRecord], own_span_id: str) -> None:
        """Render ``spans`` as a tree; the cursor starts on ``own_span_id``."""
        self.spans = {s.span_id: s for s in spans}
        self.start_ns = min((s.start_ns for s in spans), default=0)
        total_ns = max((s.end_ns for s in spans), default=0) - self.start_ns
        rows = []
        for span, guide in tree_order(spans):
            name = Text(guide, style="dim")
            mine = span.span_id == own_span_id
            if mine:
                name.append("▶ ", style="bold magenta")
            name.append(clean(span.name, 120), style="bold" if mine else "")
            rows.append((span.span_id, (
                name, safe(span.service, "dim"), Text(ms(span.duration_ms)),
                timeline_bar(span, self.start_ns, total_ns), _status(span))))
        self.set_rows(rows)
        if own_span_id in self.spans:
            self.move_cursor(self.row_keys.index(own_span_id))
        self.border_title = f"Trace · {plural(len(rows), 'span')}" if rows else "Trace"

    @property
    def selected_span(self) -> SpanRecord | None:
        """The span under the cursor."""
        key = self.highlighted_key
        return None if key is None else self.spans.get(key)
