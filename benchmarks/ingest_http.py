"""Ingest over OTLP/HTTP beside OTLP/gRPC: the gateway's real LLM spans, 512 per request.

Each round starts a fresh ``plano obs`` receiver (as ``plano obs`` runs it: decoding, dedup,
pricing from the embedded catalog, analytics, bounded store) in a child process for each
transport, and sends it the same pre-serialized ``otlp_load.py`` requests, 2 in flight:

- ``grpc``: OTLP/gRPC, as ``otlp_load.py`` sends it (grpcio);
- ``http``: OTLP/HTTP ``POST /v1/traces``, ``application/x-protobuf``, as the OpenTelemetry SDKs
  send it by default (one keep-alive connection per request in flight);
- ``http+gzip``: the same, gzip-compressed beforehand (as an exporter with compression on);
- ``http+json``: the first ``--json-spans`` of them as OTLP/JSON (the Collector's
  ``encoding: json``), a secondary line: fewer, as OTLP/JSON is much slower to read.

The transports alternate their order from one round to the next: this 2-core machine's speed
drifts, and other work may share it, so only the ratios within one run compare. For each it prints
spans/s and LLM calls/s (wall clock, first request sent to last reply), the receiver's CPU µs per
LLM call (user + system, every thread, from /proc), and lost spans (sent minus accepted).

    .venv/bin/python benchmarks/ingest_http.py                      # 102,400 spans, 2 rounds
    .venv/bin/python benchmarks/ingest_http.py --spans 51200 --rounds 3 --noise 1
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402
from _procs import cache_dir, cpu_s  # noqa: E402

IN_FLIGHT = 2


@dataclass
class Workload:
    """Pre-serialized requests and what they hold."""

    description: str
    requests: list[bytes]
    spans: int
    llm_calls: int


@dataclass
class Run:
    transport: str
    spans_per_s: float
    calls_per_s: float
    cpu_us_per_call: float
    lost_spans: int
    detail: str


def workload(spans: int, batch: int, noise: float, seed: int) -> Workload:
    """``otlp_load.py``'s gateway LLM spans (deterministic; cached between runs)."""
    units, expect, _ = otlp_load.prepare_units(seed, spans, noise=noise, cache_dir=cache_dir())
    requests = otlp_load.build_requests(units, batch)
    total = spans + expect["noise_spans"]
    size = sum(len(u) for u in units) / len(units)
    text = (f"otlp_load.py seed {seed}: {spans:,} LLM spans (~{size:.0f} B per LLM span with "
            f"its routing spans)")
    if expect["noise_spans"]:
        text += f" + {expect['noise_spans']:,} routing spans"
    text += f", {batch} LLM spans per request, {IN_FLIGHT} in flight"
    return Workload(text, requests, total, spans)


def send_grpc(port: int, w: Workload) -> tuple[float, str]:
    per = otlp_load.spans_per_request(w.llm_calls, -(-w.llm_calls // len(w.requests)))
    res = otlp_load.send(f"127.0.0.1:{port}", w.requests, per, IN_FLIGHT, rate=0, timeout=120,
                         progress=False)
    if res.get("fatal"):
        raise SystemExit(f"ingest_http benchmark: {res['fatal']}")
    detail = f" errors {res['error_codes']}: {res['first_error']}" if res["failed_rpcs"] else ""
    return res["elapsed_s"], detail


def send_http(port: int, bodies: list[bytes], headers: dict[str, str]) -> tuple[float, str]:
    """POST every body to /v1/traces, ``IN_FLIGHT`` keep-alive connections at once."""
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                conn.request("POST", "/v1/traces", body=bodies[i], headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200:
                    failures.append(f"{response.status}: {answer[:200]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(IN_FLIGHT)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return elapsed, (f" {len(failures)} failed: {failures[0]}" if failures else "")


def _json_bodies(requests: list[bytes]) -> list[bytes]:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    def hex_ids(obj):  # type: ignore[no-untyped-def]
        if isinstance(obj, dict):
            return {k: (base64.b64decode(v).hex()
                        if k in ("traceId", "spanId", "parentSpanId") else hex_ids(v))
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [hex_ids(v) for v in obj]
        return obj

    return [json.dumps(hex_ids(MessageToDict(ExportTraceServiceRequest.FromString(r),
                                             use_integers_for_enums=True))).encode()
            for r in requests]


def run(transport: str, w: Workload, send: Callable[[int, int], tuple[float, str]]) -> Run:
    """Start a fresh receiver, send the workload through ``send(grpc_port, http_port)``."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        grpc_port, http_port = map(int, proc.stdout.readline().split())
        cpu0 = cpu_s(proc.pid)
        elapsed, detail = send(grpc_port, http_port)
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
    if stats["calls"] != w.llm_calls:
        detail += f" calls counted {stats['calls']:,} of {w.llm_calls:,}"
    if stats["rejected_spans"] or stats["refused_requests"]:
        detail += (f" rejected {stats['rejected_spans']} refused {stats['refused_requests']}: "
                   f"{stats['last_rejection'] or stats['last_refusal']}")
    return Run(transport, w.spans / elapsed, w.llm_calls / elapsed, cpu / w.llm_calls * 1e6,
               lost, detail)


def serve() -> None:
    """The receiver side (a child process): the runtime as ``plano obs`` builds it, headless."""
    from plano_obs.runtime import Runtime
    from plano_obs.settings import Settings

    # As plano obs runs by default, ledger included, but in a file of its own.
    tmp = tempfile.TemporaryDirectory(prefix="plano-obs-bench-")
    runtime = Runtime(Settings(port=0, http_port=0, offline=True,
                               ledger=str(Path(tmp.name) / "ledger.sqlite")))
    runtime.start()
    assert runtime.http_receiver is not None
    print(runtime.receiver.port, runtime.http_receiver.port, flush=True)
    sys.stdin.readline()
    stats = runtime.store.stats()
    print(json.dumps({"accepted_spans": stats.accepted_spans, "calls": stats.calls,
                      "rejected_spans": stats.rejected_spans,
                      "refused_requests": stats.refused_requests,
                      "last_rejection": stats.last_rejection,
                      "last_refusal": stats.last_refusal}), flush=True)
    runtime.stop()
    tmp.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spans", type=int, default=102_400, help="LLM spans (102,400)")
    p.add_argument("--batch", type=int, default=512, help="LLM spans per request (512)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="routing spans per LLM span, as otlp_load.py --noise (0)")
    p.add_argument("--rounds", type=int, default=2, help="alternations (2)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--json-spans", type=int, default=10_240,
                   help="LLM spans for the OTLP/JSON line, 0 to skip it (10,240)")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve()
        return 0
    w = workload(args.spans, args.batch, args.noise, args.seed)
    protobuf = {"Content-Type": "application/x-protobuf"}
    gzipped = [gzip.compress(r, 1) for r in w.requests]
    senders: dict[str, tuple[Workload, Callable[[int, int], tuple[float, str]]]] = {
        "grpc": (w, lambda g, h: send_grpc(g, w)),
        "http": (w, lambda g, h: send_http(h, w.requests, protobuf)),
        "http+gzip": (w, lambda g, h: send_http(h, gzipped,
                                                {**protobuf, "Content-Encoding": "gzip"})),
    }
    if args.json_spans:
        wj = workload(args.json_spans, args.batch, args.noise, args.seed)
        json_bodies = _json_bodies(wj.requests)
        senders["http+json"] = (wj, lambda g, h: send_http(h, json_bodies,
                                                           {"Content-Type": "application/json"}))
    print(f"OTLP/HTTP ingest benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
          "cores (shared: other work on this machine moves absolute numbers; compare ratios)")
    print(w.description, flush=True)
    names = list(senders)
    runs: dict[str, list[Run]] = {n: [] for n in names}
    for i in range(args.rounds):
        for name in (names if i % 2 == 0 else names[::-1]):
            r = run(name, *senders[name])
            runs[name].append(r)
            print(f"  round {i + 1}  {name:<9}  {r.spans_per_s:>8,.0f} spans/s  "
                  f"{r.calls_per_s:>8,.0f} LLM calls/s  {r.cpu_us_per_call:>6.1f} CPU µs per call"
                  f"  lost {r.lost_spans}{r.detail}", flush=True)
    grpc_rate = statistics.median(r.calls_per_s for r in runs["grpc"])
    lost = sum(r.lost_spans for rs in runs.values() for r in rs)
    for name in names[1:]:
        rate = statistics.median(r.calls_per_s for r in runs[name])
        cpu = statistics.median(r.cpu_us_per_call for r in runs[name])
        print(f"{name}/grpc: {rate / grpc_rate:.2f}x LLM calls/s (median {rate:,.0f} vs "
              f"{grpc_rate:,.0f}), {cpu:.1f} CPU µs per call")
    print("no lost spans" if lost == 0 else f"LOST {lost} spans")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
