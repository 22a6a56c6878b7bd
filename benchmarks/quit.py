"""Quit under load: how long ``q``, ``ctrl+c``, SIGTERM, SIGHUP and a closed terminal take to
end the real console, and whether it gives the terminal back.

Each round starts ``plano obs --demo`` in a pseudo-terminal (the real process, as a user runs
it), sends it the gateway's real spans at ``--rate`` calls a second for ``--warm`` seconds from
a child process, cycles the window (so a window's first read may be running), then quits one
way and times it from the key or signal to the end of the process. The terminal counts as given
back when the console left the alternate screen, showed the cursor and stopped mouse reporting.

    .venv/bin/python benchmarks/quit.py                  # each way 3 times at 5,000 calls/s
    .venv/bin/python benchmarks/quit.py --rounds 1 --rate 10000 --warm 30
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _console import LiveSender  # noqa: E402
from _procs import free_port  # noqa: E402

from console_pty import ConsoleUnderPty  # noqa: E402

TARGET_S = 1.0
WAYS = ("q", "ctrl+c", "SIGTERM", "SIGHUP", "closed terminal")


def one(way: str, rate: float, warm_s: float) -> tuple[float | None, bool | None]:
    """(seconds to exit or None, terminal restored or None when it was closed)."""
    port = free_port()
    tmp = tempfile.TemporaryDirectory(prefix="plano-obs-quit-")
    # A ledger in a temp file (its final write is part of quitting), never the user's own.
    console = ConsoleUnderPty(["--demo", "--offline", "--no-http", "--port", str(port),
                               "--ledger", str(Path(tmp.name) / "ledger.sqlite")],
                              env={"XDG_DATA_HOME": tmp.name})
    sender = None
    try:
        if not console.wait_for(b"Latest call", 120):
            raise RuntimeError("the console did not start")
        sender = LiveSender(f"127.0.0.1:{port}", rate)
        sender.wait_ready()
        time.sleep(warm_s)
        for _ in range(4):  # through 1m, 5m, 15m to 1h: the last read may still be running
            console.press(b"w")
            time.sleep(0.05)
        started = time.monotonic()
        if way == "q":
            console.press(b"q")
        elif way == "ctrl+c":
            console.press(b"\x03")
        elif way == "closed terminal":
            console.hang_up()
        else:
            console.signal(getattr(signal, way))
        took = console.wait_exit(30)
        exited = None if took is None else time.monotonic() - started
        restored = None if way == "closed terminal" else console.restored_terminal()
        return exited, restored
    finally:
        if sender is not None:
            sender.stop()
        console.kill()
        tmp.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", type=float, default=5000, help="real-workload calls per second")
    p.add_argument("--warm", type=float, default=20, help="seconds of load before quitting")
    p.add_argument("--ways", default=",".join(WAYS),
                   help=f"the ways to quit, comma-separated (default: {','.join(WAYS)})")
    opts = p.parse_args()
    ways = [w.strip() for w in opts.ways.split(",")]
    unknown = [w for w in ways if w not in WAYS]
    if unknown:
        p.error(f"unknown way to quit: {', '.join(unknown)} (known: {', '.join(WAYS)})")
    print(f"quit under load: {opts.rate:,.0f} calls/s for {opts.warm:.0f} s, then w x4 and the "
          f"quit; {opts.rounds} round(s) each; target {TARGET_S:.1f} s, terminal restored")
    ok = True
    for way in ways:
        times, restored = [], []
        for _ in range(opts.rounds):
            took, back = one(way, opts.rate, opts.warm)
            times.append(took)
            restored.append(back)
        shown = ", ".join("did not exit" if t is None else f"{t:.2f} s" for t in times)
        good = all(t is not None and t <= TARGET_S for t in times) and all(
            r is not False for r in restored)
        ok &= good
        back = "—" if restored[0] is None else ("yes" if all(restored) else "NO")
        print(f"  {way:<16} {shown:<30} terminal restored: {back}")
    print("verdict:", "OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
