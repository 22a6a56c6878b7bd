"""What the ledger costs the receiver: CPU per LLM call with the ledger and with ``--ledger none``.

Each receiver runs as its own process (``plano obs --plain``, or the naive grpcio receiver as the
baseline), is sent the gateway's real span shape (``otlp_load.py``: ~930-byte LLM spans, 2%
flagged, 3% errors, sessions and routes) over OTLP/gRPC, and its CPU time is read from /proc
from half a second after it listens until every request was answered and ten and a half seconds
more (so one background sync of the ledger's derived rows is counted; the naive receiver: until
it exits). The three run in turn, ``--rounds``
times, on one machine in one run: only the ratios compare (this machine's speed drifts).

    .venv/bin/python benchmarks/ledger_ingest.py                  # 100k spans, 512 per request
    .venv/bin/python benchmarks/ledger_ingest.py --batch 1 --spans 20000
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402
from _procs import cpu_s, free_port, wait_listening  # noqa: E402

TARGET_OVERHEAD = 0.15


def run_once(kind: str, reqs: list[bytes], per_req: list[int], calls: int, concurrency: int,
             workdir: Path) -> tuple[float, int]:
    """CPU seconds the receiver spent ingesting ``reqs``, and the LLM calls it stored."""
    port = free_port()
    if kind == "naive":
        cmd = [sys.executable, str(HERE / "naive_receiver.py"), "--port", str(port), "--count",
               str(calls)]
    else:
        ledger = workdir / f"ledger-{time.monotonic_ns()}.sqlite" if kind == "ledger" else "none"
        cmd = [sys.executable, "-m", "plano_obs", "obs", "--plain", "--offline", "--no-http",
               "--port", str(port), "--ledger", str(ledger)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_listening(port, proc, timeout_s=60)
    time.sleep(0.5)  # start-up work (imports, the price snapshot) is not ingest
    cpu0 = cpu_s(proc.pid)
    result = otlp_load.send(f"127.0.0.1:{port}", reqs, per_req, concurrency, 0.0, 60.0,
                            progress=False)
    # The naive receiver exits once it has counted every call, without answering the last
    # request or two: UNAVAILABLE there loses nothing. The others must answer everything.
    if result.get("failed_spans") and kind != "naive":
        raise RuntimeError(f"{kind}: {result['failed_spans']} spans failed: "
                           f"{result.get('first_error')}")
    if kind != "naive":
        time.sleep(10.5)  # the ledger's background sync runs every 10 s: count one
        cpu1 = cpu_s(proc.pid)
        proc.send_signal(signal.SIGINT)
    else:
        cpu1 = None
    _, status, usage = os.wait4(proc.pid, 0)
    cpu = (usage.ru_utime + usage.ru_stime) if cpu1 is None else cpu1
    stored = calls
    if kind == "ledger":
        import sqlite3

        con = sqlite3.connect(str(ledger))
        stored = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        con.close()
    return cpu - cpu0, stored


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spans", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=512, help="LLM spans per request")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "plano-obs-bench"))
    args = p.parse_args()
    units, expect, _ = otlp_load.prepare_units(args.seed, args.spans, base_time="now",
                                               cache_dir=None)
    reqs = otlp_load.build_requests(units, args.batch)
    per_req = [min(args.batch, args.spans - i) for i in range(0, args.spans, args.batch)]
    calls = expect["count"]
    print(f"{calls:,} LLM spans of the gateway's shape, {args.batch} per request, "
          f"{args.concurrency} in flight; {args.rounds} rounds", flush=True)
    cpu: dict[str, list[float]] = {"naive": [], "none": [], "ledger": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind in cpu:
                seconds, stored = run_once(kind, reqs, per_req, calls, args.concurrency,
                                           Path(tmp))
                if stored != calls:
                    print(f"  {kind}: stored {stored:,} of {calls:,} calls: LOST CALLS")
                    return 1
                cpu[kind].append(seconds)
                print(f"  round {r + 1} {kind:>6}: {seconds / calls * 1e6:6.1f} µs CPU per call",
                      flush=True)
    us = {k: statistics.median(v) / calls * 1e6 for k, v in cpu.items()}
    overhead = us["ledger"] / us["none"] - 1
    print(f"median µs CPU per LLM call: naive {us['naive']:.1f}, --ledger none "
          f"{us['none']:.1f}, ledger {us['ledger']:.1f}")
    print(f"ledger vs --ledger none: {overhead:+.1%} (target at most +{TARGET_OVERHEAD:.0%}); "
          f"--ledger none vs naive: {us['none'] / us['naive']:.2f}x the CPU")
    ok = overhead <= TARGET_OVERHEAD
    print("OK" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
