"""The console under load: a million held calls, ten thousand more arriving every second.

The runtime holds ``--held`` real-shape LLM calls (``otlp_load.py``'s spans, decoded once and
copied with fresh ids, spread over the last hour so every window has them), its receiver listens
on a free port, and a child process sends more of the same at ``--rate`` calls a second. Ingest
is measured in phases of ``--seconds`` in the same run: without a console; with the real console
open and refreshing; with keys pressed the whole time (``w`` through every window, including
the first read of ``1h``, filters, sorts, Tab, arrows, help, a call's detail); without again.

It prints the calls ingested per second in each phase and key-to-screen latency per key
(handled and painted; ``w`` also until the new window's rollups are on screen). Targets: every
key within 150 ms (p99); ingest while the console refreshes at least 90% of ingest without it.

    .venv/bin/python benchmarks/console_load.py                  # 1,000,000 held, 10,000/s
    .venv/bin/python benchmarks/console_load.py --held 100000 --rate 5000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import otlp_load  # noqa: E402
from _console import KeyTimer, LiveSender, percentile, rss_mb  # noqa: E402

import plano_obs.tui.screens.main as main_screen  # noqa: E402
from plano_obs.ingest.decode import decode_request  # noqa: E402
from plano_obs.model import DecodeResult  # noqa: E402
from plano_obs.runtime import Runtime  # noqa: E402
from plano_obs.settings import Settings  # noqa: E402
from plano_obs.tui.app import ObsApp  # noqa: E402

TARGET_KEY_P99_MS = 150.0
TARGET_INGEST_RATIO = 0.9
KEYS = ("w", "f", "w", "f", "e", "w", "e", "s", "w", "tab", "down", "w", "home", "tab",
        "question_mark", "escape", "tab", "enter", "escape", "slash", "g", "p", "t", "enter",
        "escape", "end", "home", "s")


def prefill(runtime: Runtime, held: int) -> float:
    """Put ``held`` real-shape calls into the runtime, spread over the last hour; seconds."""
    started = time.perf_counter()
    gen = otlp_load.SpanGenerator(11, base_time_s=int(time.time()) - 3600)
    units = otlp_load.generate_units(gen, 5_000)
    pool = [call for request in otlp_load.build_requests(units, 500)
            for call in decode_request(request).calls]
    now_ns = time.time_ns()
    step_ns = 3_600_000_000_000 // held
    batch = []
    for i in range(held):
        template = pool[i % len(pool)]
        end_ns = now_ns - 3_600_000_000_000 + i * step_ns
        duration = template.end_ns - template.start_ns
        batch.append(dataclasses.replace(
            template, trace_id=f"{i:032x}", span_id=f"{i:016x}", end_ns=end_ns,
            start_ns=end_ns - duration, cost=None))
        if len(batch) == 10_000:
            runtime.store.ingest(DecodeResult(calls=batch))
            batch = []
    if batch:
        runtime.store.ingest(DecodeResult(calls=batch))
    return time.perf_counter() - started


async def measure(runtime: Runtime, seconds: float, app: ObsApp | None,
                  keys: KeyTimer | None) -> float:
    """Calls ingested per second over ``seconds``, pressing keys when an app is given."""
    start_calls, started = runtime.store.stats().calls, time.monotonic()
    cycle = itertools.cycle(KEYS)
    while time.monotonic() - started < seconds:
        if app is None or keys is None:
            await asyncio.sleep(0.1)
            continue
        main = app.screen_stack[0]
        key = next(cycle)
        if app.screen is not main and key not in ("escape", "t", "enter"):
            await keys.press("escape")
            continue
        if key == "w" and app.screen is main:
            assert isinstance(main, main_screen.MainScreen)
            pressed = time.perf_counter()
            await keys.press("w")
            await keys.wait_until(
                lambda m=main: m.frame is not None and m.frame.window == m.view.window,
                pressed, f"w→{main.view.window} rollups")
        else:
            await keys.press(key)
        await asyncio.sleep(0.2)
    return (runtime.store.stats().calls - start_calls) / (time.monotonic() - started)


async def run(opts: argparse.Namespace) -> int:
    # Memory only: the point is a million calls held in the console's memory (the ledger's own
    # benchmarks measure the file); never the user's ledger.
    runtime = Runtime(Settings(port=0, no_http=True, offline=True, capacity=max(opts.held, 100),
                               ledger="none"))
    took = prefill(runtime, opts.held)
    print(f"held {runtime.store.stats().calls_held:,} calls (prefilled in {took:.0f} s), "
          f"RSS {rss_mb():,.0f} MiB", flush=True)
    runtime.start()
    sender = LiveSender(runtime.listen_address, opts.rate, batch=opts.batch)
    sender.wait_ready()
    await asyncio.sleep(3)  # settle into the steady rate
    rates: dict[str, float] = {}
    rates["no console"] = await measure(runtime, opts.seconds, None, None)
    print(f"ingest, no console:                 {rates['no console']:>8,.0f} calls/s",
          flush=True)
    app = ObsApp(runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        keys = KeyTimer(pilot)
        await keys.settle()
        rates["console refreshing"] = await measure(runtime, opts.seconds, None, None)
        print(f"ingest, console refreshing:         {rates['console refreshing']:>8,.0f} calls/s",
              flush=True)
        rates["keys pressed"] = await measure(runtime, opts.seconds, app, keys)
        print(f"ingest, console with keys pressed:  {rates['keys pressed']:>8,.0f} calls/s",
              flush=True)
    rates["no console again"] = await measure(runtime, opts.seconds, None, None)
    print(f"ingest, no console again:           {rates['no console again']:>8,.0f} calls/s "
          "(a backlog left by the phases before catches up here)", flush=True)
    sent = sender.stop()
    runtime.stop()
    print(f"sender: {sent.get('sent', 0):,.0f} sent, {sent.get('failed', 0):,.0f} failed, "
          f"RPC p99 {sent.get('rpc_p99_ms', 0):.0f} ms; RSS {rss_mb():,.0f} MiB")
    print("key-to-screen latency (handled and painted):")
    worst = 0.0
    for label, values in sorted(keys.latencies_ms.items()):
        p99 = percentile(values, 0.99) or 0.0
        if "rollups" not in label:
            worst = max(worst, p99)
        print(f"  {label:<18} p50 {percentile(values, 0.5):7.0f} ms   p99 {p99:7.0f} ms   "
              f"max {max(values):7.0f} ms   n={len(values)}")
    ratio = rates["console refreshing"] / rates["no console"]
    ok = worst <= TARGET_KEY_P99_MS and ratio >= TARGET_INGEST_RATIO
    print(f"verdict: {'OK' if ok else 'MISSED'}: worst key p99 {worst:.0f} ms "
          f"(target {TARGET_KEY_P99_MS:.0f}); ingest with the console refreshing / without "
          f"{ratio:.2f} (target {TARGET_INGEST_RATIO:.2f})")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--held", type=int, default=1_000_000, help="calls held before it starts")
    p.add_argument("--rate", type=float, default=10_000, help="calls per second arriving")
    p.add_argument("--batch", type=int, default=500, help="spans per OTLP request")
    p.add_argument("--seconds", type=float, default=30, help="length of each phase")
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
