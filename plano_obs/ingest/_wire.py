"""Lean protobuf views of OTLP trace requests, for the ingest hot path.

Parsing ``ExportTraceServiceRequest`` with the full schema turns every attribute of every span into
Python objects. Most spans of a gateway trace are context (inbound, routing, agent), so the receiver
parses the request with a view in which each span is raw bytes, tests those bytes for the LLM model
keys, and reads a span's attributes (kept as serialized KeyValues) only for LLM spans. A context
span's attributes are decoded later, when the drilldown asks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from plano_obs.ingest.attributes import MODEL_KEYS

__all__ = [
    "LLM_KEY_HINT", "LONG", "ExportView", "SpanHead", "any_value", "key_value", "short_value",
]

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    msg: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    kind: int,
    *,
    repeated: bool = False,
    type_name: str | None = None,
) -> None:
    f = msg.field.add(name=name, number=number, type=kind)
    f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        f.type_name = type_name


def _build() -> tuple[type, type]:
    pool = descriptor_pool.DescriptorPool()
    # The views reuse the real Resource and Status messages.
    for dep in (resource_pb2, trace_pb2):
        _add_with_deps(pool, dep.DESCRIPTOR)
    fdp = descriptor_pb2.FileDescriptorProto(
        name="plano_obs_wire_view.proto",
        package="plano_obs.wire",
        syntax="proto3",
        dependency=[resource_pb2.DESCRIPTOR.name, trace_pb2.DESCRIPTOR.name],
    )
    scope = fdp.message_type.add(name="ScopeSpansView")
    _field(scope, "spans", 2, _F.TYPE_BYTES, repeated=True)
    rs = fdp.message_type.add(name="ResourceSpansView")
    _field(rs, "resource", 1, _F.TYPE_MESSAGE,
           type_name=".opentelemetry.proto.resource.v1.Resource")
    _field(rs, "scope_spans", 2, _F.TYPE_MESSAGE, repeated=True,
           type_name=".plano_obs.wire.ScopeSpansView")
    req = fdp.message_type.add(name="ExportView")
    _field(req, "resource_spans", 1, _F.TYPE_MESSAGE, repeated=True,
           type_name=".plano_obs.wire.ResourceSpansView")
    # A Span, every field as strict as Span's own, but its attributes kept as serialized
    # KeyValues (building a Python object per attribute is most of the cost of a full parse)
    # and its status as serialized Status (decode.span_status reads it).
    head = fdp.message_type.add(name="SpanHead")
    trace_pb2.Span.DESCRIPTOR.CopyToProto(head)
    head.name = "SpanHead"
    del head.nested_type[:], head.enum_type[:]  # its fields keep naming Span's Event and Link
    # The status too: it is empty on most spans, and its bytes cost less than a message.
    for f in head.field:
        if f.number in (9, 15):
            f.type = _F.TYPE_BYTES
            f.ClearField("type_name")
    pool.Add(fdp)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("plano_obs.wire.ExportView")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("plano_obs.wire.SpanHead")),
    )


def _add_with_deps(pool: descriptor_pool.DescriptorPool, fd) -> None:  # type: ignore[no-untyped-def]
    try:
        pool.FindFileByName(fd.name)
        return
    except KeyError:
        pass
    for dep in fd.dependencies:
        _add_with_deps(pool, dep)
    proto = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(proto)
    pool.Add(proto)


ExportView: Any
SpanHead: Any
ExportView, SpanHead = _build()
_FromAnyValue = common_pb2.AnyValue.FromString
_FromKeyValue = common_pb2.KeyValue.FromString
_unpack_double = struct.Struct("<d").unpack_from
_INT64 = 1 << 63
_UINT64 = (1 << 64) - 1


def _varint(b: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def any_value(b: bytes, convert: Callable[[Any], Any]) -> Any:
    """A serialized ``AnyValue`` as a Python value: scalars inline, the rest via protobuf."""
    if not b:
        return None
    tag = b[0]
    try:
        if tag == 0x0A:  # string_value
            n, pos = _varint(b, 1)
            if pos + n == len(b) and pos <= 11:
                return b[pos:].decode()
        elif tag == 0x18:  # int_value
            v, pos = _varint(b, 1)
            if pos == len(b) and pos <= 11:  # a varint is at most 10 bytes
                v &= _UINT64  # as protobuf reads an overlong one
                return v - (1 << 64) if v >= _INT64 else v
        elif tag == 0x10:  # bool_value
            if len(b) == 2 and b[1] < 0x80:
                return b[1] != 0
        elif tag == 0x21:  # double_value
            if len(b) == 9:
                return _unpack_double(b, 1)[0]
    except IndexError:
        pass
    return convert(_FromAnyValue(b))


#: What ``short_value`` returns for a KeyValue whose value it leaves to ``key_value``.
LONG = object()


def short_value(kv: bytes, end: int) -> Any:
    """The value of the serialized KeyValue ``kv`` whose key field ends at ``end``, when the rest
    is one AnyValue of a layout most attributes have: a string shorter than 124 bytes, an int of
    up to three varint bytes, a bool or a double. ``LONG`` for anything else.

    Every length and varint byte is checked as protobuf checks it: what this reads, protobuf
    reads the same; what protobuf refuses, this leaves to ``key_value``.
    """
    n = len(kv) - end - 3  # the AnyValue's bytes after its own tag
    if not 0 < n < 126 or kv[end] != 0x12 or kv[end + 1] != n + 1:  # a one-byte length
        return LONG
    tag = kv[end + 2]
    b0 = kv[end + 3]
    if tag == 0x0A:  # string_value
        if b0 == n - 1:
            return kv[end + 4 :].decode()
    elif tag == 0x18:  # int_value
        if n == 1:
            if b0 < 0x80:
                return b0
        elif n == 2:
            b1 = kv[end + 4]
            if b0 >= 0x80 and b1 < 0x80:
                return (b0 & 0x7F) | (b1 << 7)
        elif n == 3:
            b1, b2 = kv[end + 4], kv[end + 5]
            if b0 >= 0x80 and b1 >= 0x80 and b2 < 0x80:
                return (b0 & 0x7F) | ((b1 & 0x7F) << 7) | (b2 << 14)
    elif tag == 0x10:  # bool_value
        if n == 1 and b0 < 0x80:
            return b0 != 0
    elif tag == 0x21:  # double_value
        if n == 8:
            return _unpack_double(kv, end + 3)[0]
    return LONG


def key_value(kv: bytes, convert: Callable[[Any], Any]) -> tuple[str, Any]:
    """A serialized ``KeyValue`` as (key, value), as protobuf reads it.

    KeyValue = 0x0A len key [0x12 len AnyValue]. The common layouts are read here (one-byte key
    length; ``short_value``, then ``any_value``); anything else (arrays, maps, odd encodings)
    through protobuf, with ``convert``.
    """
    size = len(kv)
    try:
        if kv[0] == 0x0A and kv[1] < 0x80:
            end = kv[1] + 2  # the value field's tag; a KeyValue with no value ends before it
            if end == size:
                return kv[2:end].decode(), None
            value = short_value(kv, end)
            if value is not LONG:
                return kv[2:end].decode(), value
            if kv[end] == 0x12:
                vlen, pos = _varint(kv, end + 1)
                if pos + vlen == size and pos <= end + 11:
                    return kv[2:end].decode(), any_value(kv[pos:], convert)
    except IndexError:
        pass
    msg = _FromKeyValue(kv)
    return msg.key, convert(msg.value)


#: In every model key: a span without these bytes is context, whatever it holds.
LLM_KEY_HINT = b".model"
assert all(LLM_KEY_HINT in key.encode() for key in MODEL_KEYS)
