"""Decode benchmark: CPU µs per LLM span on the gateway's real spans (otlp_load.py, 512 a request).

Two ways of reading an LLM span's attributes, the rest of decoding being the same:

- ``wire``: what the receiver does (``decode_request``): ``_wire.key_value`` reads each serialized
  KeyValue, short ones from a cache of their bytes with the value already converted;
- ``upb``: protobuf parses the whole span and each attribute is read from the message.

Alternating, best of 5 each; the target is 20 µs per LLM span.

    .venv/bin/python benchmarks/decode.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402
from ingest import _cache_dir  # noqa: E402
from opentelemetry.proto.trace.v1 import trace_pb2  # noqa: E402

from plano_obs.ingest import decode  # noqa: E402
from plano_obs.ingest._values import attributes  # noqa: E402
from plano_obs.ingest._wire import ExportView  # noqa: E402
from plano_obs.ingest.attributes import KIND_OF_KEY  # noqa: E402

TARGET_US = 20.0


def upb_decode(request: bytes) -> list:
    """The same LLM calls, each span parsed in full by protobuf and read from the message."""
    calls = []
    for rs in ExportView.FromString(request).resource_spans:
        service = decode._service(rs.resource)
        for ss in rs.scope_spans:
            for raw in ss.spans:
                sp = trace_pb2.Span.FromString(raw)
                ids = decode._ids(sp.trace_id, sp.span_id, sp.parent_span_id)
                attrs = attributes(sp.attributes)
                typed = {}
                for key, value in attrs.items():
                    kind = KIND_OF_KEY.get(key)
                    if kind is not None and (converted := kind(value, key)) is not None:
                        typed[key] = converted
                calls.append(decode._llm_call(sp, raw, attrs, typed, service, ids))
    return calls


def main() -> int:
    units, _, _ = otlp_load.prepare_units(3, 30_720, cache_dir=_cache_dir())
    requests = otlp_load.build_requests(units, 512)
    ways = {"wire": decode.decode_request, "upb": upb_decode}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(5):
        for name, f in ways.items():
            t0 = time.process_time()
            for r in requests:
                f(r)
            best[name] = min(best[name], time.process_time() - t0)
    print(f"decode, otlp_load.py seed 3: {len(units):,} LLM spans (~930 B), 512 per request")
    for name, seconds in best.items():
        print(f"  {name:<4}  {seconds / len(units) * 1e6:6.1f} CPU µs per LLM span")
    wire_us = best["wire"] / len(units) * 1e6
    ok = wire_us <= TARGET_US
    print(f"verdict: {wire_us:.1f} µs per LLM span, target {TARGET_US:.0f}: "
          f"{'OK' if ok else 'ABOVE TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
