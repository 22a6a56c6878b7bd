"""Pure decoding of OTLP trace requests into LLM-call records and context spans.

No I/O, no Textual. A span is an LLM call when it carries ``llm.model`` or a GenAI model
attribute; every other span is context for the drilldown. A span that cannot be decoded
(bad ids, junk in a numeric field, negative tokens, NaN durations) is rejected with a reason,
never half-counted. Which attribute feeds which field is ``attributes.CALL_ATTRIBUTES``.

The request is split by protobuf (upb) into spans kept as bytes; spans that cannot hold a model
key stay that way as context (their attributes are read when the drilldown asks). An LLM span's
attributes are read by ``_wire.key_value`` and, as most of a gateway span's attributes repeat
(model, provider, route, status...), short ones are cached by their serialized bytes together
with their converted value. On the gateway's real spans this measured faster than letting upb
parse the whole span (benchmarks/decode.py).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from plano_obs.ingest._values import (
    MAX_NAME_CHARS,
    MAX_STRING_CHARS,
    Bad,
    any_value,
    attributes,
    bound,
)
from plano_obs.ingest._wire import LLM_KEY_HINT, LLM_KEY_MARKERS, ExportView, SpanHead, key_value
from plano_obs.ingest.attributes import CALL_ATTRIBUTES, KIND_OF_KEY, MODEL_KEYS
from plano_obs.ingest.signals import SIGNAL_MARKER, signal_event, signals
from plano_obs.model import (
    API_PATHS,
    FLAG_MARKER,
    DecodeResult,
    LLMCall,
    Rejection,
    SignalEvent,
    SpanRecord,
)

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_STRING_CHARS",
    "RequestDecodeError",
    "decode_request",
    "decode_span_attributes",
    "parse_span_name",
]

log = logging.getLogger(__name__)

_STATUS = {0: "unset", 1: "ok", 2: "error"}


class RequestDecodeError(ValueError):
    """The request as a whole is not an OTLP trace request."""


# --- span name --------------------------------------------------------------------------------

_NAME_RE = re.compile(r"^(?:[A-Z]+\s+)?(/\S*)\s+(\S+)(?:\s+->\s+(\S+))?")


@functools.lru_cache(maxsize=4096)  # gateway span names repeat: one per model/alias pair
def parse_span_name(name: str) -> tuple[str | None, str | None, str | None, bool]:
    """Split ``POST {path} {requested} -> {resolved} 🚩`` into (path, requested, resolved, flag)."""
    flagged = FLAG_MARKER in name
    core = name.replace(FLAG_MARKER, "").strip() if flagged else name
    m = _NAME_RE.match(core)
    if not m:
        return None, None, None, flagged
    path = m.group(1)
    api_path = next((p for p in API_PATHS if path == p or path.startswith(p + "?")), None)
    requested, resolved = m.group(2), m.group(3)
    return api_path, requested, resolved or requested, flagged


# --- spans ------------------------------------------------------------------------------------


def _ids(trace_id: bytes, span_id: bytes, parent: bytes) -> tuple[str, str, str | None]:
    if len(trace_id) != 16 or not any(trace_id):
        raise Bad(f"invalid trace id ({len(trace_id)} bytes)")
    if len(span_id) != 8 or not any(span_id):
        raise Bad(f"invalid span id ({len(span_id)} bytes)")
    if parent and len(parent) != 8:
        raise Bad(f"invalid parent span id ({len(parent)} bytes)")
    return trace_id.hex(), span_id.hex(), (parent.hex() if parent and any(parent) else None)


def _times(start: int, end: int) -> None:
    if start <= 0:
        raise Bad("missing start time")
    if end and end < start:
        raise Bad("end time before start time")


def _is_llm(attrs: Mapping[str, Any]) -> bool:
    return any(attrs.get(key) is not None for key in MODEL_KEYS)


#: field -> its keys in fallback order, for the fields fed by one key (most) and by several.
_SINGLE = tuple((a.field, a.keys[0]) for a in CALL_ATTRIBUTES if len(a.keys) == 1)
_MULTI = tuple((a.field, a.keys) for a in CALL_ATTRIBUTES if len(a.keys) > 1)


#: What the attribute cache keeps besides the value, for a key outside the table.
_NOT_IN_TABLE = object()
#: Serialized KeyValue -> (key, value, converted value or _NOT_IN_TABLE), for short scalars.
_KV_CACHE: dict[bytes, tuple[str, Any, Any]] = {}
_KV_CACHE_MAX = 8_192
_KV_CACHE_BYTES = 96  # longer KeyValues are not kept
_SCALARS = frozenset((str, int, float, bool))


def _read_attributes(raw_kvs: Any) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A span's attributes verbatim, the table's keys converted by their kind, and the keys
    whose conversion failed (``_recheck`` judges them on their last value)."""
    attrs: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    recheck: list[str] = []
    cache = _KV_CACHE
    kind_of = KIND_OF_KEY.get
    for kv in raw_kvs:
        hit = cache.get(kv)
        if hit is not None:
            key, value, converted = hit
        else:
            key, value = key_value(kv, any_value)
            if type(value) is str and len(value) > MAX_STRING_CHARS:
                value = bound(value)
            kind = kind_of(key)
            try:
                converted = _NOT_IN_TABLE if kind is None else kind(value, key)
            except Bad:  # judged on the key's last value, which is the one that counts
                recheck.append(key)
                attrs[key] = value
                typed.pop(key, None)
                continue
            if len(kv) <= _KV_CACHE_BYTES and type(value) in _SCALARS:
                if len(cache) >= _KV_CACHE_MAX:
                    cache.clear()
                cache[kv] = (key, value, converted)
        attrs[key] = value
        if converted is not _NOT_IN_TABLE:
            if converted is None:
                typed.pop(key, None)  # a repeated key: the last value counts, as in attrs
            else:
                typed[key] = converted
    return attrs, typed, recheck


def _recheck(attrs: dict[str, Any], typed: dict[str, Any], keys: list[str]) -> None:
    """Convert the last value of each key that failed once; raises Bad if it is junk."""
    for key in keys:
        converted = KIND_OF_KEY[key](attrs[key], key)
        if converted is None:
            typed.pop(key, None)
        else:
            typed[key] = converted


#: The fields fed by one key (most), and those with fallbacks, from the table.
_SINGLE = tuple((a.field, a.keys[0]) for a in CALL_ATTRIBUTES if len(a.keys) == 1)
_MULTI = tuple((a.field, a.keys) for a in CALL_ATTRIBUTES if len(a.keys) > 1)


def _call_fields(typed: Mapping[str, Any]) -> dict[str, Any]:
    """The ``LLMCall`` fields ``CALL_ATTRIBUTES`` reads, from converted attributes."""
    fields = {field: typed[key] for field, key in _SINGLE if key in typed}
    for field, keys in _MULTI:
        for key in keys:
            if key in typed:
                fields[field] = typed[key]
                break
    return fields


def _llm_call(sp: Any, raw: bytes, attrs: dict[str, Any], typed: dict[str, Any],
              service: str | None, ids: tuple[str, str, str | None]) -> LLMCall:
    trace_id, span_id, parent = ids
    fields = _call_fields(typed)
    name = bound(sp.name, MAX_NAME_CHARS)
    api_path, name_requested, name_resolved, flagged = parse_span_name(name)
    events: list[SignalEvent] = []
    ttft_event_ms: float | None = None
    start = sp.start_time_unix_nano
    end = sp.end_time_unix_nano or start
    for ev in sp.events:
        if ev.name.startswith("signal."):
            events.append(signal_event(ev))
        elif ev.name == "llm.time_to_first_token" and ev.time_unix_nano >= start:
            ttft_event_ms = (ev.time_unix_nano - start) / 1e6
    status = sp.status
    span_status = _STATUS.get(status.code, "unset")
    status_message = bound(status.message) if status.message else None
    # Fallbacks that are not attributes: the span name, service.name, the span's own times.
    fields.setdefault("request_id", span_id)
    if "model" not in fields and name_resolved:
        fields["model"] = name_resolved
    if "model_requested" not in fields and name_requested:
        fields["model_requested"] = name_requested
    if "provider" not in fields and service:
        fields["provider"] = service
    if "duration_ms" not in fields and end > start:
        fields["duration_ms"] = (end - start) / 1e6
    if "ttft_ms" not in fields and ttft_event_ms is not None:
        fields["ttft_ms"] = ttft_event_ms
    if "error_message" not in fields and span_status == "error" and status_message:
        fields["error_message"] = status_message
    return LLMCall(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name, service=service,
        start_ns=start, end_ns=end, api_path=api_path, span_status=span_status,
        span_status_message=status_message, flagged=flagged,
        signals=signals(attrs, events) if events or SIGNAL_MARKER in raw else None,
        attributes=attrs, **fields,
    )


#: A context span's attributes and events until the drilldown decodes them from ``raw``: shared,
#: read-only, and no two containers per span for the garbage collector to walk.
_NOT_DECODED_ATTRS: Mapping[str, Any] = MappingProxyType({})
_NOT_DECODED_EVENTS: tuple = ()


def _context_span(head: Any, raw: bytes, service: str | None,
                  ids: tuple[str, str, str | None]) -> SpanRecord:
    trace_id, span_id, parent = ids
    status = head.status
    start = head.start_time_unix_nano
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent,
        name=bound(head.name, MAX_NAME_CHARS), service=service, start_ns=start,
        end_ns=head.end_time_unix_nano or start, status=_STATUS.get(status.code, "unset"),
        status_message=bound(status.message) if status.message else None,
        attributes=_NOT_DECODED_ATTRS, events=_NOT_DECODED_EVENTS, raw=raw,
    )


def _service(resource: Any) -> str | None:
    for kv in resource.attributes:
        if kv.key == "service.name":
            v = attributes((kv,))["service.name"]
            return bound(str(v), MAX_NAME_CHARS) if v is not None else None
    return None


_FromSpan = trace_pb2.Span.FromString
_FromHead = SpanHead.FromString


def decode_request(request: bytes | ExportTraceServiceRequest) -> DecodeResult:
    """Decode one OTLP ``ExportTraceServiceRequest`` (message or serialized bytes)."""
    if isinstance(request, ExportTraceServiceRequest):
        request = request.SerializeToString()
    try:
        view = ExportView.FromString(bytes(request))
    except DecodeError as e:
        raise RequestDecodeError(f"not an OTLP trace request: {e}") from None
    result = DecodeResult()
    calls, spans, rejected = result.calls, result.spans, result.rejected
    m1, m2, m3 = LLM_KEY_MARKERS
    hint = LLM_KEY_HINT
    for rs in view.resource_spans:
        service = _service(rs.resource)
        for ss in rs.scope_spans:
            for raw in ss.spans:
                try:
                    head = _FromHead(raw)
                    ids = _ids(head.trace_id, head.span_id, head.parent_span_id)
                    _times(head.start_time_unix_nano, head.end_time_unix_nano)
                    if hint in raw and (m1 in raw or m2 in raw or m3 in raw):
                        attrs, typed, recheck = _read_attributes(head.attributes)
                        if _is_llm(attrs):
                            if recheck:
                                _recheck(attrs, typed, recheck)
                            calls.append(_llm_call(head, raw, attrs, typed, service, ids))
                            continue
                    spans.append(_context_span(head, raw, service, ids))
                except Bad as e:
                    rejected.append(_rejection(raw, str(e)))
                except UnicodeDecodeError as e:  # as protobuf, which refuses such strings
                    rejected.append(_rejection(
                        raw, f"undecodable span: an attribute is not UTF-8 ({e.reason})"))
                except DecodeError as e:
                    rejected.append(_rejection(raw, f"undecodable span: {e}"))
                except Exception as e:  # noqa: BLE001 - one odd span must not lose its batch
                    log.exception("unexpected error decoding a span")
                    rejected.append(_rejection(raw, f"cannot decode span: {e!r}"[:200]))
    return result


def _rejection(raw: bytes, reason: str) -> Rejection:
    try:
        head = _FromHead(raw)
    except DecodeError:
        return Rejection(trace_id="", span_id="", reason=reason)
    return Rejection(trace_id=head.trace_id.hex(), span_id=head.span_id.hex(), reason=reason)


def decode_span_attributes(raw: bytes) -> tuple[dict[str, Any], list[tuple[int, str, dict]]]:
    """The attributes and events of a context span kept as raw bytes (for the drilldown)."""
    sp = _FromSpan(raw)
    events = [(ev.time_unix_nano, bound(ev.name, MAX_NAME_CHARS), attributes(ev.attributes))
              for ev in sp.events]
    return attributes(sp.attributes), events
