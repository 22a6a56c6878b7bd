"""Restart and window times over a big ledger, and the ledger's size per call.

Fills a ledger with ``--calls`` realistic calls over 30 days (``ledger_fill.py``; reused when
the file already holds that many), then measures, as the console does them:

- restart: a new runtime opens the ledger, seeds its analytics and store, and reads the first
  frame of the main screen (the "all" document, trends, recent calls), in one process. Its
  clock is set one second after the ledger's newest call, so the restart finds a full last
  hour of calls to seed the short windows with, as a console restarted at once would (a ledger
  filled earlier would otherwise find its last hour empty);
- the full rollup document of the 30-day, 7-day, 24-hour and 1-hour windows: the first read
  after the restart (cold) and the next one (a refresh);
- the console, as a person starts it: a fresh process (``python``, imports, the runtime with its
  receivers on free ports, the ledger opened and seeded) until the main screen has drawn its
  first frame (Textual, headless at 120x40), timed from just before the process is spawned;
  the same with ``--ledger none`` beside it, in the same run.

    .venv/bin/python benchmarks/ledger_windows.py --calls 1000000
    .venv/bin/python benchmarks/ledger_windows.py --calls 10000000 --path /var/tmp/10m.sqlite
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from ledger_fill import fill  # noqa: E402

TARGETS_S = {"restart": 2.0, "30d": 1.0, "1h": 0.1, "console": 2.0}

#: Runs in a child process: start the console on a ledger (or none), its clock at argv[3], and
#: print the seconds from argv[2] (the parent's clock before spawning) to the first frame on
#: screen, and the CPU seconds it used.
_CONSOLE = """
import asyncio, sys, time
from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp

async def main():
    now = float(sys.argv[3])
    rt = Runtime(Settings(offline=True, ledger=sys.argv[1], retain="none", port=0, http_port=0),
                 clock=lambda: now)
    rt.start()
    app = ObsApp(rt, clock=lambda: now)
    async with app.run_test(size=(120, 40)) as pilot:
        while getattr(app.screen, "frame", None) is None:
            await pilot.pause(0.005)
        import resource
        use = resource.getrusage(resource.RUSAGE_SELF)
        print(time.time() - float(sys.argv[2]), use.ru_utime + use.ru_stime, flush=True)
    rt.stop()

asyncio.run(main())
"""


def console_start_s(ledger: str, now: float) -> tuple[float, float]:
    """Seconds from spawning a console process to its first frame on screen, and the CPU
    seconds the process used until then (less sensitive to other work on the machine)."""
    import subprocess

    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", _CONSOLE, ledger, repr(t0), repr(now)],
                         check=True,
                         capture_output=True, text=True, cwd=HERE.parent).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _held(path: Path) -> int:
    if not path.exists():
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM calls").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--path", type=Path, default=None,
                   help="the ledger (default: a file in the temp directory, kept for reuse)")
    args = p.parse_args()
    path = args.path or Path(tempfile.gettempdir()) / f"plano-obs-bench-{args.calls}.sqlite"
    held = _held(path)
    if held != args.calls:
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        print(f"filling {path} with {args.calls:,} calls over 30 days ...", flush=True)
        seconds = fill(path, args.calls, days=30, seed=1)
        print(f"filled in {seconds:.0f} s ({args.calls / seconds:,.0f} calls/s)")

    from plano_obs.runtime import Runtime
    from plano_obs.settings import Settings
    from plano_obs.tui.view import RECENT_SCAN, TREND_MINUTES

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    now = con.execute("SELECT max(end_ns) FROM calls").fetchone()[0] / 1e9 + 1
    con.close()
    started, cpu0 = time.perf_counter(), time.process_time()
    rt = Runtime(Settings(offline=True, ledger=str(path), retain="none"), clock=lambda: now)
    rt.open_ledger()
    rt.analytics.document("all", now=now, stats=rt.store.stats(), pricing=rt.pricer.info())
    rt.analytics.trend(now, minutes=TREND_MINUTES)
    rt.store.recent_calls(RECENT_SCAN)
    restart, restart_cpu = time.perf_counter() - started, time.process_time() - cpu0
    if rt.ledger is None:
        print(f"the ledger could not be used: {rt.ledger_error}")
        return 1
    status = rt.ledger.status()
    used = rt.ledger.ledger.used_bytes()
    results = {"restart": restart}
    print(f"ledger {path}: {status.calls:,} calls, {used / 2**20:,.0f} MiB used, "
          f"{used / status.calls:,.0f} bytes per call")
    print(f"restart (open, seed, first frame of 'all'): {restart * 1000:,.0f} ms, "
          f"{restart_cpu * 1000:,.0f} ms CPU (target {TARGETS_S['restart'] * 1000:,.0f} ms)")
    for window in ("30d", "7d", "24h", "1h"):
        times, cpus = [], []
        for _ in range(2):
            t0, c0 = time.perf_counter(), time.process_time()
            doc = rt.analytics.document(window, now=now, stats=rt.store.stats(),
                                        pricing=rt.pricer.info())
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        results[window] = times[0]
        target = TARGETS_S.get(window)
        goal = f" (target {target * 1000:,.0f} ms)" if target else ""
        print(f"{window:>4} window, {doc.summary.requests:>10,} calls: first read "
              f"{times[0] * 1000:8,.1f} ms ({cpus[0] * 1000:,.0f} CPU), refresh "
              f"{times[1] * 1000:6,.1f} ms ({cpus[1] * 1000:,.0f} CPU){goal}")
    rt.ledger.stop()
    for _ in range(2):
        (wall, cpu), (none_wall, none_cpu) = (console_start_s(str(path), now),
                                                console_start_s("none", now))
        results["console"] = min(results.get("console", 1e9), wall)
        print(f"console start to first frame: {wall * 1000:,.0f} ms ({cpu * 1000:,.0f} ms CPU) "
              f"with the ledger, {none_wall * 1000:,.0f} ms ({none_cpu * 1000:,.0f} ms CPU) "
              f"with --ledger none (target {TARGETS_S['console'] * 1000:,.0f} ms)", flush=True)
    ok = all(results[k] <= v for k, v in TARGETS_S.items())
    print("OK" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
