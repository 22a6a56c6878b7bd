"""Pure decoding of OTLP trace requests into LLM-call records and context spans.

No I/O, no Textual. A span is an LLM call when it carries ``llm.model`` or a GenAI model
attribute; every other span is context for the drilldown. A span that cannot be decoded
(bad ids, junk in a numeric field, negative tokens, NaN durations) is rejected with a reason,
never half-counted.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from plano_obs.ingest._wire import LLM_KEY_HINT, LLM_KEY_MARKERS, ExportView, SpanHead, key_value
from plano_obs.model import (
    API_PATHS,
    FLAG_MARKER,
    SIGNAL_CATEGORIES,
    DecodeResult,
    LLMCall,
    Rejection,
    SignalEvent,
    Signals,
    SpanRecord,
)

__all__ = [
    "MAX_STRING_CHARS",
    "MAX_NAME_CHARS",
    "RequestDecodeError",
    "decode_request",
    "decode_otlp_json",
    "decode_span_attributes",
    "parse_span_name",
]

log = logging.getLogger(__name__)

#: Attribute strings longer than this are cut (and marked with an ellipsis).
MAX_STRING_CHARS = 4096
MAX_NAME_CHARS = 512
#: Token counts above this are not a real request: reject rather than corrupt a total.
MAX_TOKENS = 10**10
MAX_DURATION_MS = 7 * 24 * 3600 * 1000.0

_STATUS = {0: "unset", 1: "ok", 2: "error"}


class RequestDecodeError(ValueError):
    """The request as a whole is not an OTLP trace request."""


class _Bad(ValueError):
    """One span holds a value that cannot be used."""


# --- values ---------------------------------------------------------------------------------


def _bound(s: str, limit: int = MAX_STRING_CHARS) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _any(v: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (None when empty)."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return _bound(v.string_value)
    if which is None:
        return None
    if which == "array_value":
        return [_any(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _any(kv.value) for kv in kvs}


def _int(attrs: Mapping[str, Any], key: str) -> int | None:
    v = attrs.get(key)
    if v is None:
        return None
    if type(v) is int:
        return v
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise _Bad(f"{key}: not a number: {s[:40]!r}") from None
            v = f
    if isinstance(v, float) and not isinstance(v, bool):
        if not math.isfinite(v) or v != int(v):
            raise _Bad(f"{key}: not a whole number: {v!r}")
        return int(v)
    raise _Bad(f"{key}: expected an integer, got {type(v).__name__}")


def _float(attrs: Mapping[str, Any], key: str) -> float | None:
    v = attrs.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        raise _Bad(f"{key}: expected a number, got a boolean")
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            v = float(s)
        except ValueError:
            raise _Bad(f"{key}: not a number: {s[:40]!r}") from None
    if isinstance(v, int | float):
        f = float(v)
        if not math.isfinite(f):
            raise _Bad(f"{key}: not a finite number: {v!r}")
        return f
    raise _Bad(f"{key}: expected a number, got {type(v).__name__}")


def _tokens(attrs: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        n = _int(attrs, key)
        if n is not None:
            if n < 0:
                raise _Bad(f"{key}: negative token count {n}")
            if n > MAX_TOKENS:
                raise _Bad(f"{key}: absurd token count {n}")
            return n
    return None


def _duration(attrs: Mapping[str, Any], key: str) -> float | None:
    f = _float(attrs, key)
    if f is not None and not 0 <= f <= MAX_DURATION_MS:
        raise _Bad(f"{key}: duration out of range: {f!r}")
    return f


def _cost(attrs: Mapping[str, Any], key: str) -> float | None:
    f = _float(attrs, key)
    if f is not None and f < 0:
        raise _Bad(f"{key}: negative cost {f!r}")
    return f


def _bool(attrs: Mapping[str, Any], key: str) -> bool | None:
    v = attrs.get(key)
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        if not s:
            return None
    if type(v) is int and v in (0, 1):
        return bool(v)
    raise _Bad(f"{key}: expected a boolean, got {v!r}"[:120])


def _str(attrs: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        v = attrs.get(key)
        if v is None:
            continue
        if isinstance(v, str):
            if v:
                return v
            continue
        if isinstance(v, bool | int | float):
            return str(v)
        raise _Bad(f"{key}: expected a string, got {type(v).__name__}")
    return None


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


# --- signals ----------------------------------------------------------------------------------

#: legacy aggregate key -> the layered category it stands for (used when the layered key is absent)
_LEGACY_COUNTS = {
    "signals.follow_up.repair.count": "interaction.misalignment",
    "signals.frustration.count": "interaction.disengagement",
    "signals.repetition.count": "interaction.stagnation",
    "signals.positive_feedback.count": "interaction.satisfaction",
}
_QUALITIES = frozenset(("excellent", "good", "neutral", "poor", "severe"))


def _severity_for(count: int) -> int:
    return 0 if count <= 0 else 1 if count <= 2 else 2 if count <= 4 else 3


_SIGNAL_KEYS = tuple(
    (category, f"signals.{category}.count", f"signals.{category}.severity")
    for category in SIGNAL_CATEGORIES
)


def _signals(attrs: Mapping[str, Any], events: list[SignalEvent]) -> Signals | None:
    quality = _str(attrs, "signals.quality")
    turns = _int(attrs, "signals.turn_count")
    categories: dict[str, tuple[int, int | None]] = {}
    for category, count_key, severity_key in _SIGNAL_KEYS:
        if count_key in attrs:
            count = _int(attrs, count_key)
            if count is None or count == 0:
                continue
            if count < 0:
                raise _Bad(f"{count_key}: negative count {count}")
            severity = _int(attrs, severity_key)
            if severity is not None and not 0 <= severity <= 3:
                raise _Bad(f"{severity_key}: out of 0-3: {severity}")
            categories[category] = (count, severity)
    for key, category in _LEGACY_COUNTS.items():
        if key in attrs and category not in categories:
            count = _int(attrs, key)
            if count is not None and count < 0:
                raise _Bad(f"{key}: negative count {count}")
            if count:
                severity = None
                if key == "signals.frustration.count":
                    severity = _int(attrs, "signals.frustration.severity")
                if severity is None:
                    severity = _severity_for(count)
                categories[category] = (count, severity)
    if "signals.escalation.requested" in attrs and "interaction.disengagement" not in categories:
        if _bool(attrs, "signals.escalation.requested"):
            categories["interaction.disengagement"] = (1, 1)
    if quality is None and turns is None and not categories and not events and not (
        "signals.quality_score" in attrs or "signals.efficiency_score" in attrs
    ):
        return None
    if quality is not None:
        quality = quality.strip().lower()
        if quality not in _QUALITIES:
            raise _Bad(f"signals.quality: unknown value {quality[:40]!r}")
    score = _float(attrs, "signals.quality_score")
    if score is not None and not 0 <= score <= 100:
        raise _Bad(f"signals.quality_score: out of 0-100: {score}")
    efficiency = _float(attrs, "signals.efficiency_score")
    if efficiency is not None and not 0 <= efficiency <= 1:
        raise _Bad(f"signals.efficiency_score: out of 0-1: {efficiency}")
    if turns is not None and turns < 0:
        raise _Bad(f"signals.turn_count: negative: {turns}")
    return Signals(
        quality=quality,
        quality_score=score,
        turn_count=turns,
        efficiency_score=efficiency,
        categories=categories,
        events=events,
    )


def _signal_event(ev: Any) -> SignalEvent:
    attrs = _attrs(ev.attributes)
    confidence = _float(attrs, "signal.confidence")
    if confidence is not None and not 0 <= confidence <= 1:
        raise _Bad(f"signal.confidence: out of 0-1: {confidence}")
    index = _int(attrs, "signal.message_index")
    if index is not None and index < 0:
        raise _Bad(f"signal.message_index: negative: {index}")
    metadata = attrs.get("signal.metadata")
    return SignalEvent(
        name=_bound(ev.name, MAX_NAME_CHARS),
        type=_str(attrs, "signal.type") or ev.name[len("signal.") :],
        time_ns=ev.time_unix_nano or None,
        message_index=index,
        confidence=confidence,
        snippet=_str(attrs, "signal.snippet"),
        metadata=metadata if isinstance(metadata, str) else None,
    )


# --- spans ------------------------------------------------------------------------------------


def _ids(trace_id: bytes, span_id: bytes, parent: bytes) -> tuple[str, str, str | None]:
    if len(trace_id) != 16 or not any(trace_id):
        raise _Bad(f"invalid trace id ({len(trace_id)} bytes)")
    if len(span_id) != 8 or not any(span_id):
        raise _Bad(f"invalid span id ({len(span_id)} bytes)")
    if parent and len(parent) != 8:
        raise _Bad(f"invalid parent span id ({len(parent)} bytes)")
    return trace_id.hex(), span_id.hex(), (parent.hex() if parent and any(parent) else None)


def _times(start: int, end: int) -> None:
    if start <= 0:
        raise _Bad("missing start time")
    if end and end < start:
        raise _Bad("end time before start time")


def _is_llm(attrs: Mapping[str, Any]) -> bool:
    return (
        attrs.get("llm.model") is not None
        or attrs.get("gen_ai.request.model") is not None
        or attrs.get("gen_ai.response.model") is not None
    )


# How each known LLM attribute is checked. One pass over the span's attributes takes the common,
# well-typed values directly and sends anything else through the strict converters above.
_K_STR, _K_TOKENS, _K_DURATION, _K_COST, _K_BOOL, _K_STATUS = range(6)
_KINDS: dict[str, int] = {
    **dict.fromkeys((
        "llm.model", "gen_ai.response.model", "gen_ai.request.model", "model.requested",
        "llm.provider", "gen_ai.provider.name", "gen_ai.system", "plano.route.name",
        "plano.session_id", "gen_ai.conversation.id", "request_id", "http.request_id",
        "error.type", "error.message", "exception.message", "routing.strategy",
        "routing.selection_reason"), _K_STR),
    **dict.fromkeys((
        "llm.usage.prompt_tokens", "gen_ai.usage.input_tokens", "llm.usage.completion_tokens",
        "gen_ai.usage.output_tokens", "llm.usage.total_tokens", "llm.usage.cached_input_tokens",
        "gen_ai.usage.cache_read.input_tokens", "llm.usage.cache_creation_tokens",
        "gen_ai.usage.cache_creation.input_tokens", "llm.usage.reasoning_tokens"), _K_TOKENS),
    **dict.fromkeys(("llm.duration_ms", "llm.time_to_first_token"), _K_DURATION),
    **dict.fromkeys(("llm.usage.input_cost_usd", "llm.usage.output_cost_usd",
                     "llm.usage.total_cost_usd"), _K_COST),
    "llm.is_streaming": _K_BOOL,
    "http.status_code": _K_STATUS,
    "http.response.status_code": _K_STATUS,
}


def _status(attrs: Mapping[str, Any], key: str) -> int | None:
    code = _int(attrs, key)
    if code is not None and not 100 <= code <= 599:
        raise _Bad(f"{key}: not an HTTP status: {code}")
    return code


_STRICT: dict[int, Callable[[Mapping[str, Any], str], Any]] = {
    _K_STR: _str, _K_TOKENS: _tokens, _K_DURATION: _duration, _K_COST: _cost, _K_BOOL: _bool,
    _K_STATUS: _status,
}


#: What ``_known`` makes of an attribute besides its typed value.
_OTHER = object()  # not a known LLM attribute
_SIGNALS = object()  # a ``signals.*`` attribute
_ABSENT = object()  # a known one, but None or an empty string: as if not sent
_CHECK = object()  # a known one in an unusual form: the strict converter decides


def _known(key: str, value: Any) -> Any:
    """A known LLM attribute's value if it is already well typed (durations as float), or one
    of the markers above. The common case, decided once per distinct attribute (it is cached)."""
    kind = _KINDS.get(key)
    if kind is None:
        return _SIGNALS if key[:8] == "signals." else _OTHER
    if value is None:
        return _ABSENT
    t = type(value)
    if kind == _K_STR:
        if t is str:
            return value if value else _ABSENT
    elif kind == _K_TOKENS:
        if t is int and 0 <= value <= MAX_TOKENS:
            return value
    elif kind == _K_DURATION:
        if (t is int or t is float) and 0 <= value <= MAX_DURATION_MS:
            return float(value)
    elif kind == _K_COST:
        if (t is int or t is float) and 0 <= value < math.inf:
            return float(value)
    elif kind == _K_STATUS:
        if t is int and 100 <= value <= 599:
            return value
    elif kind == _K_BOOL:
        if t is bool:
            return value
    return _CHECK


def _either(typed: dict[str, Any], key: str, fallback: str) -> Any:
    value = typed.get(key)
    return typed.get(fallback) if value is None else value


def _llm_call(sp: Any, view: _Attrs, service: str | None, ids: tuple) -> LLMCall:
    trace_id, span_id, parent = ids
    attrs, typed = view.all, view.typed
    g = typed.get
    name = _bound(sp.name, MAX_NAME_CHARS)
    api_path, name_requested, name_resolved, flagged = parse_span_name(name)
    events: list[SignalEvent] = []
    ttft_event_ms: float | None = None
    start = sp.start_time_unix_nano
    end = sp.end_time_unix_nano or start
    for ev in sp.events:
        if ev.name.startswith("signal."):
            events.append(_signal_event(ev))
        elif ev.name == "llm.time_to_first_token" and ev.time_unix_nano >= start:
            ttft_event_ms = (ev.time_unix_nano - start) / 1e6
    duration = g("llm.duration_ms")
    if duration is None and end > start:
        duration = (end - start) / 1e6
    ttft = g("llm.time_to_first_token")
    status = sp.status
    span_status = _STATUS.get(status.code, "unset")
    status_message = _bound(status.message) if status.message else None
    error_message = g("error.message") or g("exception.message")
    if error_message is None and span_status == "error":
        error_message = status_message
    e = _either
    # Positional, in LLMCall's field order (checked at import, below): binding three dozen
    # keyword arguments costs more than the rest of this function.
    return LLMCall(
        trace_id, span_id, parent, name, service, start, end,
        g("request_id") or g("http.request_id") or span_id,
        g("llm.model") or g("gen_ai.response.model") or g("gen_ai.request.model")
        or name_resolved,  # model: the one that ran
        g("model.requested") or g("gen_ai.request.model") or name_requested,
        g("llm.provider") or g("gen_ai.provider.name") or g("gen_ai.system") or service,
        api_path,
        g("plano.route.name"),
        g("plano.session_id") or g("gen_ai.conversation.id"),
        g("llm.is_streaming"),
        e(typed, "http.status_code", "http.response.status_code"),
        duration,
        ttft if ttft is not None else ttft_event_ms,
        e(typed, "llm.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
        e(typed, "llm.usage.completion_tokens", "gen_ai.usage.output_tokens"),
        g("llm.usage.total_tokens"),
        e(typed, "llm.usage.cached_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
        e(typed, "llm.usage.cache_creation_tokens", "gen_ai.usage.cache_creation.input_tokens"),
        g("llm.usage.reasoning_tokens"),
        g("llm.usage.input_cost_usd"),
        g("llm.usage.output_cost_usd"),
        g("llm.usage.total_cost_usd"),
        span_status,
        status_message,
        g("error.type"),
        error_message,
        g("routing.strategy"),
        g("routing.selection_reason"),
        flagged,
        _signals(attrs, events) if view.has_signals or events else None,
        attrs,
    )


#: The order _llm_call passes LLMCall's fields in; a change to the model must change both.
_LLM_CALL_ORDER = (
    "trace_id", "span_id", "parent_span_id", "name", "service", "start_ns", "end_ns",
    "request_id", "model", "model_requested", "provider", "api_path", "route", "session_id",
    "is_streaming", "status_code", "duration_ms", "ttft_ms", "prompt_tokens", "completion_tokens",
    "total_tokens", "cached_input_tokens", "cache_creation_tokens", "reasoning_tokens",
    "gateway_input_cost_usd", "gateway_output_cost_usd", "gateway_total_cost_usd", "span_status",
    "span_status_message", "error_type", "error_message", "routing_strategy", "selection_reason",
    "flagged", "signals", "attributes",
)
if tuple(f.name for f in dataclasses.fields(LLMCall))[: len(_LLM_CALL_ORDER)] != _LLM_CALL_ORDER:
    raise ImportError("LLMCall's fields changed: update _llm_call and _LLM_CALL_ORDER")


#: A context span's attributes and events until the drilldown decodes them from ``raw``: shared,
#: read-only, and no two containers per span for the garbage collector to walk.
_NOT_DECODED_ATTRS: Mapping[str, Any] = MappingProxyType({})
_NOT_DECODED_EVENTS: tuple = ()


def _context_span(head: Any, raw: bytes, service: str | None, ids: tuple) -> SpanRecord:
    trace_id, span_id, parent = ids
    status = head.status
    start = head.start_time_unix_nano
    return SpanRecord(  # positional, in field order (checked at import, below)
        trace_id, span_id, parent, _bound(head.name, MAX_NAME_CHARS), service, start,
        head.end_time_unix_nano or start,
        _STATUS.get(status.code, "unset"),
        _bound(status.message) if status.message else None,
        _NOT_DECODED_ATTRS, _NOT_DECODED_EVENTS, False, raw,
    )


if tuple(f.name for f in dataclasses.fields(SpanRecord)) != (
    "trace_id", "span_id", "parent_span_id", "name", "service", "start_ns", "end_ns", "status",
    "status_message", "attributes", "events", "is_llm", "raw",
):
    raise ImportError("SpanRecord's fields changed: update _context_span")


def _service(resource: Any) -> str | None:
    for kv in resource.attributes:
        if kv.key == "service.name":
            v = _any(kv.value)
            return _bound(str(v), MAX_NAME_CHARS) if v is not None else None
    return None


_FromSpan = trace_pb2.Span.FromString
_FromHead = SpanHead.FromString


#: Serialized KeyValue -> (key, value, what _known makes of it) for short scalar attributes.
#: Gateway spans repeat most of theirs (model, provider, route, status, streaming, session).
_KV_CACHE: dict[bytes, tuple[str, Any, Any]] = {}
_KV_CACHE_MAX = 8_192
_KV_CACHE_BYTES = 96  # longer KeyValues are not kept


class _Attrs:
    """A span's attributes, verbatim, and the known LLM ones checked and typed."""

    __slots__ = ("all", "typed", "has_signals")

    def __init__(self, raw_kvs: Any) -> None:
        """Read serialized KeyValues: from the cache, else with ``_wire.key_value``."""
        attrs: dict[str, Any] = {}
        typed: dict[str, Any] = {}
        check: list[str] = []
        has_signals = False
        cache = _KV_CACHE
        for kv in raw_kvs:
            hit = cache.get(kv)
            if hit is not None:
                key, value, known = hit
            else:
                key, value = _key_value(kv)
                known = _known(key, value)
                if len(kv) <= _KV_CACHE_BYTES and type(value) in _SCALARS:
                    if len(cache) >= _KV_CACHE_MAX:
                        cache.clear()
                    cache[kv] = (key, value, known)
            attrs[key] = value
            if known is _OTHER:
                continue
            if known is _SIGNALS:
                has_signals = True
            elif known is _CHECK:
                check.append(key)
                typed.pop(key, None)  # a repeated key: the last value counts, as in attrs
            elif known is _ABSENT:
                typed.pop(key, None)
            else:
                typed[key] = known
        for key in check:
            converted = _STRICT[_KINDS[key]](attrs, key)
            if converted is not None:
                typed[key] = converted
        self.all = attrs
        self.typed = typed
        self.has_signals = has_signals


_SCALARS = frozenset((str, int, float, bool))


def _key_value(kv: bytes) -> tuple[str, Any]:
    """One serialized KeyValue, its string value bounded in length."""
    key, value = key_value(kv, _any)
    if type(value) is str and len(value) > MAX_STRING_CHARS:
        value = _bound(value)
    return key, value


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
                head = None
                try:
                    head = _FromHead(raw)
                    ids = _ids(head.trace_id, head.span_id, head.parent_span_id)
                    _times(head.start_time_unix_nano, head.end_time_unix_nano)
                    if hint in raw and (m1 in raw or m2 in raw or m3 in raw):
                        attrs = _Attrs(head.attributes)
                        if _is_llm(attrs.all):
                            call = _llm_call(head, attrs, service, ids)
                            calls.append(call)
                            continue
                    spans.append(_context_span(head, raw, service, ids))
                except _Bad as e:
                    rejected.append(_rejection(raw, head, str(e)))
                except UnicodeDecodeError as e:  # as protobuf, which refuses such strings
                    rejected.append(_rejection(
                        raw, None, f"undecodable span: an attribute is not UTF-8 ({e.reason})"))
                except DecodeError as e:
                    rejected.append(_rejection(raw, None, f"undecodable span: {e}"))
                except Exception as e:  # noqa: BLE001 - one odd span must not lose its batch
                    log.exception("unexpected error decoding a span")
                    rejected.append(_rejection(raw, None, f"cannot decode span: {e!r}"[:200]))
    return result


def _rejection(raw: bytes, head: Any, reason: str) -> Rejection:
    if head is None:
        try:
            head = _FromHead(raw)
        except DecodeError:
            return Rejection(trace_id="", span_id="", reason=reason)
    return Rejection(trace_id=head.trace_id.hex(), span_id=head.span_id.hex(), reason=reason)


def decode_span_attributes(raw: bytes) -> tuple[dict[str, Any], list[tuple[int, str, dict]]]:
    """The attributes and events of a context span kept as raw bytes (for the drilldown)."""
    sp = _FromSpan(raw)
    events = [(ev.time_unix_nano, _bound(ev.name, MAX_NAME_CHARS), _attrs(ev.attributes))
              for ev in sp.events]
    return _attrs(sp.attributes), events


# --- OTLP/JSON --------------------------------------------------------------------------------

_ID_KEYS = {"traceId": 16, "spanId": 8, "parentSpanId": 8, "trace_id": 16, "span_id": 8,
            "parent_span_id": 8}


def _hex_ids_to_base64(obj: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64 for bytes."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in _ID_KEYS and isinstance(v, str):
                try:
                    raw = bytes.fromhex(v)
                except ValueError:
                    raise ValueError(f"{k}: not a hex id: {v[:40]!r}") from None
                out[k] = base64.b64encode(raw).decode()
            else:
                out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(obj, list):
        return [_hex_ids_to_base64(x) for x in obj]
    return obj


def decode_otlp_json(obj: Mapping[str, Any]) -> DecodeResult:
    """Decode one OTLP/JSON ``ExportTraceServiceRequest`` (a Collector file-exporter line)."""
    if not isinstance(obj, Mapping):
        raise ValueError("expected a JSON object with resourceSpans")
    msg = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(_hex_ids_to_base64(obj), msg, ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise ValueError(f"not an OTLP/JSON trace request: {str(e)[:200]}") from None
    return decode_request(msg)
