"""The fleet with real processes: ``plano obs receive`` next to each gateway writing one
PostgreSQL ledger; a retried span counted once; SIGTERM drains; the database stopped and
started again under a running receiver; and a bad URL is one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import grpc
import httpx
import psycopg
import pytest

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

DEADLINE_S = 60
PASSWORD = "s3cret-pw"  # tests/pg_cluster.py's superuser password: never printed


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receive:
    """``plano obs receive`` in a child process."""

    def __init__(self, ledger: str, *extra: str) -> None:
        self.port, self.http_port = _free_port(), _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plano_obs", "obs", "receive", "--offline", "--port",
             str(self.port), "--http-port", str(self.http_port), "--ledger", ledger,
             "--status-s", "0.2", "--poll-ms", "200", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.out: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.out.extend(self.proc.stdout or []),
                         daemon=True).start()
        if not self._ready.wait(DEADLINE_S):
            self.proc.kill()
            raise AssertionError(f"receiver did not start: {self.err}")

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)
            if "listening on" in line:
                self._ready.set()

    def wait_for(self, text: str) -> bool:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if any(text in line for line in self.err[-5:]):
                return True
            time.sleep(0.05)
        return False

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE_S)


def payloads(n: int, seed: int = 5) -> list[tuple[bytes, set[str]]]:
    """Serialized requests in the gateway's span shape, with their calls' keys."""
    demo = DemoTraffic(seed, error_rate=0.05, flag_rate=0.05)
    end = time.time_ns() - 60_000_000_000
    out = []
    for i in range(n):
        req = demo.request([demo.trace(end + i * 1_000_000 + k) for k in range(3)])
        keys = {f"{c.trace_id}:{c.span_id}" for c in decode_request(req).calls}
        out.append((req.SerializeToString(), keys))
    return out


def exporter(port: int) -> tuple[grpc.Channel, Callable[..., object]]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, channel.unary_unary(OTLP_TRACE_EXPORT_METHOD, request_serializer=None,
                                        response_deserializer=None)


def stored(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [f"{t.hex()}:{s.hex()}" for t, s in conn.execute(
            "SELECT trace_id, span_id FROM calls")]


def plano(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plano_obs", "obs", *args],
                          capture_output=True, text=True, timeout=DEADLINE_S,
                          env={**os.environ, **(env or {})})


def test_two_receivers_write_one_ledger_count_a_retried_span_once_and_drain_on_sigterm(
        pg_url: str) -> None:
    a, b = Receive(pg_url), Receive(pg_url)
    sent = payloads(300)
    acked: set[str] = set()
    lock = threading.Lock()

    def deliver(port: int, part: list[tuple[bytes, set[str]]]) -> None:
        channel, call = exporter(port)
        with channel:
            for payload, keys in part:
                call(payload, timeout=20)
                with lock:
                    acked.update(keys)

    # Every request reaches both receivers (an exporter retrying through a load balancer).
    threads = [threading.Thread(target=deliver, args=(a.port, sent)),
               threading.Thread(target=deliver, args=(b.port, sent[::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE_S * 2)
    keys = stored(pg_url)
    assert len(keys) == len(set(keys)) == len(acked) == sum(len(k) for _, k in sent)
    assert a.terminate() == 0 and b.terminate() == 0
    assert "stopped" in a.err[-1] and "stopped" in b.err[-1]
    doc = json.loads(plano("export", "--ledger", pg_url, "--window", "all").stdout)
    assert doc["summary"]["requests"] == len(acked)
    assert PASSWORD not in "".join(a.err + b.err + a.out + b.out) + json.dumps(doc)


def test_a_database_restart_is_unavailable_meanwhile_and_loses_nothing_acknowledged(
        pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.create_database()
    rx = Receive(url)
    batches = payloads(40, seed=9)
    channel, call = exporter(rx.port)
    acked: set[str] = set()
    try:
        for payload, keys in batches[:10]:
            call(payload, timeout=20)
            acked |= keys
        pg_cluster.stop("fast")
        try:
            refused = 0
            for payload, _keys in batches[10:13]:
                with pytest.raises(grpc.RpcError) as e:
                    call(payload, timeout=20)
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
                refused += 1
            http = httpx.post(f"http://127.0.0.1:{rx.http_port}/v1/traces",
                              content=batches[13][0],
                              headers={"Content-Type": "application/x-protobuf"}, timeout=20)
            assert http.status_code == 503 and "Retry-After" in http.headers
            assert rx.wait_for("ledger unreachable since")
        finally:
            pg_cluster.start()
        # The exporter retries what was refused: taken once the database is back.
        for payload, keys in batches[10:]:
            deadline = time.monotonic() + DEADLINE_S
            while True:
                try:
                    call(payload, timeout=20)
                    break
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.details()
                    assert time.monotonic() < deadline, "no reconnection"
                    time.sleep(0.2)
            acked |= keys
        assert refused == 3
        assert rx.wait_for("ledger 1")  # the status line is back to normal
    finally:
        channel.close()
        code = rx.terminate()
    keys = stored(url)
    assert code == 0
    assert set(keys) == acked and len(keys) == len(set(keys))
    assert PASSWORD not in "".join(rx.err + rx.out)


@pytest.mark.parametrize("how", ["password", "database", "unreachable"])
def test_a_bad_database_url_is_one_line_and_exit_2_without_the_password(
        pg_cluster, how: str) -> None:  # type: ignore[no-untyped-def]
    url = {"password": pg_cluster.url(password="wrong-" + PASSWORD),
           "database": pg_cluster.url("no_such_db"),
           "unreachable": f"postgresql://plano:{PASSWORD}@127.0.0.1:{_free_port()}/x"}[how]
    why = {"password": "refused the user name or password",
           "database": 'database "no_such_db" does not exist',
           "unreachable": "cannot be reached"}[how]
    port, http_port = str(_free_port()), str(_free_port())
    runs = [
        plano("receive", "--ledger", url, "--port", port, "--http-port", http_port),
        plano("--plain", "--offline", "--port", port, "--http-port", http_port,
              env={"PLANO_OBS_LEDGER": url}),
        plano("--plain", "--no-receiver", "--ledger", url),
        plano("export", "--ledger", url),
        plano("ledger", "info", "--ledger", url),
    ]
    for run in runs:
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], run.stderr
        assert "***" in lines[0] or how != "password"
        assert PASSWORD not in run.stderr + run.stdout


def test_receive_also_writes_the_embedded_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    path = tmp_path / "ledger.sqlite"
    rx = Receive(str(path))
    sent = payloads(20, seed=3)
    channel, call = exporter(rx.port)
    with channel:
        for payload, _ in sent:
            call(payload, timeout=20)
    assert rx.terminate() == 0
    con = sqlite3.connect(path)
    try:
        keys = {f"{t.hex()}:{s.hex()}" for t, s in con.execute(
            "SELECT trace_id, span_id FROM calls")}
    finally:
        con.close()
    assert keys == set().union(*(k for _, k in sent))
    assert f"ledger {len(keys)} calls" in "".join(rx.err)
