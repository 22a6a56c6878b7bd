"""Ingest benchmark: realistic gateway spans over OTLP/gRPC into a receiver.

By default it starts the full receiver (decoding, dedup, pricing, analytics) in a child process on a
free port, sends pre-serialized demo traffic from this process, and reports spans/s, the receiver's
CPU seconds per 10k spans, and lost spans (sent minus ingested). With ``--target HOST:PORT`` it
sends to a receiver that is already running (``plano obs``) and counts only what was refused.

    .venv/bin/python benchmarks/ingest.py            # both modes, as in the README
    .venv/bin/python benchmarks/ingest.py --mode batch --spans 200000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import threading
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from plano_obs.demo import DemoTraffic  # noqa: E402
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD  # noqa: E402

TARGETS = {"batch": 40_000, "single": 4_000}


def _serve(conn) -> None:  # type: ignore[no-untyped-def]
    from plano_obs.runtime import Runtime
    from plano_obs.settings import Settings

    runtime = Runtime(Settings(port=0, offline=True, capacity=1_000_000))
    runtime.start()
    conn.send(runtime.receiver.port)
    conn.recv()  # "start": measure CPU from here
    cpu0 = time.process_time()
    conn.recv()  # "stop"
    cpu = time.process_time() - cpu0
    stats = runtime.store.stats()
    conn.send((stats.accepted_spans, stats.rejected_spans, stats.refused_requests, cpu))
    runtime.stop()


def _payloads(mode: str, spans: int, seed: int) -> list[bytes]:
    traffic = DemoTraffic(seed)
    end_ns = time.time_ns()
    if mode == "batch":
        return [traffic.spans_request(512, end_ns).SerializeToString()
                for _ in range(max(1, spans // 512))]
    out: list[bytes] = []
    while len(out) < spans:
        for service, sp in traffic.trace(end_ns):
            req = traffic.request([[(service, sp)]])
            out.append(req.SerializeToString())
    return out[:spans]


def _send(target: str, payloads: list[bytes], in_flight: int) -> tuple[float, int]:
    """Send every payload with up to ``in_flight`` outstanding; returns (seconds, failures)."""
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=10)
    export = channel.unary_unary(OTLP_TRACE_EXPORT_METHOD, request_serializer=None,
                                 response_deserializer=None)
    failures = 0
    slots = threading.Semaphore(in_flight)
    pending: deque = deque()
    lock = threading.Lock()

    def done(fut) -> None:  # type: ignore[no-untyped-def]
        nonlocal failures
        if fut.exception() is not None:
            with lock:
                failures += 1
        slots.release()

    t0 = time.perf_counter()
    for payload in payloads:
        slots.acquire()
        fut = export.future(payload, timeout=60)
        fut.add_done_callback(done)
        pending.append(fut)
    for fut in pending:
        try:
            fut.result()
        except grpc.RpcError:
            pass
    elapsed = time.perf_counter() - t0
    channel.close()
    return elapsed, failures


def run(mode: str, spans: int, target: str | None, seed: int) -> bool:
    in_flight = 4 if mode == "batch" else 64
    print(f"[{mode}] generating {spans:,} spans of demo traffic ...", flush=True)
    payloads = _payloads(mode, spans, seed)
    sent = (512 * len(payloads)) if mode == "batch" else len(payloads)
    if target is None:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
        proc.start()
        port = parent.recv()
        parent.send("start")
        elapsed, failures = _send(f"127.0.0.1:{port}", payloads, in_flight)
        parent.send("stop")
        accepted, rejected, refused, cpu = parent.recv()
        proc.join(timeout=10)
        lost = sent - accepted
    else:
        elapsed, failures = _send(target, payloads, in_flight)
        cpu, rejected, refused = None, 0, failures
        lost = failures * (512 if mode == "batch" else 1)
    rate = sent / elapsed
    goal = TARGETS[mode]
    ok = rate >= goal and lost == 0
    per_request = "512 spans" if mode == "batch" else "1 span"
    line = (f"[{mode}] {sent:,} spans ({per_request} per request) in {elapsed:.2f} s: "
            f"{rate:,.0f} spans/s (target {goal:,})")
    if cpu is not None:
        line += f", receiver CPU {cpu / sent * 10_000:.3f} s per 10k spans"
    line += f", lost {lost} (rejected {rejected}, refused requests {refused})"
    print(line + ("  OK" if ok else "  BELOW TARGET"), flush=True)
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("batch", "single", "both"), default="both")
    p.add_argument("--spans", type=int, default=None,
                   help="spans to send (default: 153,600 batched, 16,000 single)")
    p.add_argument("--target", default=None, help="HOST:PORT of a running receiver")
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    modes = ("batch", "single") if args.mode == "both" else (args.mode,)
    ok = True
    for mode in modes:
        spans = args.spans or (153_600 if mode == "batch" else 16_000)
        ok &= run(mode, spans, args.target, args.seed)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
