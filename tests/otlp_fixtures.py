"""Builders for OTLP protobuf messages used across the tests."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import time
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

T0 = 1_790_000_000_000_000_000  # a fixed start time, ns
_serial = itertools.count(1)


def any_value(value: Any) -> AnyValue:
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def span(
    attrs: dict[str, Any] | None = None,
    *,
    name: str = "POST /v1/chat/completions gpt-4o-mini",
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
    parent: bytes = b"",
    start_ns: int = T0,
    duration_ms: float = 1000,
    events: list[trace_pb2.Span.Event] | None = None,
    status_code: int = 0,
    status_message: str = "",
) -> trace_pb2.Span:
    n = next(_serial)
    sp = trace_pb2.Span(
        trace_id=trace_id if trace_id is not None else n.to_bytes(16, "big"),
        span_id=span_id if span_id is not None else n.to_bytes(8, "big"),
        parent_span_id=parent,
        name=name,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + int(duration_ms * 1e6),
        attributes=kvs(attrs or {}),
        events=events or [],
    )
    sp.status.code = status_code
    sp.status.message = status_message
    return sp


def event(name: str, attrs: dict[str, Any] | None = None, time_ns: int = T0 + 1) -> Any:
    return trace_pb2.Span.Event(name=name, time_unix_nano=time_ns, attributes=kvs(attrs or {}))


def request(*spans: trace_pb2.Span, service: str = "plano(llm)") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(kvs({"service.name": service}))
    rs.scope_spans.add().spans.extend(spans)
    return req


def llm_attrs(**overrides: Any) -> dict[str, Any]:
    """A complete, valid LLM span's attributes; overrides replace (None removes)."""
    attrs: dict[str, Any] = {
        "llm.model": "gpt-4o-mini-2024-07-18",
        "llm.provider": "openai",
        "model.requested": "gpt-4o-mini",
        "llm.is_streaming": True,
        "llm.duration_ms": 1200,
        "llm.time_to_first_token": 250,
        "llm.usage.prompt_tokens": 1000,
        "llm.usage.completion_tokens": 200,
        "llm.usage.total_tokens": 1200,
        "http.status_code": 200,
        "request_id": "req-1",
    }
    for k, v in overrides.items():
        key = k.replace("__", ".")
        if v is None:
            attrs.pop(key, None)
        else:
            attrs[key] = v
    return attrs


def wait_listening(port: int, deadline_s: float = 10) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def send(port: int, req: ExportTraceServiceRequest) -> None:
    """One OTLP/gRPC export to 127.0.0.1:``port``, as an exporter sends it."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        export = ch.unary_unary(
            OTLP_TRACE_EXPORT_METHOD,
            request_serializer=ExportTraceServiceRequest.SerializeToString,
            response_deserializer=ExportTraceServiceResponse.FromString)
        export(req, timeout=5)


_HEX_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def otlp_json(req: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP/JSON form of ``req``, as the Collector's otlphttp exporter (``encoding: json``)
    writes it: lowerCamelCase keys, hex ids, 64-bit integers as strings, enums as integers."""

    def hex_ids(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: (base64.b64decode(v).hex() if k in _HEX_ID_KEYS else hex_ids(v))
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [hex_ids(v) for v in obj]
        return obj

    return hex_ids(MessageToDict(req, use_integers_for_enums=True))


def otlp_json_line(req: ExportTraceServiceRequest) -> str:
    """One line as the Collector's file exporter writes it (ids in hex)."""
    return json.dumps(otlp_json(req))
