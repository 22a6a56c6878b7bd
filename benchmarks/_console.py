"""What the console benchmarks share: the gateway's real spans sent live at a steady rate, keys
pressed and timed on the real app, and what the process holds.

The spans come from ``otlp_load.py`` (the gateway's real LLM span shape). A pool of them is
generated once in the sender's own process; each one sent is a copy with fresh trace and span
ids and the current time, patched in its serialized bytes, so any rate is cheap to sustain and
every call is new to the receiver's deduplication.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textual import events
from textual.pilot import Pilot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402

__all__ = ["KeyTimer", "LiveSender", "percentile", "rss_mb", "summary_ms"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident memory of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- the live sender ---------------------------------------------------------------------------

_START_TAG, _END_TAG = b"\x39", b"\x41"  # Span fields 7 and 8, fixed64


def _pool(size: int, seed: int) -> list[tuple[bytes, int, int, int]]:
    """Serialized real-shape spans with where their times sit: (bytes, start offset, end
    offset, duration ns)."""
    gen = otlp_load.SpanGenerator(seed, base_time_s=int(time.time()))
    out = []
    for _ in range(size):
        span, _rec = gen.next_llm()
        raw = span.SerializeToString()
        # trace_id (field 1, 16 bytes) then span_id (field 2, 8 bytes) lead the message.
        assert raw[0:2] == b"\x0a\x10" and raw[18:20] == b"\x12\x08", "unexpected span layout"
        start = raw.index(_START_TAG + struct.pack("<Q", span.start_time_unix_nano)) + 1
        end = raw.index(_END_TAG + struct.pack("<Q", span.end_time_unix_nano)) + 1
        out.append((raw, start, end, span.end_time_unix_nano - span.start_time_unix_nano))
    return out


def _send_loop(target: str, rate: float, batch: int, seed: int, conn, stop) -> None:  # type: ignore[no-untyped-def]
    import grpc

    pool = _pool(20_000, seed)
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=30)
    export = channel.unary_unary(otlp_load.EXPORT_METHOD, request_serializer=None,
                                 response_deserializer=None)
    resource = otlp_load._ld(1, otlp_load._resource().SerializeToString())
    scope = otlp_load._ld(1, otlp_load.common_pb2.InstrumentationScope(
        name="brightstaff").SerializeToString())
    serial = int.from_bytes(os.urandom(6), "big") << 24
    sent = failed = 0
    latencies: list[float] = []
    conn.send("ready")
    started = time.monotonic()
    i = 0
    while not stop.is_set():
        due = started + (sent + failed) / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(min(pause, 0.05))
            continue
        now_ns = time.time_ns()
        units = []
        for _ in range(batch):
            raw, start, end, duration = pool[i % len(pool)]
            i += 1
            serial += 1
            b = bytearray(raw)
            b[2:18] = serial.to_bytes(16, "big")
            b[20:28] = (serial & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
            struct.pack_into("<Q", b, start, now_ns - duration)
            struct.pack_into("<Q", b, end, now_ns)
            units.append(otlp_load._ld(2, bytes(b)))
        request = otlp_load._ld(1, resource + otlp_load._ld(2, scope + b"".join(units)))
        t0 = time.perf_counter()
        try:
            export(request, timeout=30)
            sent += batch
        except grpc.RpcError:
            failed += batch
        latencies.append(time.perf_counter() - t0)
    channel.close()
    conn.send({"sent": sent, "failed": failed, "seconds": time.monotonic() - started,
               "rpc_p99_ms": (percentile(latencies, 0.99) or 0) * 1e3})


class LiveSender:
    """A child process sending real-shape LLM spans to ``target`` at ``rate`` calls a second."""

    def __init__(self, target: str, rate: float, *, batch: int = 100, seed: int = 1) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._stop = ctx.Event()
        self._process = ctx.Process(target=_send_loop, daemon=True,
                                    args=(target, rate, batch, seed, child, self._stop))
        self._process.start()

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Wait until the sender built its span pool and reached the receiver."""
        if not self._conn.poll(timeout_s):
            raise RuntimeError("the sender did not start")
        self._conn.recv()

    def stop(self) -> dict[str, float]:
        """Stop sending; returns what was sent, failed, over how long, and RPC p99 latency."""
        self._stop.set()
        result = self._conn.recv() if self._conn.poll(60) else {}
        self._process.join(timeout=10)
        return result


# -- keys ----------------------------------------------------------------------------------------

#: The character a key sends, for the keys the benchmarks press.
_CHARS = {"question_mark": "?", "slash": "/", "escape": "\x1b", "tab": "\t", "enter": "\r"}


@dataclass
class KeyTimer:
    """Presses keys on a running app and keeps how long each took to reach the screen.

    A key is sent as the terminal driver would send it; it counts as answered once the app and
    every widget of the screen on top have handled everything it caused, and the screen has
    been painted. (Pilot's own ``press`` also waits for the whole process to go idle, which a
    console ingesting a thousand calls a second never does.)
    """

    pilot: Pilot
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)

    async def settle(self) -> None:
        """Wait until the app and the screen on top handled every message sent so far."""
        for _ in range(3):  # the key, what it posted, and a screen it may have pushed
            await self.pilot._wait_for_screen()

    async def press(self, key: str, label: str | None = None) -> float:
        """Press ``key``; milliseconds until it was handled and painted."""
        app = self.pilot.app
        char = _CHARS.get(key, key if len(key) == 1 else None)
        started = time.perf_counter()
        event = events.Key(key, char)
        event.set_sender(app)
        assert app._driver is not None
        app._driver.send_message(event)
        await self.settle()
        app.screen._on_timer_update()  # paint now, as the screen's refresh timer would
        elapsed_ms = (time.perf_counter() - started) * 1e3
        self.latencies_ms.setdefault(label or key, []).append(elapsed_ms)
        return elapsed_ms

    async def wait_until(self, done: Callable[[], bool], since: float, label: str,
                         timeout_s: float = 60.0) -> float:
        """Keep ``label``'s time from ``since`` (perf_counter) until ``done()`` holds."""
        while not done() and time.perf_counter() - since < timeout_s:
            await asyncio.sleep(0.002)
            await self.settle()
        self.pilot.app.screen._on_timer_update()
        elapsed_ms = (time.perf_counter() - since) * 1e3
        self.latencies_ms.setdefault(label, []).append(elapsed_ms)
        return elapsed_ms

    def all_ms(self, *, excluding: Sequence[str] = ()) -> list[float]:
        """Every latency kept, except those of the labels in ``excluding``."""
        return [v for k, vs in self.latencies_ms.items() if k not in excluding for v in vs]

    def reset(self) -> None:
        self.latencies_ms.clear()


def summary_ms(values: Sequence[float]) -> str:
    """``p50 12 ms · p99 48 ms · max 60 ms (n=120)``."""
    if not values:
        return "no keys"
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    return (f"p50 {p50:.0f} ms · p99 {p99:.0f} ms · max {max(values):.0f} ms "
            f"(n={len(values)})")

