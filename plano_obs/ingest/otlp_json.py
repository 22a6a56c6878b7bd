"""OTLP/JSON trace requests (the OpenTelemetry Collector file exporter), decoded like gRPC ones."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.ingest.decode import decode_request
from plano_obs.model import DecodeResult

__all__ = ["decode_otlp_json"]

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
