"""LLM calls and spans as ledger rows, and back.

Writing a row runs on the receiver's path before the exporter gets its reply, so ``call_row``
does as little as it can: numbers go in as they are, repeated strings become small ids, and JSON
is built only for the few calls that failed or carry signal categories.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plano_obs.analytics import NANO_PER_USD
from plano_obs.model import CallCost, LLMCall, SignalEvent, Signals, SpanRecord

__all__ = ["CALL_COLUMNS", "FLAGGED", "FAILED", "DRIFT", "call_row", "call_of", "span_row",
           "llm_span_row", "span_of", "id_bytes", "id_text", "KIND_COLUMNS", "kind_key"]

FLAGGED, FAILED, DRIFT = 1, 2, 4

#: The columns ``call_row`` fills, in its order.
CALL_COLUMNS = (
    "end_ns", "start_ns", "trace_id", "span_id", "parent_span_id", "request_id", "session_id",
    "kind_id", "status_code", "duration_ms", "ttft_ms", "prompt_tokens", "completion_tokens",
    "total_tokens", "cached_input_tokens", "cache_creation_tokens", "reasoning_tokens",
    "gateway_input_cost_usd", "gateway_output_cost_usd", "gateway_total_cost_usd", "cost_nano",
    "catalog_cost_nano", "price_id", "flags", "quality", "quality_score", "turn_count",
    "efficiency_score", "signal_categories", "signal_types", "error",
)
KIND_COLUMNS = ("name", "service", "model", "model_requested", "provider", "api_path", "route",
                "is_streaming", "routing_strategy", "selection_reason", "span_status")
SPAN_COLUMNS = ("trace_id", "span_id", "parent_span_id", "name", "service", "start_ns", "end_ns",
                "status", "status_message", "is_llm", "raw", "attributes", "events")

_Kind = tuple[Any, ...]
_Price = tuple[str | None, str | None, str | None]


def id_bytes(hex_id: str) -> bytes | str:
    """A trace or span id as its bytes (half the size of its hex form)."""
    try:
        return bytes.fromhex(hex_id)
    except ValueError:  # not hex: kept as it came
        return hex_id


def id_text(value: bytes | str | None) -> str | None:
    """The hex form of a stored id."""
    if value is None or isinstance(value, str):
        return value
    return value.hex()


def kind_key(call: LLMCall) -> _Kind:
    """The repeated strings of a call, in KIND_COLUMNS order."""
    s = call.is_streaming
    return (call.name, call.service, call.model, call.model_requested, call.provider,
            call.api_path, call.route, None if s is None else int(s), call.routing_strategy,
            call.selection_reason, call.span_status)


def _nano(usd: float | None) -> int | None:
    return None if usd is None else round(usd * NANO_PER_USD)


def call_row(call: LLMCall, kind_id: Callable[[LLMCall], int],
             price_id: Callable[[_Price], int]) -> tuple[Any, ...]:
    """The ``calls`` row of ``call`` (CALL_COLUMNS order)."""
    cost = call.cost
    flags = FLAGGED if call.flagged else 0
    if call.is_error:
        flags |= FAILED
    if cost is None or cost.source is None and cost.catalog_entry is None:
        cost_nano = catalog_nano = pid = None
    else:
        cost_nano, catalog_nano = _nano(cost.cost_usd), _nano(cost.catalog_cost_usd)
        pid = price_id((cost.source, cost.catalog_entry, cost.pricing_source))
        if cost.drift:
            flags |= DRIFT
    s = call.signals
    if s is None:
        quality = score = turns = efficiency = categories = types = None
    else:
        quality, score, turns, efficiency = (s.quality, s.quality_score, s.turn_count,
                                             s.efficiency_score)
        categories = json.dumps(s.categories, separators=(",", ":")) if s.categories else None
        types = _json([e.leaf_type for e in s.events]) if s.events else None
    error = None
    if call.error_type is not None or call.error_message is not None or \
            call.span_status_message is not None:
        error = json.dumps([call.error_type, call.error_message, call.span_status_message],
                           separators=(",", ":"))
    request_id = call.request_id
    return (
        call.end_ns, call.start_ns, id_bytes(call.trace_id), id_bytes(call.span_id),
        None if call.parent_span_id is None else id_bytes(call.parent_span_id),
        None if request_id == call.span_id else request_id, call.session_id, kind_id(call),
        call.status_code, call.duration_ms, call.ttft_ms, call.prompt_tokens,
        call.completion_tokens, call.total_tokens, call.cached_input_tokens,
        call.cache_creation_tokens, call.reasoning_tokens, call.gateway_input_cost_usd,
        call.gateway_output_cost_usd, call.gateway_total_cost_usd, cost_nano, catalog_nano, pid,
        flags, quality, score, turns, efficiency, categories, types, error,
    )


#: The SELECT list that ``call_of`` reads (calls c, call_kinds k, prices p).
CALL_SELECT = (
    "c.id, " + ", ".join(f"c.{name}" for name in CALL_COLUMNS if name not in (
        "kind_id", "price_id")) + ", " + ", ".join(f"k.{name}" for name in KIND_COLUMNS) +
    ", p.cost_source, p.catalog_entry, p.pricing_source"
)
CALL_FROM = ("calls c JOIN call_kinds k ON k.id = c.kind_id "
             "LEFT JOIN prices p ON p.id = c.price_id")


def call_of(row: Sequence[Any], events: list[SignalEvent] | None = None,
            attributes: dict[str, Any] | None = None) -> LLMCall:
    """The LLMCall of a row selected with CALL_SELECT (its ledger id is ``row[0]``)."""
    (_id, end_ns, start_ns, trace_id, span_id, parent, request_id, session_id, status_code,
     duration_ms, ttft_ms, prompt, completion, total, cached, cache_creation, reasoning,
     gw_in, gw_out, gw_total, cost_nano, catalog_nano, flags, quality, score, turns, efficiency,
     categories, types, error, name, service, model, model_requested, provider, api_path, route,
     streaming, strategy, reason, span_status, cost_source, entry, pricing_source) = row
    span_hex = id_text(span_id) or ""
    signals = None
    if events is None and types:  # the span was not kept: each event's type is
        events = [SignalEvent(name=f"signal.{t}", type=t) for t in json.loads(types)]
    if quality is not None or score is not None or turns is not None or categories is not None \
            or efficiency is not None or events:
        cats = {k: (int(v[0]), None if v[1] is None else int(v[1]))
                for k, v in json.loads(categories).items()} if categories else {}
        signals = Signals(quality=quality, quality_score=score, turn_count=turns,
                          efficiency_score=efficiency, categories=cats, events=events or [])
    error_type = error_message = status_message = None
    if error:
        error_type, error_message, status_message = json.loads(error)
    # Positional, in LLMCall's field order (checked below): a start reads thousands of rows.
    call = LLMCall(
        id_text(trace_id) or "", span_hex, id_text(parent), name, service, start_ns, end_ns,
        request_id if request_id is not None else span_hex, model, model_requested, provider,
        api_path, route, session_id, None if streaming is None else bool(streaming),
        status_code, duration_ms, ttft_ms, prompt, completion, total, cached, cache_creation,
        reasoning, gw_in, gw_out, gw_total, span_status, status_message, error_type,
        error_message, strategy, reason, bool(flags & FLAGGED), signals, attributes or {})
    if cost_source is not None or entry is not None or cost_nano is not None:
        gateway = gw_total if gw_total is not None and gw_total >= 0 else None
        call.cost = CallCost(
            cost_usd=None if cost_nano is None else cost_nano / NANO_PER_USD, source=cost_source,
            catalog_cost_usd=None if catalog_nano is None else catalog_nano / NANO_PER_USD,
            gateway_cost_usd=gateway,
            drift=bool(flags & DRIFT), catalog_entry=entry, pricing_source=pricing_source)
    else:
        call.cost = CallCost(cost_usd=None, source=None)
    return call


_FIELD_ORDER = (
    "trace_id", "span_id", "parent_span_id", "name", "service", "start_ns", "end_ns",
    "request_id", "model", "model_requested", "provider", "api_path", "route", "session_id",
    "is_streaming", "status_code", "duration_ms", "ttft_ms", "prompt_tokens",
    "completion_tokens", "total_tokens", "cached_input_tokens", "cache_creation_tokens",
    "reasoning_tokens", "gateway_input_cost_usd", "gateway_output_cost_usd",
    "gateway_total_cost_usd", "span_status", "span_status_message", "error_type",
    "error_message", "routing_strategy", "selection_reason", "flagged", "signals", "attributes")
if tuple(f.name for f in dataclasses.fields(LLMCall))[:len(_FIELD_ORDER)] != _FIELD_ORDER:
    raise ImportError("LLMCall's fields changed order: update call_of")


def span_row(span: SpanRecord) -> tuple[Any, ...]:
    """The ``spans`` row of a context span (SPAN_COLUMNS order)."""
    attributes = events = None
    if span.raw is None:  # already decoded: keep what it holds
        attributes = _json(dict(span.attributes))
        events = _json([[t, n, dict(a)] for t, n, a in span.events])
    return (id_bytes(span.trace_id), id_bytes(span.span_id),
            None if span.parent_span_id is None else id_bytes(span.parent_span_id), span.name,
            span.service, span.start_ns, span.end_ns, span.status, span.status_message, 0,
            span.raw, attributes, events)


def llm_span_row(call: LLMCall) -> tuple[Any, ...]:
    """The ``spans`` row of an LLM call's span: its attributes and signal events."""
    events = call.signals.events if call.signals is not None else []
    return (id_bytes(call.trace_id), id_bytes(call.span_id),
            None if call.parent_span_id is None else id_bytes(call.parent_span_id), call.name,
            call.service, call.start_ns, call.end_ns, call.span_status, call.span_status_message,
            1, None, _json(call.attributes),
            _json([[e.name, e.type, e.time_ns, e.message_index, e.confidence, e.snippet,
                    e.metadata] for e in events]))


def span_of(row: Sequence[Any]) -> SpanRecord:
    """The SpanRecord of a ``spans`` row (SPAN_COLUMNS order); ``raw`` still to decode."""
    (trace_id, span_id, parent, name, service, start_ns, end_ns, status, status_message, is_llm,
     raw, attributes, events) = row
    span = SpanRecord(trace_id=id_text(trace_id) or "", span_id=id_text(span_id) or "",
                      parent_span_id=id_text(parent), name=name, service=service,
                      start_ns=start_ns, end_ns=end_ns, status=status,
                      status_message=status_message, is_llm=bool(is_llm), raw=raw)
    if attributes is not None:
        span.attributes = json.loads(attributes)
    if events is not None and not is_llm:
        span.events = [(t, n, a) for t, n, a in json.loads(events)]
    return span


def signal_events(events_json: str | None) -> list[SignalEvent]:
    """The signal events an LLM span row holds."""
    if not events_json:
        return []
    return [SignalEvent(name=n, type=t, time_ns=ts, message_index=i, confidence=c, snippet=s,
                        metadata=m) for n, t, ts, i, c, s, m in json.loads(events_json)]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_jsonable, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list | set | frozenset):
        return list(value)
    if isinstance(value, Mapping):  # a span's attributes read lazily from its bytes
        return dict(value)
    return str(value)
