"""Memory benchmark: the store stays bounded however long traffic flows.

Ingests demo traffic (decoded in this process, as the receiver does) well past the store's
capacity and its duplicate-detection window (262,144 spans), printing the resident memory after
each round. Past both, memory must level off: old calls and traces are evicted (and counted),
the rollups keep their totals.

    .venv/bin/python benchmarks/memory.py [--capacity 10000] [--rounds 12]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plano_obs.demo import DemoTraffic  # noqa: E402
from plano_obs.ingest.decode import decode_request  # noqa: E402
from plano_obs.runtime import Runtime, tune_gc  # noqa: E402
from plano_obs.settings import Settings  # noqa: E402


def rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1048576


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--capacity", type=int, default=10_000, help="calls held")
    p.add_argument("--rounds", type=int, default=12, help="rounds of 'capacity' calls each")
    args = p.parse_args()
    runtime = Runtime(Settings(port=0, no_http=True, offline=True, capacity=args.capacity))
    tune_gc()
    traffic = DemoTraffic(5)
    start = rss_mb()
    print(f"capacity {args.capacity:,} calls; start {start:.0f} MiB")
    readings = []
    end_ns = time.time_ns()
    for round_no in range(1, args.rounds + 1):
        calls_before = runtime.store.stats().calls
        while runtime.store.stats().calls - calls_before < args.capacity:
            req = traffic.spans_request(512, end_ns).SerializeToString()
            runtime.store.ingest(decode_request(req))
        gc.collect()
        stats = runtime.store.stats()
        readings.append(rss_mb())
        print(f"round {round_no}: {stats.calls:>9,} calls ingested, {stats.calls_held:,} held, "
              f"{stats.evicted_calls:,} evicted; RSS {readings[-1]:.0f} MiB "
              f"(+{readings[-1] - start:.0f})")
    held_kb = (readings[0] - start) * 1024 / args.capacity
    # Compare the last third of the run, when every bound has been reached.
    settled = readings[len(readings) * 2 // 3]
    growth = readings[-1] - settled
    bounded = growth < 0.1 * max(settled - start, 1.0)
    print(f"about {held_kb:.1f} KiB per held call; growth over the last third of the run: "
          f"{growth:+.0f} MiB  {'BOUNDED' if bounded else 'STILL GROWING'}")
    return 0 if bounded else 1


if __name__ == "__main__":
    sys.exit(main())
