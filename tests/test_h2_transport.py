"""The receiver's HTTP/2 transport, spoken to frame by frame over a real socket on 127.0.0.1.

The gRPC client in test_receiver.py covers the ordinary path; these cover what it never sends:
CONTINUATION and padding, windows, pings, protocol errors, HTTP/1.1, compression bombs.
"""

from __future__ import annotations

import gzip
import socket
import struct
import time

import grpc
import hpack
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from plano_obs.ingest.h2 import PREFACE
from plano_obs.ingest.receiver import Receiver
from plano_obs.ingest.store import Store
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

from otlp_fixtures import llm_attrs, request, span

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 3, 4, 6, 7, 8, 9)


@pytest.fixture
def receiver():
    r = Receiver(Store(), "127.0.0.1", 0, max_message_bytes=1024 * 1024)
    r.start()
    yield r
    r.stop(grace=0)


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream) \
        + payload


class RawClient:
    """Just enough of an HTTP/2 client to send frames and read what comes back."""

    def __init__(self, port: int, *, initial_window: int | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buf = b""
        settings = b"" if initial_window is None else struct.pack(">HI", 4, initial_window)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))

    def headers_block(self, path: str = OTLP_TRACE_EXPORT_METHOD, **extra: str) -> bytes:
        fields = [(":method", "POST"), (":scheme", "http"), (":path", path),
                  (":authority", "test"), ("content-type", "application/grpc"),
                  ("te", "trailers"), *extra.items()]
        return self.encoder.encode(fields)

    def send(self, *frames: bytes) -> None:
        self.sock.sendall(b"".join(frames))

    def send_call(self, stream: int = 1) -> None:
        """One whole Export call carrying one LLM span."""
        self.send(frame(HEADERS, 0x4, stream, self.headers_block()),
                  frame(DATA, 0x1, stream,
                        grpc_body(request(span(llm_attrs())).SerializeToString())))

    def read_frame(self) -> tuple[int, int, int, bytes]:
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    kind, flags = self.buf[3], self.buf[4]
                    stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                    payload = self.buf[9 : 9 + length]
                    self.buf = self.buf[9 + length :]
                    return kind, flags, stream, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def response(self, stream: int) -> tuple[dict[str, str], bytes]:
        """Headers and trailers (merged) and the DATA of one stream, up to its END_STREAM."""
        fields: dict[str, str] = {}
        data = b""
        while True:
            kind, flags, sid, payload = self.read_frame()
            if sid != stream:
                continue
            if kind == HEADERS:
                fields.update(dict(self.decoder.decode(payload)))
            elif kind == DATA:
                data += payload
            elif kind == RST_STREAM:
                continue
            if flags & 0x1 and kind in (HEADERS, DATA):
                return fields, data

    def until(self, kind: int) -> tuple[int, int, int, bytes]:
        while True:
            got = self.read_frame()
            if got[0] == kind:
                return got

    def close(self) -> None:
        self.sock.close()


def grpc_body(message: bytes, compressed: bool = False) -> bytes:
    return bytes((1 if compressed else 0,)) + struct.pack(">I", len(message)) + message


def test_continuation_padding_and_a_message_larger_than_the_default_window(receiver):
    c = RawClient(receiver.port)
    msg = request(*[span(llm_attrs(note="x" * 1000)) for _ in range(120)]).SerializeToString()
    assert len(msg) > 100_000  # more than the 65,535 bytes a peer may send before any update
    block = c.headers_block()
    c.send(frame(HEADERS, 0, 1, block[:5]), frame(CONTINUATION, 0, 1, block[5:12]),
           frame(CONTINUATION, 0x4, 1, block[12:]))
    body = grpc_body(msg)
    chunks = [body[i : i + 16_000] for i in range(0, len(body), 16_000)]
    for i, chunk in enumerate(chunks):
        padded = b"\x03" + chunk + b"\x00\x00\x00"  # PADDED: pad length, data, padding
        last = i == len(chunks) - 1
        c.send(frame(DATA, 0x8 | (0x1 if last else 0), 1, padded))
    fields, data = c.response(1)
    assert fields["grpc-status"] == "0"
    assert ExportTraceServiceResponse.FromString(data[5:]).partial_success.rejected_spans == 0
    assert receiver.store.stats().calls == 120
    c.close()


def test_pings_and_settings_are_acknowledged(receiver):
    c = RawClient(receiver.port)
    c.send(frame(PING, 0, 0, b"12345678"))
    kind, flags, _, payload = c.until(PING)
    assert (flags, payload) == (0x1, b"12345678")
    c.close()


def test_an_answer_waits_for_the_client_to_open_its_window(receiver):
    c = RawClient(receiver.port, initial_window=0)
    c.send_call()
    c.until(SETTINGS)  # the receiver's own settings
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1000)))
    fields, _ = c.response(1)
    assert fields["grpc-status"] == "0"
    assert receiver.store.stats().calls == 1
    c.close()


def test_a_protocol_error_closes_that_connection_only_and_is_counted(receiver):
    bad = RawClient(receiver.port)
    bad.send(frame(DATA, 0, 0, b"nonsense"))  # DATA on stream 0
    _, _, _, payload = bad.until(GOAWAY)
    assert int.from_bytes(payload[4:8], "big") == 0x1  # PROTOCOL_ERROR
    bad.close()
    good = RawClient(receiver.port)
    good.send_call()
    assert good.response(1)[0]["grpc-status"] == "0"
    good.close()
    stats = receiver.store.stats()
    assert stats.calls == 1 and stats.refused_requests == 1
    assert "protocol error" in stats.last_refusal


def test_a_gzip_bomb_is_refused_without_being_inflated(receiver):
    c = RawClient(receiver.port)
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))  # 8 MiB of zeros, over the 1 MiB limit
    c.send(frame(HEADERS, 0x4, 1, c.headers_block(**{"grpc-encoding": "gzip"})))
    body = grpc_body(bomb, compressed=True)
    for i in range(0, len(body), 16_000):
        last = i + 16_000 >= len(body)
        c.send(frame(DATA, 0x1 if last else 0, 1, body[i : i + 16_000]))
    fields, _ = c.response(1)
    assert fields["grpc-status"] == str(grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
    assert "exceeds" in fields["grpc-message"]
    c.close()


def test_unsupported_encoding_and_missing_message_are_answered_not_dropped(receiver):
    c = RawClient(receiver.port)
    c.send(frame(HEADERS, 0x4, 1, c.headers_block(**{"grpc-encoding": "snappy"})),
           frame(HEADERS, 0x5, 3, c.headers_block()))
    assert c.response(1)[0]["grpc-status"] == str(grpc.StatusCode.UNIMPLEMENTED.value[0])
    fields, _ = c.response(3)
    assert fields["grpc-status"] == str(grpc.StatusCode.INTERNAL.value[0])
    assert "without a message" in fields["grpc-message"]
    c.close()
    assert receiver.store.stats().refused_requests == 2


def test_other_otlp_services_get_unimplemented_with_the_reason(receiver):
    channel = grpc.insecure_channel(f"127.0.0.1:{receiver.port}")
    metrics = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                                  request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as e:
        metrics(b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "OTLP traces" in e.value.details()
    channel.close()
    assert "MetricsService" in receiver.store.stats().last_refusal


def test_an_http1_client_gets_a_readable_answer(receiver):
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 415")
    assert b"OTLP over gRPC" in answer
    assert "HTTP/1.1" in receiver.store.stats().last_refusal


def test_stopping_sends_goaway(receiver):
    c = RawClient(receiver.port)
    c.until(SETTINGS)
    receiver.stop(grace=0)
    kind, _, _, payload = c.until(GOAWAY)
    assert int.from_bytes(payload[4:8], "big") == 0  # NO_ERROR
    c.close()


@pytest.mark.parametrize("abandon", ["reset", "disconnect"])
def test_requests_the_client_abandons_give_back_their_room(abandon):
    """A client that resets a half-sent request, or drops the connection, must not leave its
    declared size held: later requests would be refused as overload for ever."""
    r = Receiver(Store(), "127.0.0.1", 0, max_message_bytes=1024 * 1024,
                 max_pending_bytes=1024 * 1024)
    r.start()
    try:
        declared = 700 * 1024  # two of these at once would not fit the pending bound
        for _ in range(3):
            c = RawClient(r.port)
            prefix = b"\x00" + struct.pack(">I", declared)
            c.send(frame(HEADERS, 0x4, 1, c.headers_block()),
                   frame(DATA, 0, 1, prefix + b"\x00" * 10_000))
            c.send(frame(PING, 0, 0, b"12345678"))
            c.until(PING)  # the server has read the DATA (frames are handled in order)
            if abandon == "reset":
                c.send(frame(RST_STREAM, 0, 1, struct.pack(">I", 0x8)))  # CANCEL
                c.send(frame(PING, 0, 0, b"87654321"))
                c.until(PING)
            c.close()
            deadline = time.monotonic() + 5
            while r._server.connections and time.monotonic() < deadline:  # seen the close
                time.sleep(0.005)
        good = RawClient(r.port)
        good.send_call()
        assert good.response(1)[0]["grpc-status"] == "0"
        good.close()
        stats = r.store.stats()
        assert stats.calls == 1 and stats.refused_requests == 0
    finally:
        r.stop(grace=0)
