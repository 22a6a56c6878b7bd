"""``TraceService/Export`` without its transport: request bytes in, store fed, response out.

The gRPC and the HTTP receivers both answer through ``export``, so a request means the same
thing, and a rejected span the same reason, whichever way it arrives.
"""

from __future__ import annotations

import json
from typing import Protocol

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from plano_obs.ingest.decode import RequestDecodeError, decode_request
from plano_obs.ingest.otlp_json import decode_otlp_json
from plano_obs.model import DecodeResult

__all__ = ["export"]

#: Distinct rejection reasons spelled out in ``partial_success.error_message``; more are counted.
_MAX_REASONS = 5


class _Sink(Protocol):
    def ingest(self, result: DecodeResult) -> object: ...


def export(store: _Sink, body: bytes, *, json_body: bool = False) -> ExportTraceServiceResponse:
    """Decode one ``ExportTraceServiceRequest`` (protobuf, or OTLP/JSON), ingest it, answer.

    Raises ``RequestDecodeError`` when the body is not an OTLP trace request at all; spans that
    cannot be decoded are rejected one by one and reported in the response's partial success.
    """
    result = _decode_json(body) if json_body else decode_request(body)
    store.ingest(result)
    return _response(result)


def _decode_json(body: bytes) -> DecodeResult:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise RequestDecodeError(f"not JSON: {str(e)[:200]}") from None
    try:
        return decode_otlp_json(obj)
    except (ValueError, TypeError, RecursionError) as e:
        raise RequestDecodeError(str(e)[:300] or "not an OTLP/JSON trace request") from None


def _response(result: DecodeResult) -> ExportTraceServiceResponse:
    """The response to a decoded request: empty, or a partial success naming the reasons."""
    if not result.rejected:
        return ExportTraceServiceResponse()
    reasons: dict[str, int] = {}
    for r in result.rejected:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    message = "; ".join(f"{n} span{'s' if n > 1 else ''}: {reason}"
                        for reason, n in list(reasons.items())[:_MAX_REASONS])
    if len(reasons) > _MAX_REASONS:
        message += f"; and {len(reasons) - _MAX_REASONS} other reasons"
    return ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(
            rejected_spans=len(result.rejected), error_message=message
        )
    )
