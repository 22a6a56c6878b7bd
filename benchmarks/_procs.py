"""What the benchmarks share about the processes they measure: free ports, CPU time read from
/proc, waiting for a listener, and where prepared workloads are cached."""

from __future__ import annotations

import os
import socket
import subprocess
import time

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cache_dir() -> str:
    """Where otlp_load.py keeps prepared requests between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "plano-obs", "bench")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of a process, every thread included (and, with ``children``,
    of its reaped children); 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _CLOCK_TICKS


def wait_listening(port: int, proc: subprocess.Popen[bytes] | None = None,
                   timeout_s: float = 30) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; exit with one line if
    ``proc`` dies first or nothing listens within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"benchmark: the receiver exited with {proc.returncode} "
                             f"before listening on port {port}")
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"benchmark: nothing listens on port {port} after {timeout_s:.0f} s")
