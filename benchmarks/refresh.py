"""Time to produce the full rollup document for one window with 10k, 100k and 1M calls ingested.

Usage: python benchmarks/refresh.py [--sizes 10000,100000,1000000] [--window 5m] [--repeat 5]
Calls are spread over the last hour before a fixed ``now``, across 8 models, 5 routes (plus
direct traffic), 2,000 sessions, 3% errors and 2% flagged calls.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from plano_obs.analytics import Analytics
from plano_obs.model import CallCost, LLMCall, Signals

NOW = 1_800_000_000.0
SPAN_S = 3600.0


def templates(n: int = 4096, seed: int = 1) -> list[LLMCall]:
    """A pool of varied calls; the benchmark re-times and re-adds them."""
    rng = random.Random(seed)
    models = [(f"model-{i}", ["openai", "anthropic", "digitalocean"][i % 3]) for i in range(8)]
    routes = ["code generation", "summarize", "translate", "chat", "reasoning", None]
    out = []
    for i in range(n):
        model, provider = rng.choice(models)
        lat = rng.lognormvariate(6.5, 0.7)
        bad = rng.random() < 0.03
        flag = rng.random() < 0.02
        call = LLMCall(
            trace_id=f"{i:032x}", span_id=f"{i:016x}", parent_span_id=None, name="POST x",
            service="plano(llm)", start_ns=0, end_ns=0, request_id=f"r{i}", model=model,
            provider=provider, route=rng.choice(routes), session_id=f"s{rng.randrange(2000)}",
            status_code=rng.choice([429, 500, 503]) if bad else 200, duration_ms=lat,
            ttft_ms=lat * rng.uniform(0.1, 0.4), prompt_tokens=rng.randrange(50, 5000),
            completion_tokens=rng.randrange(10, 1500), cached_input_tokens=rng.randrange(0, 500),
            flagged=flag,
            signals=Signals(quality=rng.choice(["poor", "severe"]) if flag else "good",
                            categories={"execution.loops": (3, 2)} if flag else {}),
        )
        call.cost = CallCost(cost_usd=None if i % 17 == 0 else rng.uniform(1e-4, 0.05),
                             source="catalog")
        out.append(call)
    return out


def fill(n: int, pool: list[LLMCall]) -> tuple[Analytics, float]:
    """Add ``n`` calls spread over the hour before NOW; returns the analytics and µs per add."""
    a = Analytics()
    step_ns = int(SPAN_S * 1e9 / n)
    t0 = int((NOW - SPAN_S) * 1e9)
    k = len(pool)
    started = time.perf_counter()
    for i in range(n):
        call = pool[i % k]
        call.end_ns = t0 + i * step_ns
        a.add(call)
    return a, (time.perf_counter() - started) / n * 1e6


def time_document(a: Analytics, window: str, repeat: int) -> tuple[float, float]:
    """(first read, median of later reads) in ms, one refresh a second apart."""
    t = time.perf_counter()
    a.document(window, now=NOW)
    first = (time.perf_counter() - t) * 1e3
    runs = []
    for i in range(repeat):
        t = time.perf_counter()
        a.document(window, now=NOW + 1 + i)
        runs.append((time.perf_counter() - t) * 1e3)
    return first, statistics.median(runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--window", default="all,5m,1h")
    p.add_argument("--repeat", type=int, default=5)
    opts = p.parse_args()
    pool = templates()
    print(f"{'calls':>9}  {'add µs':>7}  {'window':>6}  {'first ms':>9}  {'refresh ms':>10}")
    for n in (int(s) for s in opts.sizes.split(",")):
        a, add_us = fill(n, pool)
        for window in opts.window.split(","):
            first, median = time_document(a, window, opts.repeat)
            print(f"{n:>9,}  {add_us:>7.1f}  {window:>6}  {first:>9.2f}  {median:>10.2f}")


if __name__ == "__main__":
    main()
