"""Property: the receiver's decoding (hand-read attributes, the attribute cache, fallbacks) agrees
with a plain reading of the protobuf message through the attribute table, on spans built from the
real attribute keys with every kind of value, repeated keys and all."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from plano_obs.ingest._values import MAX_STRING_CHARS, Bad, bound
from plano_obs.ingest.attributes import CALL_ATTRIBUTES, KIND_OF_KEY, MODEL_KEYS
from plano_obs.ingest.decode import decode_request

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
    return AnyValue(string_value=v)


def plain_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    value = getattr(v, which)
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
        result = decode_request(request(sp))
        if "errors" in expected:
            assert not result.calls and len(result.rejected) == 1
            assert result.rejected[0].reason in expected["errors"]
            continue
        if "context" in expected:
            assert not result.calls and not result.rejected and len(result.spans) == 1
            continue
        if result.rejected:
            # Only the signals analysis may reject what the table accepts.
            assert "signals." in result.rejected[0].reason, result.rejected[0].reason
            continue
        (call,) = result.calls
        attrs = expected["attrs"]
        assert list(call.attributes) == list(attrs)
        assert all(same(call.attributes[k], v) for k, v in attrs.items())
        for attr in CALL_ATTRIBUTES:
            want = expected["fields"].get(attr.field)
            if want is not None:
                assert same(getattr(call, attr.field), want), attr.field
