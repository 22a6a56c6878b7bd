"""The receiver under attack, on 127.0.0.1: a steady OpenTelemetry SDK exporter keeps getting every
span through while a hostile client (built on the ``h2`` package: ``h2``, ``hpack``,
``hyperframe``) does its worst, and the receiver's memory stays bounded.

Every attack is bounded in count and time and stops by itself.
"""

from __future__ import annotations

import contextlib
import gzip
import resource
import socket
import struct
import threading
import time
from collections.abc import Iterator

import grpc
import h2.config
import h2.connection
import pytest
from hpack import Encoder, NeverIndexedHeaderTuple
from hyperframe.frame import (
    DataFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult, SpanProcessor

from plano_obs.ingest.receiver import Receiver, TransportLimits
from plano_obs.ingest.store import Store
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD as EXPORT_METHOD

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MiB = 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(Store(capacity_calls=1_000_000), "127.0.0.1", 0,
                 limits=TransportLimits(max_connection_idle_s=1.0, handshake_timeout_s=1.0))
    r.start()
    yield r
    r.stop(grace=0)


class _Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def llm_spans(n: int, start: int) -> list[ReadableSpan]:
    """``n`` finished LLM spans as the gateway's SDK would export them."""
    collect = _Collect()
    provider = TracerProvider(resource=Resource.create({"service.name": "plano(llm)"}))
    provider.add_span_processor(collect)
    tracer = provider.get_tracer("steady")
    for i in range(start, start + n):
        with tracer.start_as_current_span("POST /v1/chat/completions gpt-4o-mini") as sp:
            sp.set_attribute("llm.model", "gpt-4o-mini")
            sp.set_attribute("llm.usage.prompt_tokens", 100 + i)
            sp.set_attribute("llm.usage.completion_tokens", 10)
            sp.set_attribute("http.status_code", 200)
    return collect.spans


class SteadyExporter:
    """A well-behaved exporter: 20 spans every 50 ms through the OTel SDK's gRPC exporter."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.exporter: SpanExporter = OTLPSpanExporter(
            endpoint=f"127.0.0.1:{receiver.port}", insecure=True, timeout=20)
        self.sent = 0
        self.failed = 0
        self.export_s: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            spans = llm_spans(20, self.sent)
            t0 = time.monotonic()
            if self.exporter.export(spans) is SpanExportResult.SUCCESS:
                self.sent += len(spans)
            else:
                self.failed += 1
            self.export_s.append(time.monotonic() - t0)
            self._stop.wait(0.05)

    def __enter__(self) -> SteadyExporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.exporter.shutdown()

    def assert_every_span_arrived(self, min_exports: int = 5) -> None:
        assert self.failed == 0, f"{self.failed} exports failed"
        assert len(self.export_s) >= min_exports, "the exporter barely ran"
        assert self.receiver.store.stats().calls == self.sent


# -- the hostile side -----------------------------------------------------------------------

_ENCODER = Encoder()
#: One stateless header block (never indexed), so raw frames can reuse it on any stream.
EXPORT_HEADERS = _ENCODER.encode([
    NeverIndexedHeaderTuple(k, v) for k, v in (
        (":method", "POST"), (":scheme", "http"), (":path", EXPORT_METHOD),
        (":authority", "127.0.0.1"), ("content-type", "application/grpc"), ("te", "trailers"))])


def headers_block(**extra: str) -> bytes:
    return Encoder().encode([
        NeverIndexedHeaderTuple(k, v) for k, v in (
            (":method", "POST"), (":scheme", "http"), (":path", EXPORT_METHOD),
            (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
            ("te", "trailers"), *extra.items())])


def raw_connection(port: int) -> socket.socket:
    """A TCP connection that has sent the HTTP/2 preface and an empty SETTINGS frame."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    return sock


def h2_connection(port: int) -> tuple[socket.socket, h2.connection.H2Connection]:
    """A client connection driven by the ``h2`` state machine, handshake done."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(2)
    conn.receive_data(sock.recv(65536))
    sock.sendall(conn.data_to_send())
    return sock, conn


def grpc_frame(message: bytes, compressed: bool = False, declared: int | None = None) -> bytes:
    size = len(message) if declared is None else declared
    return struct.pack(">BI", int(compressed), size) + message


def is_closed(sock: socket.socket, wait_s: float) -> bool:
    """Whether the server closed this connection within ``wait_s`` (reading what it sends)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def closed_now(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (reads what is waiting, never blocks)."""
    while True:
        try:
            if not sock.recv(65536, socket.MSG_DONTWAIT):
                return True
        except BlockingIOError:
            return False
        except OSError:
            return True


@contextlib.contextmanager
def closing_all(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for s in socks:
            s.close()


def run_for(seconds: float, step: object) -> int:
    """Call ``step()`` until ``seconds`` pass; returns how many times it ran."""
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step()  # type: ignore[operator]
        n += 1
    return n


# -- the attacks ----------------------------------------------------------------------------


def test_slowloris_large_declared_messages_never_sent_claim_no_room(receiver):
    """Streams that declare 16 MiB messages and never send them: nobody else is refused."""
    socks = []
    for _ in range(20):
        sock, conn = h2_connection(receiver.port)
        for _ in range(50):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                    (":path", EXPORT_METHOD), (":authority", "127.0.0.1"),
                                    ("content-type", "application/grpc"), ("te", "trailers")])
            conn.send_data(sid, grpc_frame(b"\x0a", declared=16 * MiB))
        sock.sendall(conn.data_to_send())
        socks.append(sock)
    with closing_all(socks), SteadyExporter(receiver) as steady:
        time.sleep(2)
    steady.assert_every_span_arrived()
    assert receiver.store.stats().refused_requests == 0


def test_rapid_reset_does_not_starve_a_well_behaved_exporter(receiver):
    """Streams opened and reset at once, as fast as one client can write them, for 2 s."""
    sock = raw_connection(receiver.port)
    sid = [1]

    def open_and_reset() -> None:
        frames = []
        for _ in range(100):
            s = sid[0]
            sid[0] += 2
            frames.append(HeadersFrame(s, EXPORT_HEADERS, flags=["END_HEADERS"]).serialize())
            frames.append(RstStreamFrame(s, error_code=8).serialize())
        try:
            sock.sendall(b"".join(frames))
        except OSError:  # the server may close this connection: that is allowed
            pass

    with closing_all([sock]), SteadyExporter(receiver) as steady:
        sock.settimeout(0.5)
        run_for(2.0, open_and_reset)
    steady.assert_every_span_arrived()
    assert sid[0] > 2_000, "the attack barely ran"


def test_many_connections_holding_many_streams_with_large_headers(receiver):
    """60 connections each opening 150 streams with 4 KiB of headers and no message."""
    baseline = rss_bytes()
    block = headers_block(**{"x-padding": "p" * 4000})
    socks = []
    for _ in range(60):
        sock = raw_connection(receiver.port)
        frames = [HeadersFrame(s, block, flags=["END_HEADERS"]).serialize()
                  for s in range(1, 301, 2)]
        try:
            sock.sendall(b"".join(frames))
        except OSError:
            pass
        socks.append(sock)
    # Each admitted stream costs the Python server a call waiting for its message (~15 KiB),
    # set up in a burst that can hold the exporter back a second or two: it retries, loses nothing.
    with closing_all(socks), SteadyExporter(receiver) as steady:
        time.sleep(4)
        held_mb = (rss_bytes() - baseline) / MiB
    steady.assert_every_span_arrived()
    assert held_mb < 200, f"{held_mb:.0f} MiB held for 60 connections"


def test_ping_flood_from_a_client_that_never_reads_holds_bounded_memory(receiver):
    """A client sends PINGs without pause and never reads the acknowledgements."""
    baseline = rss_bytes()
    sock = raw_connection(receiver.port)
    ping = PingFrame(0, opaque_data=b"12345678").serialize() * 200
    sent = [0]

    def flood() -> None:
        try:
            sock.sendall(ping)
            sent[0] += 200
        except OSError:
            time.sleep(0.01)

    with closing_all([sock]), SteadyExporter(receiver) as steady:
        sock.settimeout(0.2)
        run_for(2.0, flood)
        held_mb = (rss_bytes() - baseline) / MiB
    steady.assert_every_span_arrived()
    assert held_mb < 64


def test_a_client_that_never_reads_its_replies_holds_bounded_memory(receiver):
    """Complete Export calls sent as fast as possible, replies never read."""
    baseline = rss_bytes()
    sock = raw_connection(receiver.port)
    message = grpc_frame(b"")  # an empty request: a reply each
    sid = [1]

    def call_and_never_read() -> None:
        frames = []
        for _ in range(50):
            s = sid[0]
            sid[0] += 2
            frames.append(HeadersFrame(s, EXPORT_HEADERS, flags=["END_HEADERS"]).serialize())
            frames.append(DataFrame(s, message, flags=["END_STREAM"]).serialize())
        try:
            sock.sendall(b"".join(frames))
        except OSError:
            time.sleep(0.01)

    with closing_all([sock]), SteadyExporter(receiver) as steady:
        sock.settimeout(0.2)
        run_for(2.0, call_and_never_read)
        held_mb = (rss_bytes() - baseline) / MiB
    steady.assert_every_span_arrived()
    assert held_mb < 64


def _gzip_bomb(inflated: int) -> bytes:
    return gzip.compress(b"\0" * inflated, compresslevel=9)


BOMB = _gzip_bomb(256 * MiB)  # about 250 KiB that inflate to 256 MiB


def send_bomb(export: grpc.UnaryUnaryMultiCallable) -> grpc.StatusCode:
    try:
        export(BOMB, timeout=10)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_gzip_bombs_are_refused_and_memory_returns_to_baseline(receiver):
    """One bomb, then a hundred in a row: each refused, memory back near where it was."""
    sock = raw_connection(receiver.port)

    def bomb_frames(stream: int) -> bytes:
        block = headers_block(**{"grpc-encoding": "gzip"})
        return (HeadersFrame(stream, block, flags=["END_HEADERS"]).serialize()
                + b"".join(DataFrame(stream, chunk).serialize()
                           for chunk in _chunks(grpc_frame(BOMB, compressed=True)))
                + DataFrame(stream, b"", flags=["END_STREAM"]).serialize())

    baseline = rss_bytes()
    with closing_all([sock]), SteadyExporter(receiver) as steady:
        sock.sendall(bomb_frames(1))
        after_one = rss_bytes()
        for i in range(100):
            try:
                sock.sendall(bomb_frames(3 + 2 * i))
            except OSError:  # the server may hang up on a bomber
                sock = raw_connection(receiver.port)
        time.sleep(0.5)
    steady.assert_every_span_arrived()
    settled_mb = (rss_bytes() - baseline) / MiB
    assert (after_one - baseline) / MiB < 300
    assert settled_mb < 64, f"{settled_mb:.0f} MiB still held after 101 bombs"
    assert receiver.store.stats().calls == steady.sent


def _chunks(data: bytes, size: int = 16_384) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_a_thousand_idle_connections_are_closed_and_exporting_goes_on(receiver):
    """1,000 connections that finish the handshake and then say nothing."""
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n + 256  # both ends live in this process
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
        soft = min(need, hard)
    n = min(n, (soft - 256) // 2)  # scaled only where the hard limit forbids 1,000
    baseline = rss_bytes()
    with SteadyExporter(receiver) as steady:
        socks = [raw_connection(receiver.port) for _ in range(n)]
        with closing_all(socks):
            held_mb = (rss_bytes() - baseline) / MiB
            time.sleep(1.0)  # the idle limit
            still_open = socks
            deadline = time.monotonic() + 10
            while still_open and time.monotonic() < deadline:
                time.sleep(0.1)
                still_open = [s for s in still_open if not closed_now(s)]
    steady.assert_every_span_arrived()
    assert held_mb < 200, f"{held_mb:.0f} MiB for {n} idle connections"
    assert not still_open, f"{len(still_open)} of {n} idle connections still open"


def test_garbage_instead_of_a_preface_closes_that_connection_only(receiver):
    with SteadyExporter(receiver) as steady:
        for payload in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00\x01",
                        bytes(range(256)) * 4):
            sock = socket.create_connection(("127.0.0.1", receiver.port), timeout=5)
            with closing_all([sock]):
                sock.sendall(payload)
                assert is_closed(sock, 3)
        time.sleep(0.5)
    steady.assert_every_span_arrived()
