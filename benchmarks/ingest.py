"""Ingest benchmark: the gateway's real LLM spans over OTLP/gRPC, plano obs beside a naive receiver.

Each scenario sends the same pre-serialized requests to two receivers, each in its own process,
alternating which goes first from one round to the next (this machine's speed drifts, so only
ratios within one run compare):

- ``naive``: ``benchmarks/naive_receiver.py``, a plain grpcio server that turns every attribute
  into a Python value and keeps one dataclass per LLM call (the baseline);
- ``plano``: the full ``plano obs`` receiver as ``plano obs`` runs it (decoding, dedup, pricing
  from the embedded catalog, analytics, bounded store; the default settings).

Scenarios: ``batch`` (``otlp_load.py`` LLM spans, 512 per request, 2 requests in flight, as a
gateway's OTel SDK sends them under load), ``single`` (the same spans one per request, 8 in flight)
and ``demo`` (the demo's mixed traces, 512 spans per request, about a third of them LLM calls).
For each it prints LLM calls per second (wall clock, first request sent to last reply), the
receiver's CPU µs per LLM call (user + system, all threads, from /proc), and lost spans (sent
minus counted by the receiver). The verdict compares the median plano/naive ratio of ``batch``
with the target.

    .venv/bin/python benchmarks/ingest.py                      # every scenario, 2 rounds
    .venv/bin/python benchmarks/ingest.py --scenario batch --rounds 3 --spans 200000
    .venv/bin/python benchmarks/ingest.py --target 127.0.0.1:4317   # a running plano obs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402
from _procs import cache_dir, cpu_s, free_port, wait_listening  # noqa: E402

#: plano obs must ingest at least this many times the naive receiver's LLM calls per second.
TARGET_RATIO = 1.5


@dataclass
class Workload:
    """Pre-serialized requests and what they hold."""

    name: str
    description: str
    requests: list[bytes]
    spans_per_request: list[int]
    llm_calls: int
    in_flight: int

    @property
    def spans(self) -> int:
        return sum(self.spans_per_request)


@dataclass
class Run:
    receiver: str
    calls_per_s: float
    cpu_us_per_call: float
    lost_spans: int
    detail: str


def real_workload(name: str, spans: int, batch: int, in_flight: int, seed: int) -> Workload:
    """``otlp_load.py``'s gateway LLM spans (deterministic; cached between runs)."""
    units, _, _ = otlp_load.prepare_units(seed, spans, cache_dir=cache_dir())
    requests = otlp_load.build_requests(units, batch)
    per = otlp_load.spans_per_request(spans, batch)
    size = sum(len(u) for u in units) / len(units)
    return Workload(name, f"otlp_load.py seed {seed}: {spans:,} LLM spans (~{size:.0f} B each), "
                    f"{batch} per request, {in_flight} in flight", requests, per, spans, in_flight)


def demo_workload(spans: int, seed: int) -> Workload:
    """The demo's mixed traces (inbound, routing, LLM, agent spans), 512 spans per request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from plano_obs.demo import DemoTraffic

    traffic = DemoTraffic(seed)
    end_ns = otlp_load.FIXED_BASE_TIME_S * 10**9
    requests, llm = [], 0
    for _ in range(max(1, spans // 512)):
        req: ExportTraceServiceRequest = traffic.spans_request(512, end_ns)
        llm += sum(1 for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans
                   if any(kv.key == "llm.model" for kv in sp.attributes))
        requests.append(req.SerializeToString())
    return Workload("demo", f"demo traces seed {seed}: {512 * len(requests):,} spans, {llm:,} of "
                    "them LLM calls, 512 per request, 2 in flight", requests,
                    [512] * len(requests), llm, 2)


def _send(target: str, w: Workload) -> dict:
    return otlp_load.send(target, w.requests, w.spans_per_request, w.in_flight, rate=0,
                          timeout=120, progress=False)


def run_naive(w: Workload) -> Run:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "naive_receiver.py"), "--port", str(port),
                             "--count", str(w.llm_calls)])
    try:
        wait_listening(port)
        cpu0 = cpu_s(proc.pid)
        res = _send(f"127.0.0.1:{port}", w)
        cpu = cpu_s(proc.pid) - cpu0
        # It exits once it has counted every LLM call, stopping its server at once: the last
        # request or two may then see UNAVAILABLE instead of a reply, though nothing was lost.
        try:
            proc.wait(timeout=15)
            lost, detail = 0, ""
        except subprocess.TimeoutExpired:
            lost, detail = max(1, res["failed_spans"] + res["rejected_spans"]), _errors(res)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Run("naive", w.llm_calls / res["elapsed_s"], cpu / w.llm_calls * 1e6, lost, detail)


def run_plano(w: Workload) -> Run:
    proc = subprocess.Popen([sys.executable, str(HERE / "ingest.py"), "--serve"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        port = int(proc.stdout.readline())
        wait_listening(port)
        cpu0 = cpu_s(proc.pid)
        res = _send(f"127.0.0.1:{port}", w)
        cpu = cpu_s(proc.pid) - cpu0
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        stats = json.loads(proc.stdout.readline())
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lost = w.spans - stats["accepted_spans"]
    detail = _errors(res)
    if stats["calls"] != w.llm_calls:
        detail += f" calls counted {stats['calls']:,} of {w.llm_calls:,}"
    if stats["rejected_spans"] or stats["refused_requests"]:
        detail += (f" rejected {stats['rejected_spans']} refused {stats['refused_requests']}: "
                   f"{stats['last_rejection'] or stats['last_refusal']}")
    return Run("plano", w.llm_calls / res["elapsed_s"], cpu / w.llm_calls * 1e6, lost, detail)


def _errors(res: dict) -> str:
    if res.get("fatal"):
        raise SystemExit(f"ingest benchmark: {res['fatal']}")
    return f" errors {res['error_codes']}: {res['first_error']}" if res["failed_rpcs"] else ""


def serve() -> None:
    """The plano side (a child process): the runtime as ``plano obs`` builds it, headless."""
    from plano_obs.runtime import Runtime
    from plano_obs.settings import Settings

    # As plano obs runs by default, ledger included, but in a file of its own.
    tmp = tempfile.TemporaryDirectory(prefix="plano-obs-bench-")
    runtime = Runtime(Settings(port=0, http_port=0, offline=True,
                               ledger=str(Path(tmp.name) / "ledger.sqlite")))
    runtime.start()
    print(runtime.receiver.port, flush=True)
    sys.stdin.readline()
    stats = runtime.store.stats()
    print(json.dumps({"accepted_spans": stats.accepted_spans, "calls": stats.calls,
                      "rejected_spans": stats.rejected_spans,
                      "refused_requests": stats.refused_requests,
                      "last_rejection": stats.last_rejection,
                      "last_refusal": stats.last_refusal}), flush=True)
    runtime.stop()
    tmp.cleanup()


def compare(w: Workload, rounds: int) -> float:
    """Alternate the two receivers ``rounds`` times; print each run; return the median ratio."""
    print(f"\n[{w.name}] {w.description}", flush=True)
    ratios, lost = [], 0
    for i in range(rounds):
        order = (run_naive, run_plano) if i % 2 == 0 else (run_plano, run_naive)
        runs = {r.receiver: r for r in (f(w) for f in order)}
        for r in (runs["naive"], runs["plano"]):
            lost += r.lost_spans
            print(f"  round {i + 1}  {r.receiver:<5}  {r.calls_per_s:>9,.0f} LLM calls/s  "
                  f"{r.cpu_us_per_call:>6.1f} CPU µs per call  lost {r.lost_spans}{r.detail}",
                  flush=True)
        ratios.append(runs["plano"].calls_per_s / runs["naive"].calls_per_s)
    ratio = statistics.median(ratios)
    print(f"  plano/naive: {ratio:.2f}x LLM calls/s (median of "
          f"{', '.join(f'{r:.2f}' for r in ratios)}){'' if not lost else f'; LOST {lost} spans'}",
          flush=True)
    return ratio if lost == 0 else 0.0


def against_target(target: str, w: Workload) -> bool:
    res = _send(target, w)
    print(f"[{w.name}] {w.description} to {target}: {w.llm_calls / res['elapsed_s']:,.0f} "
          f"LLM calls/s, failed spans {res['failed_spans']}, rejected {res['rejected_spans']}"
          f"{_errors(res)}")
    return res["failed_spans"] == res["rejected_spans"] == 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=("batch", "single", "demo", "all"), default="all")
    p.add_argument("--spans", type=int, default=100_000, help="LLM spans for batch (100,000)")
    p.add_argument("--single-spans", type=int, default=4_000,
                   help="LLM spans for single, one per request (4,000)")
    p.add_argument("--demo-spans", type=int, default=102_400, help="spans for demo (102,400)")
    p.add_argument("--rounds", type=int, default=2, help="alternations per scenario (2)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--target", default=None, help="HOST:PORT of a running plano obs")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve()
        return 0
    scenarios = ("batch", "single", "demo") if args.scenario == "all" else (args.scenario,)
    workloads = {
        "batch": lambda: real_workload("batch", args.spans, 512, 2, args.seed),
        "single": lambda: real_workload("single", args.single_spans, 1, 8, args.seed),
        "demo": lambda: demo_workload(args.demo_spans, args.seed),
    }
    if args.target:
        return 0 if all(against_target(args.target, workloads[s]()) for s in scenarios) else 1
    print(f"ingest benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores "
          "(shared: other work on this machine moves absolute numbers; compare ratios)")
    ratios = {s: compare(workloads[s](), args.rounds) for s in scenarios}
    if "batch" not in ratios:
        return 0 if all(ratios.values()) else 1
    ok = ratios["batch"] >= TARGET_RATIO
    print(f"\nverdict: batched plano/naive {ratios['batch']:.2f}x, target {TARGET_RATIO}x, "
          f"no lost spans: {'OK' if ok else 'BELOW TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
