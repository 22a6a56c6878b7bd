"""Pure decoding of OTLP trace requests into LLM-call records and context spans.

No I/O, no Textual. A span is an LLM call when it carries ``llm.model`` or a GenAI model
attribute; every other span is context for the drilldown. A span that cannot be decoded
(bad ids, junk in a numeric field, negative tokens, NaN durations) is rejected with a reason,
never half-counted. Which attribute feeds which field is ``attributes.CALL_ATTRIBUTES``.

The request is split by protobuf (upb) into spans kept as bytes; spans that cannot hold a model
key stay that way as context (their attributes are read when the drilldown asks). An LLM span is
parsed with its attributes left as serialized KeyValues, of which only the attribute table's are
read on the hot path (see "the table's fields" below); the others stay in the span's bytes until
the drilldown or the trace export reads them (``SpanAttributes``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Iterator, Mapping
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
from plano_obs.ingest._wire import LLM_KEY_HINT, LONG, ExportView, SpanHead, key_value, short_value
from plano_obs.ingest.attributes import CALL_ATTRIBUTES, KIND_OF_KEY, MODEL_KEYS, Kind
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


_NO_TRACE_ID = bytes(16)
_NO_SPAN_ID = bytes(8)


def _ids(trace_id: bytes, span_id: bytes, parent: bytes) -> tuple[str, str, str | None]:
    if len(trace_id) != 16 or trace_id == _NO_TRACE_ID:
        raise Bad(f"invalid trace id ({len(trace_id)} bytes)")
    if len(span_id) != 8 or span_id == _NO_SPAN_ID:
        raise Bad(f"invalid span id ({len(span_id)} bytes)")
    if not parent or parent == _NO_SPAN_ID:
        return trace_id.hex(), span_id.hex(), None
    if len(parent) != 8:
        raise Bad(f"invalid parent span id ({len(parent)} bytes)")
    return trace_id.hex(), span_id.hex(), parent.hex()


def _times(start: int, end: int) -> None:
    if start <= 0:
        raise Bad("missing start time")
    if end and end < start:
        raise Bad("end time before start time")


@functools.lru_cache(maxsize=1024)  # a few statuses repeat; most spans have none
def span_status(status: bytes) -> tuple[str, str | None]:
    """A serialized ``Status`` as (unset|ok|error, its message or None); raises DecodeError."""
    if not status:
        return "unset", None
    st = _FromStatus(status)
    return _STATUS.get(st.code, "unset"), bound(st.message) if st.message else None


class SpanAttributes(Mapping[str, Any]):
    """An LLM span's attributes, verbatim, decoded from the span's bytes when first read.

    Ingest needs only the table's keys; the rest (message previews, filler) is for the drilldown
    and the trace export, which read it here, in the span's own order.
    """

    __slots__ = ("_raw", "_decoded")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._decoded: dict[str, Any] | None = None

    def _attrs(self) -> dict[str, Any]:
        decoded = self._decoded
        if decoded is None:  # two threads may both decode: the same result, so no lock
            try:
                decoded = attributes(_FromSpan(self._raw).attributes)
            except DecodeError as e:  # the view that accepted the span is as strict: a bug
                decoded = {"plano_obs.decode_error": str(e)}
            self._decoded = decoded
        return decoded

    def __getitem__(self, key: str) -> Any:
        return self._attrs()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs())

    def __len__(self) -> int:
        return len(self._attrs())

    def __repr__(self) -> str:
        return repr(self._attrs())


# --- the table's fields from a span's attributes ----------------------------------------------
#
# Two readings that agree (tests/test_decode_property.py checks both against a plain reading of
# the message). The general one parses the whole span with protobuf and reads the table from a
# dict of every attribute. The fast one covers the gateway's own spans: each serialized KeyValue
# maps, through a cache keyed by its bytes, to (field, converted value), and the fields are one
# dict() of those pairs, built in C. Most attributes repeat from span to span (model, provider,
# route, status, message previews), so most are a dict lookup; the others are read strictly
# once. Whatever the fast reading is not sure of (a fallback key, an empty or junk value, a
# KeyValue protobuf would refuse, no model) sends the span to the general reading.


#: The fields every call gets from its span rather than from a default.
_FROM_SPAN = frozenset(("trace_id", "span_id", "parent_span_id", "name", "service", "start_ns",
                        "end_ns", "request_id", "attributes"))


def _layout() -> dict[str, Any]:
    """``LLMCall``'s fields in declaration order, with their defaults.

    A call is built positionally from a copy of this (``LLMCall(*fields.values())``): a keyword
    call with thirty-odd arguments costs as much as reading the span's attributes.
    """
    layout: dict[str, Any] = {}
    for f in dataclasses.fields(LLMCall):
        if f.name in _FROM_SPAN:
            layout[f.name] = None
        elif f.default is not dataclasses.MISSING:
            layout[f.name] = f.default
        else:
            raise ImportError(f"LLMCall.{f.name} needs a default or a place in _FROM_SPAN")
    for attr in CALL_ATTRIBUTES:
        if layout.get(attr.field, 0) is not None:
            raise ImportError(f"CALL_ATTRIBUTES: LLMCall.{attr.field} must default to None")
    return layout


_LAYOUT = _layout()


def _general_fields(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """A call's fields laid out for ``LLMCall`` with what the table reads from every attribute
    of a span (Python values); None when no model key has a value, which makes the span context.
    Raises ``Bad``.

    Every key present is converted, winner or not: a junk value in any of them rejects the span
    rather than hide behind a fallback.
    """
    if all(attrs.get(key) is None for key in MODEL_KEYS):
        return None
    fields = _LAYOUT.copy()
    for attr in CALL_ATTRIBUTES:
        for key in attr.keys:
            if key in attrs:
                value = attr.kind(attrs[key], key)
                if value is not None and fields[attr.field] is None:
                    fields[attr.field] = value
    return fields


#: Where a key's value goes in the fast reading: (field, kind, key) for a key that feeds a field
#: as its first choice; ("", None, key) for a key that is only a fallback, left to the general
#: reading, which knows which one wins; (None, None, key) for a key outside the table.
_Target = tuple[str | None, Kind | None, str]
_TARGETS: dict[str, _Target] = {key: ("", None, key) for key in KIND_OF_KEY}
_TARGETS.update((a.keys[0], (a.field, a.kind, a.keys[0])) for a in CALL_ATTRIBUTES)
#: The same by a KeyValue's key field as it is on the wire (0x0A, one-byte length, key), for
#: keys seen; bounded, as keys come from the sender.
_TARGETS_BY_FIELD: dict[bytes, _Target] = {}
_TARGETS_BY_FIELD_MAX = 4096
#: Pairs the fast reading yields: nothing for a key outside the table (falsy, so dict() skips
#: it), and a pair whose field is "" when the span needs the general reading.
_OUTSIDE_TABLE: tuple[()] = ()
_GENERAL = ("", None)
#: Serialized KeyValue -> its pair. Bounded: cleared when full (the values that repeat come
#: back within a few spans). A request id is new with every call, so none is kept.
_PAIRS: dict[bytes, tuple[str, Any] | tuple[()]] = {}
_PAIRS_MAX = 32_768
_PAIR_MAX_BYTES = 128  # longer KeyValues are read every time


def _pair(kv: bytes) -> tuple[str, Any] | tuple[()]:
    """The fast reading of one serialized KeyValue, read as protobuf reads it (and cached)."""
    try:
        end = kv[1] + 2  # when the KeyValue starts with its key, of length < 128
        target = _TARGETS_BY_FIELD.get(kv[:end])
        value = LONG if target is None else short_value(kv, end)
        if value is LONG:
            key, value = key_value(kv, any_value)
            target = _TARGETS.get(key) or (None, None, key)
            if kv[0] == 0x0A and kv[1] < 0x80 and kv[2:end] == key.encode():
                if len(_TARGETS_BY_FIELD) >= _TARGETS_BY_FIELD_MAX:
                    _TARGETS_BY_FIELD.clear()
                _TARGETS_BY_FIELD[kv[:end]] = target
    except (IndexError, DecodeError, UnicodeDecodeError):  # the general reading says why
        return _GENERAL
    field, kind, key = target  # type: ignore[misc]  # set whenever value is
    pair: Any
    if kind is not None:
        if type(value) is str and len(value) > MAX_STRING_CHARS:
            value = bound(value)
        try:
            value = kind(value, key)
        except Bad:
            value = None
        pair = _GENERAL if value is None else (field, value)
    else:
        pair = _OUTSIDE_TABLE if field is None else _GENERAL
    if len(kv) <= _PAIR_MAX_BYTES and field != "request_id":
        if len(_PAIRS) >= _PAIRS_MAX:
            _PAIRS.clear()
        _PAIRS[kv] = pair
    return pair


_pair_of = _PAIRS.get


#: A span with a model key that is empty, or none at all: context.
_CONTEXT: dict[str, Any] = {}


def _fast_fields(kvs: list[bytes]) -> dict[str, Any] | None:
    """A call's fields laid out for ``LLMCall`` with what the table reads from the span's
    serialized KeyValues; ``_CONTEXT`` when the span has no model key; None when the span needs
    the general reading."""
    pairs: list[Any] = list(map(_pair_of, kvs))
    if None in pairs:
        for i, kv in enumerate(kvs):
            if pairs[i] is None:
                pairs[i] = _pair(kv)
    fields = _LAYOUT.copy()
    fields.update(filter(None, pairs))  # a repeated key: its last value, as in a dict
    if "" in fields:
        return None
    # Every model key that is not a first choice, and an empty one, asked for the general
    # reading: without a model here, the span has none.
    return _CONTEXT if fields["model"] is None else fields


def _llm_call(sp: Any, raw: bytes, fields: dict[str, Any], attrs: Mapping[str, Any] | None,
              service: str | None, ids: tuple[str, str, str | None]) -> LLMCall:
    """An LLM call from its span, ``fields`` laid out by ``_LAYOUT``; ``attrs`` when every
    attribute was decoded already."""
    fields["trace_id"], fields["span_id"], fields["parent_span_id"] = ids
    fields["name"] = name = bound(sp.name, MAX_NAME_CHARS)
    api_path, name_requested, name_resolved, flagged = parse_span_name(name)
    fields["api_path"], fields["flagged"], fields["service"] = api_path, flagged, service
    fields["start_ns"] = start = sp.start_time_unix_nano
    fields["end_ns"] = end = sp.end_time_unix_nano or start
    # No span without these bytes has signal events or signals attributes.
    has_signals = raw.find(SIGNAL_MARKER) >= 0
    events: list[SignalEvent] = []
    if has_signals or fields["ttft_ms"] is None:
        ttft_event_ms = None
        for ev in sp.events[:]:
            if ev.name.startswith("signal."):
                events.append(signal_event(ev))
            elif ev.name == "llm.time_to_first_token" and ev.time_unix_nano >= start:
                ttft_event_ms = (ev.time_unix_nano - start) / 1e6
        if fields["ttft_ms"] is None:
            fields["ttft_ms"] = ttft_event_ms
    fields["span_status"], fields["span_status_message"] = status, status_message = (
        span_status(sp.status))
    # Fallbacks that are not attributes: the span name, service.name, the span's own times.
    if fields["request_id"] is None:
        fields["request_id"] = fields["span_id"]
    if fields["model"] is None and name_resolved:
        fields["model"] = name_resolved
    if fields["model_requested"] is None and name_requested:
        fields["model_requested"] = name_requested
    if fields["provider"] is None and service:
        fields["provider"] = service
    if fields["duration_ms"] is None and end > start:
        fields["duration_ms"] = (end - start) / 1e6
    if fields["error_message"] is None and status == "error" and status_message:
        fields["error_message"] = status_message
    if has_signals:  # a few calls: read every attribute now, once
        if attrs is None:
            attrs = attributes(_FromSpan(raw).attributes)
        fields["signals"] = signals(attrs, events)
    fields["attributes"] = SpanAttributes(raw) if attrs is None else attrs
    return LLMCall(*fields.values())


#: A context span's attributes and events until the drilldown decodes them from ``raw``: shared,
#: read-only, and no two containers per span for the garbage collector to walk.
_NOT_DECODED_ATTRS: Mapping[str, Any] = MappingProxyType({})
_NOT_DECODED_EVENTS: tuple = ()


def _context_span(head: Any, raw: bytes, service: str | None,
                  ids: tuple[str, str, str | None]) -> SpanRecord:
    trace_id, span_id, parent = ids
    status, status_message = span_status(head.status)
    start = head.start_time_unix_nano
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent,
        name=bound(head.name, MAX_NAME_CHARS), service=service, start_ns=start,
        end_ns=head.end_time_unix_nano or start, status=status, status_message=status_message,
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
_FromStatus = trace_pb2.Status.FromString


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
    hint = LLM_KEY_HINT
    for rs in view.resource_spans:
        service = _service(rs.resource)
        for ss in rs.scope_spans:
            for raw in ss.spans:
                try:
                    head = _FromHead(raw)
                    ids = _ids(head.trace_id, head.span_id, head.parent_span_id)
                    _times(head.start_time_unix_nano, head.end_time_unix_nano)
                    # find, not `in`: bytes' `in` first tries its operand as an int, and the
                    # TypeError it builds and drops costs more than the search.
                    if raw.find(hint) >= 0:  # in every model key
                        attrs: Mapping[str, Any] | None = None
                        fields = _fast_fields(head.attributes[:])
                        if fields is None:
                            attrs = attributes(_FromSpan(raw).attributes)
                            fields = _general_fields(attrs)
                        if fields is not None and fields is not _CONTEXT:
                            calls.append(_llm_call(head, raw, fields, attrs, service, ids))
                            continue
                    spans.append(_context_span(head, raw, service, ids))
                except Bad as e:
                    rejected.append(_rejection(raw, str(e)))
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
