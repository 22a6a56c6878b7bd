"""Decode benchmark: CPU µs per LLM span on the gateway's real spans (otlp_load.py, 512 a request).

Two readings of an LLM span's attributes, the rest of ``decode_request`` being the same:

- ``fast``: what the receiver does: each serialized KeyValue maps to its field and converted
  value through a cache keyed by its bytes (misses read strictly with ``_wire.key_value``);
  anything unusual goes to the general reading;
- ``general``: protobuf (upb) parses the whole span, every attribute becomes a Python value, and
  the attribute table is read from that dict (what the receiver does for the unusual spans).

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

from plano_obs.ingest import decode  # noqa: E402

TARGET_US = 20.0


def general_decode(request: bytes) -> object:
    """``decode_request`` with every LLM span read by the general reading."""
    fast = decode._fast_fields
    decode._fast_fields = lambda kvs: None  # type: ignore[assignment]
    try:
        return decode.decode_request(request)
    finally:
        decode._fast_fields = fast


def main() -> int:
    units, _, _ = otlp_load.prepare_units(3, 30_720, cache_dir=_cache_dir())
    requests = otlp_load.build_requests(units, 512)
    ways = {"fast": decode.decode_request, "general": general_decode}
    for name, f in ways.items():  # both agree on the workload
        assert len(f(requests[0]).calls) == 512, name
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(5):
        for name, f in ways.items():
            t0 = time.process_time()
            for r in requests:
                f(r)
            best[name] = min(best[name], time.process_time() - t0)
    print(f"decode, otlp_load.py seed 3: {len(units):,} LLM spans (~930 B), 512 per request")
    for name, seconds in best.items():
        print(f"  {name:<7}  {seconds / len(units) * 1e6:6.1f} CPU µs per LLM span")
    fast_us = best["fast"] / len(units) * 1e6
    ok = fast_us <= TARGET_US
    print(f"verdict: {fast_us:.1f} µs per LLM span, target {TARGET_US:.0f}: "
          f"{'OK' if ok else 'ABOVE TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
