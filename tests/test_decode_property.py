"""Property: the receiver's decoding (its fast reading of attributes through a cache of their
bytes, its general reading, the fallbacks) agrees with a plain reading of the protobuf message
through the attribute table: on spans built from the real attribute keys with every kind of value,
repeated keys and all, and on spans whose attributes are encoded in every way protobuf accepts,
with values that hide the serialized bytes of other attributes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from plano_obs.ingest._values import MAX_STRING_CHARS, Bad, bound
from plano_obs.ingest.attributes import CALL_ATTRIBUTES, KIND_OF_KEY, MODEL_KEYS
from plano_obs.ingest.decode import decode_request, decode_span_attributes

from otlp_fixtures import kvs as to_kvs
from otlp_fixtures import request, span

KEYS = sorted(KIND_OF_KEY) + ["signals.quality", "component", "llm.user_message_preview"]

values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 200, 404, 599, 600]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["", " ", "200", "12.0", "12.5", "-3", "junk", "true", "no", "1e3",
                     "gpt-4o", "x" * 127, "y" * 128, "z" * (MAX_STRING_CHARS + 10)]),
    st.text(max_size=40),
)


def any_value(v: Any) -> AnyValue:
    if v is None:
        return AnyValue()
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, bytes):
        return AnyValue(bytes_value=v)
    return AnyValue(string_value=v)


def plain_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    value = getattr(v, which)
    if which == "bytes_value":
        return value.hex()
    return bound(value) if isinstance(value, str) else value


def reference(kvs: list[KeyValue]) -> dict[str, Any]:
    """What a span should decode to, read plainly: a context span, the reasons to reject it,
    or its fields and attributes."""
    attrs = {kv.key: plain_value(kv.value) for kv in kvs}
    if all(attrs.get(key) is None for key in MODEL_KEYS):
        return {"context": True}
    fields: dict[str, Any] = {}
    errors = set()
    for attr in CALL_ATTRIBUTES:
        for key in attr.keys:
            if attrs.get(key) is None:
                continue
            try:
                value = attr.kind(attrs[key], key)
            except Bad as e:
                errors.add(str(e))
                continue
            if value is not None and attr.field not in fields:
                fields[attr.field] = value
    if errors:
        return {"errors": errors}
    return {"fields": fields, "attrs": attrs}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def check(result: Any, expected: dict[str, Any]) -> None:
    """``result`` (one span decoded) is what the plain reading ``expected`` says."""
    if "errors" in expected:
        assert not result.calls and len(result.rejected) == 1
        assert result.rejected[0].reason in expected["errors"]
        return
    if "context" in expected:
        assert not result.calls and not result.rejected and len(result.spans) == 1
        return
    if result.rejected:
        # Only the signals analysis may reject what the table accepts.
        assert "signals." in result.rejected[0].reason, result.rejected[0].reason
        return
    (call,) = result.calls
    attrs = expected["attrs"]
    assert list(call.attributes) == list(attrs)
    assert all(same(call.attributes[k], v) for k, v in attrs.items())
    for attr in CALL_ATTRIBUTES:
        want = expected["fields"].get(attr.field)
        if want is not None:
            assert same(getattr(call, attr.field), want), attr.field


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=14),
       st.sampled_from(MODEL_KEYS))
def test_decoding_agrees_with_a_plain_reading_of_the_message(pairs, model_key):
    kvs = [KeyValue(key=model_key, value=AnyValue(string_value="gpt-4o"))]
    kvs += [KeyValue(key=k, value=any_value(v)) for k, v in pairs]
    sp = span()
    sp.ClearField("attributes")
    sp.attributes.extend(kvs)
    expected = reference(kvs)
    for _ in range(2):  # the second time, short attributes come from the attribute cache
        check(decode_request(request(sp)), expected)


# --- attributes as bytes: every encoding protobuf accepts, and values that hide attributes ------


def varint(n: int, extra_bytes: int = 0) -> bytes:
    """``n`` as a protobuf varint, padded with ``extra_bytes`` more than it needs (protobuf reads
    such overlong varints, up to ten bytes)."""
    out = bytearray()
    while True:
        out.append(n & 0x7F)
        n >>= 7
        if not n:
            break
        out[-1] |= 0x80
    for _ in range(extra_bytes):
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


def field(number: int, payload: bytes, extra_bytes: int = 0) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload), extra_bytes) + payload


def serialized(key: str, value: Any) -> bytes:
    return KeyValue(key=key, value=any_value(value)).SerializeToString()


ENCODINGS = ("plain", "value first", "overlong lengths", "unknown field", "key twice",
             "value twice", "empty value after one", "no value")


def encode(key: str, value: AnyValue, how: str) -> bytes:
    """A KeyValue's bytes, encoded ``how``: all of them valid protobuf."""
    k, v = field(1, key.encode()), field(2, value.SerializeToString())
    return {
        "plain": k + v,
        "value first": v + k,
        "overlong lengths": field(1, key.encode(), 1) + field(2, value.SerializeToString(), 2),
        "unknown field": k + v + b"\x18\x05",  # field 3, a varint
        "key twice": field(1, b"llm.model") + k + v,  # the last key counts
        "value twice": k + field(2, AnyValue(string_value="decoy").SerializeToString()) + v,
        "empty value after one": k + v + field(2, b""),  # protobuf merges the two values
        "no value": k,
    }[how]


#: Values that hold the serialized bytes of other attributes (as a KeyValue, and as the span's
#: attribute field around one): a reader that searches bytes instead of parsing them takes these
#: for attributes.
HIDDEN = [serialized("llm.model", "gpt-4o"), serialized("llm.usage.prompt_tokens", 123_456),
          serialized("http.status_code", 500), serialized("request_id", "forged")]
HIDDEN += [field(9, kv) for kv in HIDDEN]
hiding_values = st.one_of(
    values,
    st.sampled_from(HIDDEN),  # as bytes_value: any bytes at all
    st.sampled_from([kv.decode() for kv in HIDDEN if kv.isascii()]),  # as string_value
)


def llm_span_bytes(attributes: list[bytes]) -> bytes:
    """A span (ids, name, times) whose attribute fields are exactly ``attributes``."""
    head = span()
    head.ClearField("attributes")
    return head.SerializeToString() + b"".join(field(9, kv) for kv in attributes)


def request_bytes(span_raw: bytes) -> bytes:
    """An ExportTraceServiceRequest around one span's bytes, as they are."""
    resource = field(1, b"".join(kv.SerializeToString() for kv in to_kvs(
        {"service.name": "plano(llm)"})))
    return field(1, field(1, resource) + field(2, field(2, span_raw)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KEYS + ["llm.user_message_preview"]), hiding_values,
                          st.sampled_from(ENCODINGS)), max_size=10),
       st.sampled_from(MODEL_KEYS + ("none",)), st.sampled_from(ENCODINGS))
def test_odd_encodings_and_hidden_attributes_read_as_protobuf_reads_them(
        attrs, model_key, model_encoding):
    kvs = [encode(k, any_value(v), how) for k, v, how in attrs]
    if model_key != "none":
        kvs.insert(0, encode(model_key, AnyValue(string_value="gpt-4o"), model_encoding))
    check_bytes(llm_span_bytes(kvs))


def check_bytes(raw: bytes) -> None:
    """Decoding the span ``raw`` agrees with protobuf's reading of it, or its refusal."""
    try:
        expected = reference(list(Span.FromString(raw).attributes))
    except DecodeError:
        expected = {"undecodable": True}
    for _ in range(2):  # the second time, short attributes come from the attribute cache
        result = decode_request(request_bytes(raw))
        if "undecodable" in expected:
            assert not result.calls
            if result.spans:
                # Without a model key it is context, whose attributes are read (and found
                # damaged) only when the drilldown asks.
                with pytest.raises(DecodeError):
                    decode_span_attributes(result.spans[0].raw)
            else:
                assert result.rejected[0].reason.startswith("undecodable span")
            continue
        check(result, expected)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=6), st.data())
def test_damaged_attributes_are_refused_as_protobuf_refuses_them(attrs, data):
    """One byte of one attribute replaced, cut or added (the span around it stays whole):
    truncated varints, lengths that overrun or fall short, continuation bits where none
    belong."""
    kvs = [serialized("llm.model", "gpt-4o")] + [serialized(k, v) for k, v in attrs]
    i = data.draw(st.integers(0, len(kvs) - 1))
    kv = bytearray(kvs[i])
    pos = data.draw(st.integers(0, len(kv) - 1))
    how = data.draw(st.sampled_from(["replace", "set high bit", "cut", "add"]))
    if how == "replace":
        kv[pos] = data.draw(st.integers(0, 255))
    elif how == "set high bit":
        kv[pos] |= 0x80
    elif how == "cut":
        del kv[pos]
    else:
        kv.insert(pos, data.draw(st.integers(0, 255)))
    kvs[i] = bytes(kv)
    check_bytes(llm_span_bytes(kvs))


#: One of each layout the fast reading reads itself.
LAYOUTS = [serialized("llm.usage.prompt_tokens", n) for n in (5, 300, 70_000, 1 << 40)]
LAYOUTS += [serialized("llm.is_streaming", True), serialized("llm.usage.total_cost_usd", 0.25),
            serialized("plano.route.name", "code"), serialized("plano.route.name", "r" * 125),
            serialized("plano.route.name", "r" * 126), serialized("component", "x"),
            KeyValue(key="error.type").SerializeToString()]


def damaged(kv: bytes) -> list[bytes]:
    """``kv`` damaged in every one-byte way: each byte with its high bit set, cut, replaced by
    0x00, 0x7f, 0x80 or 0xff, and a byte added before it."""
    out = []
    for pos in range(len(kv)):
        out.append(kv[:pos] + bytes([kv[pos] | 0x80]) + kv[pos + 1:])
        out.append(kv[:pos] + kv[pos + 1:])
        out += [kv[:pos] + bytes([b]) + kv[pos + 1:] for b in (0x00, 0x7F, 0x80, 0xFF)]
        out += [kv[:pos] + bytes([b]) + kv[pos:] for b in (0x00, 0x80)]
    return out


@pytest.mark.parametrize("kv", LAYOUTS, ids=lambda kv: kv[2:kv[1] + 2].decode())
def test_every_one_byte_damage_to_an_attribute_is_read_as_protobuf_reads_it(kv):
    for bad in damaged(kv):
        check_bytes(llm_span_bytes([serialized("llm.model", "gpt-4o"), bad]))


def test_a_value_holding_a_model_attribute_does_not_make_a_call():
    for hidden in HIDDEN:
        kvs = [serialized("llm.user_message_preview", hidden.decode()) if hidden.isascii()
               else serialized("component", hidden)]
        result = decode_request(request_bytes(llm_span_bytes(kvs)))
        assert not result.calls and not result.rejected and len(result.spans) == 1


def test_a_value_holding_another_attribute_does_not_change_the_call():
    kvs = [serialized("llm.model", "gpt-4o"), serialized("llm.usage.prompt_tokens", 7)]
    kvs += [serialized("component", hidden) for hidden in HIDDEN]
    (call,) = decode_request(request_bytes(llm_span_bytes(kvs))).calls
    assert (call.model, call.prompt_tokens, call.status_code) == ("gpt-4o", 7, None)
    assert call.request_id == call.span_id
