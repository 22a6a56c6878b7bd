"""The ledger with real processes: a receiver killed with SIGKILL mid-stream loses no
acknowledged call, an export reads the file while a console writes it, a full disk and a
locked or damaged file leave the receiver running in memory only, and a restart brings
everything back."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.ledger import Ledger
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

DEADLINE_S = 60


class Receiver:
    """``plano obs --plain`` in a child process, writing the ledger at ``path``."""

    def __init__(self, path: Path, port: int, *extra: str,
                 preexec: Callable[[], None] | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plano_obs", "obs", "--plain", "--offline", "--no-http",
             "--port", str(port), "--ledger", str(path), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        self.lines: list[str] = []
        self.err: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        if not self._ready.wait(DEADLINE_S):
            self.proc.kill()
            raise AssertionError(f"receiver did not start: {self.err}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "listening on" in line:
                self._ready.set()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, text: str) -> bool:
        """Whether a line with ``text`` appears on stdout within the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=DEADLINE_S)


def requests(n: int, seed: int = 5) -> Iterator[tuple[bytes, set[str]]]:
    """Serialized demo requests and the ``trace:span`` keys of their LLM calls."""
    demo = DemoTraffic(seed, error_rate=0.05, flag_rate=0.05)
    end = time.time_ns() - 60_000_000_000
    for i in range(n):
        req = demo.request([demo.trace(end + i * 1_000_000 + k) for k in range(3)])
        keys = {f"{c.trace_id}:{c.span_id}" for c in decode_request(req).calls}
        yield req.SerializeToString(), keys


def ledger_keys(path: Path) -> list[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [f"{t.hex()}:{s.hex()}" for t, s in con.execute(
            "SELECT trace_id, span_id FROM calls")]
    finally:
        con.close()


def export(channel: grpc.Channel) -> Callable[[bytes], object]:
    return channel.unary_unary(OTLP_TRACE_EXPORT_METHOD, request_serializer=None,
                               response_deserializer=None)


def test_kill_9_mid_stream_loses_no_acknowledged_call(tmp_path: Path, free_port: int) -> None:
    path = tmp_path / "ledger.sqlite"
    receiver = Receiver(path, free_port)
    acked: set[str] = set()
    sent: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    payloads = list(requests(3000))

    def send(part: list[tuple[bytes, set[str]]]) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{free_port}") as channel:
            call = export(channel)
            for payload, keys in part:
                if stop.is_set():
                    return
                with lock:
                    sent.update(keys)
                try:
                    call(payload, timeout=10)
                except grpc.RpcError:
                    return  # the receiver died: this one was not acknowledged
                with lock:
                    acked.update(keys)

    threads = [threading.Thread(target=send, args=(payloads[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + DEADLINE_S
    while len(acked) < 1500 and time.monotonic() < deadline:
        time.sleep(0.01)
    receiver.proc.send_signal(signal.SIGKILL)  # mid-stream: four senders still going
    receiver.proc.wait(timeout=DEADLINE_S)
    stop.set()
    for t in threads:
        t.join(timeout=DEADLINE_S)
    stored = ledger_keys(path)
    assert len(acked) >= 1500 and len(sent) > len(acked)  # the kill did cut the stream
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged calls were lost"
    assert set(stored) <= sent and len(stored) == len(set(stored))
    # and the next start derives what the killed process had not derived yet
    after = Receiver(path, free_port)
    assert after.wait_for(f"ledger {path}: {len(stored):,} calls"), after.lines
    assert after.stop() == 0
    info = Ledger(path, readonly=True)
    assert info.info().calls == len(stored)
    info.close()


def test_an_export_reads_the_ledger_while_a_console_writes_it(tmp_path: Path,
                                                              free_port: int) -> None:
    path = tmp_path / "ledger.sqlite"
    receiver = Receiver(path, free_port)
    payloads = list(requests(400, seed=8))
    acked = 0
    with grpc.insecure_channel(f"127.0.0.1:{free_port}") as channel:
        call = export(channel)
        for payload, keys in payloads[:200]:
            call(payload, timeout=10)
            acked += len(keys)
        writing = threading.Thread(target=lambda: [call(p, timeout=10) for p, _ in payloads[200:]])
        writing.start()
        out = subprocess.run(
            [sys.executable, "-m", "plano_obs", "obs", "export", "--ledger", str(path),
             "--window", "7d"], capture_output=True, text=True, timeout=DEADLINE_S)
        writing.join(timeout=DEADLINE_S)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    total = sum(len(k) for _, k in payloads)
    assert acked <= doc["summary"]["requests"] <= total
    assert doc["window"]["name"] == "7d" and doc["source"] == f"ledger: {path}"
    assert receiver.stop() == 0
    final = subprocess.run(
        [sys.executable, "-m", "plano_obs", "obs", "export", "--ledger", str(path)],
        capture_output=True, text=True, timeout=DEADLINE_S, check=True)
    assert json.loads(final.stdout)["summary"]["requests"] == total


def _tiny_disk(tmp_path: Path) -> tuple[Path, Callable[[], None] | None]:
    """A 1 MiB file system when this process may mount one, else a 1 MiB file size limit."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
            capture_output=True).returncode == 0:
        return mount, None

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    return mount, limit


def test_a_full_disk_leaves_the_receiver_running_in_memory_only(tmp_path: Path,
                                                                free_port: int) -> None:
    directory, limit = _tiny_disk(tmp_path)
    try:
        receiver = Receiver(directory / "ledger.sqlite", free_port, preexec=limit)
        total = 0
        with grpc.insecure_channel(f"127.0.0.1:{free_port}") as channel:
            call = export(channel)
            for payload, keys in requests(1500, seed=11):
                call(payload, timeout=10)  # never refused: ingest carries on
                total += len(keys)
        assert receiver.wait_for(f"calls {total} ")
        assert receiver.stop() == 0
        errors = "".join(receiver.err)
        assert "Traceback" not in errors
        warnings = [line for line in receiver.err if "ledger" in line]
        assert warnings and ("disk is full" in warnings[0] or "write failed" in warnings[0])
        assert any(f"calls {total}" in line and "memory only" in line
                   for line in receiver.lines), receiver.lines[-3:]
    finally:
        if limit is None:
            subprocess.run(["umount", str(directory)], check=False)


@pytest.mark.parametrize("damage", ["locked", "corrupt", "newer"])
def test_an_unusable_ledger_is_one_line_and_memory_only(tmp_path: Path, free_port: int,
                                                         damage: str) -> None:
    path = tmp_path / "ledger.sqlite"
    holder = None
    if damage == "locked":
        holder = Ledger(path)  # another process writing it
    elif damage == "corrupt":
        path.write_bytes(b"SQLite format 3\x00" + b"\x13" * 9000)
    else:
        Ledger(path).close()
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'")
        con.close()
    code = ("import sys; from plano_obs.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    probe = subprocess.Popen(
        [sys.executable, "-c", code, "obs", "--plain", "--offline", "--no-http", "--port",
         str(free_port), "--ledger", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    deadline = time.monotonic() + DEADLINE_S
    lines: list[str] = []
    assert probe.stdout is not None
    while time.monotonic() < deadline:
        line = probe.stdout.readline()
        lines.append(line)
        if "calls" in line:
            break
    probe.send_signal(signal.SIGINT)
    _, err = probe.communicate(timeout=DEADLINE_S)
    if holder is not None:
        holder.close()
    assert probe.returncode == 0
    assert "Traceback" not in err
    (why,) = [line for line in err.splitlines() if "ledger" in line]
    assert "memory only" in why
    assert {"locked": "another plano obs", "corrupt": "damaged",
            "newer": "newer plano obs"}[damage] in why
    assert "memory only" in lines[-1]
