"""Where a receiver's time goes per LLM call, stage by stage, on the gateway's real spans.

Runs in one process, without a transport: the same pre-serialized requests (``otlp_load.py``
seed 3, 512 LLM spans each) go through ``plano obs``'s export path with its stages switched on
one after another, and through the naive receiver's handler (``naive_receiver.py``, protobuf
parse included) for comparison:

- ``decode``: ``decode_request`` alone;
- ``store``: plus the store (dedup, the bounded lists and traces), pricing and analytics off;
- ``pricing``: plus pricing from the embedded catalog;
- ``analytics``: plus the rollups (``--ledger none``);
- ``ledger``: plus the SQLite ledger in a temp file, as ``plano obs`` runs by default;
- ``naive``: the naive receiver's ``Export``.

Each stage's cost is the difference to the one before. CPU time drifts on a shared machine;
``--instructions`` counts instructions instead (valgrind's callgrind: 3 to 5 minutes a stage on
a busy 2-core machine), which repeat to within a fraction of a percent from run to run.

    .venv/bin/python benchmarks/ingest_stages.py                   # CPU µs per call, 3 rounds
    .venv/bin/python benchmarks/ingest_stages.py --instructions    # instructions per call
    .venv/bin/python benchmarks/ingest_stages.py --instructions --requests 4   # quicker
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402
from ingest import _cache_dir  # noqa: E402

STAGES = ("decode", "store", "pricing", "analytics", "ledger", "naive")
WARM_REQUESTS = 6  # fill the decoder's caches and the analytics' tables first


def handler(stage: str, tmp: str) -> tuple[Callable[[bytes], object], Callable[[], None]]:
    """The export path up to ``stage``, and what stops it."""
    if stage == "naive":
        import naive_receiver
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts

        servicer = naive_receiver.Servicer(1 << 62, threading.Event())

        def naive(request: bytes) -> object:
            servicer.Export(ts.ExportTraceServiceRequest.FromString(request), None)
            return ts.ExportTraceServiceResponse().SerializeToString()

        return naive, lambda: None
    from plano_obs.ingest.decode import decode_request
    from plano_obs.ingest.service import export
    from plano_obs.runtime import Runtime, tune_gc
    from plano_obs.settings import Settings

    ledger = str(Path(tmp) / "ledger.sqlite") if stage == "ledger" else "none"
    runtime = Runtime(Settings(port=0, http_port=0, offline=True, ledger=ledger))
    runtime.open_ledger()
    if runtime.ledger is not None:
        runtime.ledger.start()
    store = runtime.store
    if stage in ("decode", "store"):
        store.pricer = None
    if stage in ("decode", "store", "pricing"):
        store.analytics = None
    tune_gc()

    def stop() -> None:
        if runtime.ledger is not None:
            runtime.ledger.stop()

    if stage == "decode":
        return decode_request, stop
    return (lambda request: export(store, request).SerializeToString()), stop


def measure(stage: str, requests: list[bytes]) -> float:
    """CPU seconds for ``requests`` after the warm-up, in a fresh export path."""
    with tempfile.TemporaryDirectory(prefix="plano-obs-stages-") as tmp:
        f, stop = handler(stage, tmp)
        for r in requests[:WARM_REQUESTS]:
            f(r)
        t0 = time.process_time()
        # Through functools.reduce so that callgrind can count this loop alone
        # (--toggle-collect=functools_reduce).
        functools.reduce(lambda _, r: f(r), requests[WARM_REQUESTS:], None)
        seconds = time.process_time() - t0
        stop()
    return seconds


def instructions(stage: str, n_requests: int) -> int:
    """Instructions the measured loop of ``stage`` runs (callgrind)."""
    with tempfile.TemporaryDirectory(prefix="plano-obs-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no",
             "--toggle-collect=functools_reduce", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--stage", stage, "--requests", str(n_requests)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for line in out.read_text().splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise SystemExit("ingest_stages: callgrind wrote no totals")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=40, help="measured requests of 512 (40)")
    p.add_argument("--rounds", type=int, default=3, help="alternations, best kept (3)")
    p.add_argument("--instructions", action="store_true",
                   help="count instructions with valgrind instead of timing (10 requests)")
    p.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = p.parse_args()
    n = args.requests
    spans = (WARM_REQUESTS + n) * 512
    units, _, _ = otlp_load.prepare_units(3, spans, cache_dir=_cache_dir())
    requests = otlp_load.build_requests(units, 512)
    calls = n * 512
    if args.stage:  # one stage, in a child process of --instructions
        measure(args.stage, requests)
        return 0
    if args.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("ingest_stages: --instructions needs valgrind")
        unit, per = "instructions", {s: float(instructions(s, n)) for s in STAGES}
    else:
        unit, per = "CPU µs", dict.fromkeys(STAGES, float("inf"))
        for _ in range(args.rounds):
            for s in STAGES:
                per[s] = min(per[s], measure(s, requests) * 1e6)
    print(f"ingest stages, {time.strftime('%Y-%m-%d %H:%M')}, load average "
          f"{os.getloadavg()[0]:.1f}: otlp_load.py seed 3, {calls:,} LLM calls measured "
          f"({WARM_REQUESTS * 512:,} first), 512 per request; {unit} per LLM call")
    before = 0.0
    for s in STAGES[:-1]:
        print(f"  {s:<10} {per[s] / calls:>10,.1f}  (+{(per[s] - before) / calls:,.1f})")
        before = per[s]
    print(f"  {'naive':<10} {per['naive'] / calls:>10,.1f}  (its whole handler)")
    print(f"  plano/naive cost: {per['ledger'] / per['naive']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
