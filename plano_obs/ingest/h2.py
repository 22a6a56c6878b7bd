"""gRPC unary calls over cleartext HTTP/2 (h2c), on asyncio: the receiver's transport.

Why not ``grpc.aio``: its Python server layer spends more CPU per request, before any handler
runs, than all of our handling of a one-span request, which is what caps one-span-per-request
traffic. This transport serves exactly what an OTLP exporter needs (unary calls, identity, gzip
or deflate messages, trailers) and writes each response from precomputed bytes.

What it does of HTTP/2 (RFC 9113): the connection preface and SETTINGS exchange; HEADERS with
CONTINUATION, padding and priority; DATA with padding; PING; WINDOW_UPDATE both ways (its own
windows are large and topped up as data arrives); RST_STREAM; GOAWAY both ways; unknown frame types
are ignored. Header blocks are decoded with ``hpack`` (RFC 7541), bounded in size. Memory is bounded
by explicit limits, not by flow control: frames above 16 KiB and header blocks above 64 KiB end the
connection, and every request's size is declared by its gRPC prefix and passed to ``admit`` before
its body is buffered. A connection that breaks the protocol gets a GOAWAY and is closed; other
connections and the server go on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
import zlib
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import cast

import hpack
from hpack import HPACKError

__all__ = ["CallError", "Status", "UnaryCall", "UnaryServer"]

log = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 section 6).
_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS, _PUSH_PROMISE, _PING, _GOAWAY = range(8)
_WINDOW_UPDATE, _CONTINUATION = 8, 9
_END_STREAM = _ACK = 0x1
_END_HEADERS, _PADDED, _PRIORITY_FLAG = 0x4, 0x8, 0x20
# Error codes (section 7).
_NO_ERROR, _PROTOCOL_ERROR, _INTERNAL_ERROR, _FRAME_SIZE_ERROR = 0x0, 0x1, 0x2, 0x6
_REFUSED_STREAM, _COMPRESSION_ERROR, _ENHANCE_YOUR_CALM = 0x7, 0x9, 0xB
# Settings (section 6.5.2).
_S_MAX_CONCURRENT_STREAMS, _S_INITIAL_WINDOW_SIZE, _S_MAX_HEADER_LIST_SIZE = 0x3, 0x4, 0x6

MAX_FRAME = 16_384  # the protocol's default SETTINGS_MAX_FRAME_SIZE; we never raise it
MAX_HEADER_BLOCK = 64 * 1024
STREAM_WINDOW = 4 * 1024 * 1024
CONN_WINDOW = 32 * 1024 * 1024
_MAX_WINDOW = (1 << 31) - 1

_FRAME = struct.Struct(">IBI")  # 24-bit length and 8-bit type share the first word
_U32 = struct.Struct(">I")
_SETTING = struct.Struct(">HI")
_GRPC_PREFIX = struct.Struct(">BI")


class Status(IntEnum):
    """gRPC status codes this transport answers with."""

    OK = 0
    INVALID_ARGUMENT = 3
    RESOURCE_EXHAUSTED = 8
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


class CallError(Exception):
    """Ends a call with a gRPC status (and optional extra trailers)."""

    def __init__(self, status: Status, message: str,
                 trailers: Iterable[tuple[str, bytes | str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.trailers = tuple(trailers)


# -- HPACK output: only literals without indexing, so the peer's table never depends on us --------


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name: str, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return (b"\x00" + _hpack_int(len(name), 7) + name.encode()
            + _hpack_int(len(raw), 7) + raw)


# ":status: 200" is static entry 8; "content-type" is static name 31.
_STATUS_200 = b"\x88"
_CONTENT_TYPE = b"\x0f\x10" + _hpack_int(len(b"application/grpc"), 7) + b"application/grpc"
_ACCEPT = _literal("grpc-accept-encoding", "identity,gzip,deflate")
_RESPONSE_HEADERS = _STATUS_200 + _CONTENT_TYPE + _ACCEPT
_OK_TRAILERS = _literal("grpc-status", "0")
_ENCODINGS = {"identity": 0, "gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _grpc_message(text: str) -> bytes:
    """Percent-encode a status message as gRPC asks (bytes outside printable ASCII, and '%')."""
    raw = text.encode("utf-8", "replace")[:4096]
    return b"".join(bytes((c,)) if 0x20 <= c <= 0x7E and c != 0x25 else b"%%%02X" % c
                    for c in raw)


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return _FRAME.pack(len(payload) << 8 | kind, flags, stream_id) + payload


class _ConnectionError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- calls ------------------------------------------------------------------------------------


class UnaryCall:
    """One request: its method path and message, and the way to answer it (once)."""

    __slots__ = ("_conn", "stream_id", "path", "encoding", "compressed", "size", "_data",
                 "received", "done", "_reserved")

    def __init__(self, conn: _Connection, stream_id: int, path: str, encoding: str) -> None:
        self._conn = conn
        self.stream_id = stream_id
        self.path = path
        self.encoding = encoding
        self.compressed = False
        self.size = -1  # the message size its gRPC prefix declares; -1 until the prefix arrives
        self._data: list[bytes] = []
        self.received = 0  # body bytes so far, gRPC prefix included
        self.done = False  # answered, reset or its connection is gone
        self._reserved = 0

    @property
    def peer(self) -> str:
        return self._conn.peer

    def message(self, max_bytes: int) -> bytes:
        """The request message, decompressed (at most ``max_bytes``); raises CallError."""
        data = b"".join(self._data) if len(self._data) != 1 else self._data[0]
        body = data[5:]
        if not self.compressed:
            return body
        wbits = _ENCODINGS.get(self.encoding, 0)
        if not wbits:
            raise CallError(Status.INTERNAL, "compressed message without a grpc-encoding")
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, max_bytes + 1)
        except zlib.error as e:
            raise CallError(Status.INTERNAL, f"cannot decompress the message ({e})") from None
        if len(out) > max_bytes:
            raise CallError(Status.RESOURCE_EXHAUSTED,
                            f"decompressed message exceeds the {max_bytes / 1048576:.0f} MiB limit")
        if not d.eof:
            raise CallError(Status.INTERNAL, f"truncated {self.encoding} message")
        return out

    def reply(self, message: bytes) -> None:
        """Answer OK with a serialized response message."""
        self._conn.finish(self, message, None)

    def fail(self, error: CallError) -> None:
        """Answer with a non-OK status."""
        self._conn.finish(self, None, error)


Handler = Callable[[UnaryCall], None]
#: Called once a request's size is known, before its body is buffered: None admits it, a
#: CallError refuses it (the body is then read and dropped, never held).
Admit = Callable[[UnaryCall], "CallError | None"]


class _Connection(asyncio.Protocol):
    """One client connection: frames in, calls out."""

    def __init__(self, server: UnaryServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.buf = bytearray()
        self.preface = False
        self.decoder = hpack.Decoder(max_header_list_size=MAX_HEADER_BLOCK)
        self.calls: dict[int, UnaryCall] = {}
        self.last_stream = 0
        self.header_block: bytearray | None = None  # a header block waiting for CONTINUATION
        self.header_stream = 0
        self.header_end_stream = False
        self.unacked = 0  # connection-level bytes received and not yet given back
        self.stream_unacked: dict[int, int] = {}
        self.send_window = 65_535
        self.peer_initial_window = 65_535
        self.stream_send: dict[int, int] = {}
        self.blocked: list[tuple[UnaryCall, bytes]] = []
        self.out: list[bytes] | None = None  # frames gathered while a read is being handled
        self.going_away = False
        self.closed = False

    # -- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        for call in self.calls.values():
            self._release(call)
        self.calls.clear()
        self.blocked.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        self.out = []
        try:
            self._parse(buf)
        except _ConnectionError as e:
            self._goaway(e.code, str(e))
        except Exception as e:  # noqa: BLE001 - a bug here must cost one connection, not the server
            log.exception("HTTP/2 connection from %s failed", self.peer)
            self._goaway(_INTERNAL_ERROR, f"internal error: {e!r}")
        finally:
            out, self.out = self.out, None
            if self.unacked >= CONN_WINDOW // 2 and not self.closed:
                out.append(_frame(_WINDOW_UPDATE, 0, 0, _U32.pack(self.unacked)))
                self.unacked = 0
            if out and self.transport is not None and not self.closed:
                self.transport.write(b"".join(out))

    # -- frames ----------------------------------------------------------------------------

    def _parse(self, buf: bytearray) -> None:
        pos = 0
        if not self.preface:
            if len(buf) < len(PREFACE):
                if PREFACE.startswith(bytes(buf)):
                    return
            elif buf.startswith(PREFACE):
                pos = len(PREFACE)
                self.preface = True
                # Our preface, once the client's says it speaks HTTP/2.
                settings = b"".join(_SETTING.pack(k, v) for k, v in (
                    (_S_MAX_CONCURRENT_STREAMS, self.server.max_streams),
                    (_S_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
                    (_S_MAX_HEADER_LIST_SIZE, MAX_HEADER_BLOCK),
                ))
                self._send(_frame(_SETTINGS, 0, 0, settings)
                           + _frame(_WINDOW_UPDATE, 0, 0, _U32.pack(CONN_WINDOW - 65_535)))
            if not self.preface:
                self._not_http2(bytes(buf[:64]))
                return
        end = len(buf)
        unpack = _FRAME.unpack_from
        while end - pos >= 9 and not self.closed:
            word, flags, stream_id = unpack(buf, pos)
            length, kind = word >> 8, word & 0xFF
            if length > MAX_FRAME:
                raise _ConnectionError(_FRAME_SIZE_ERROR, f"frame of {length} bytes")
            if end - pos - 9 < length:
                break
            payload = bytes(buf[pos + 9 : pos + 9 + length])
            pos += 9 + length
            stream_id &= 0x7FFFFFFF
            if self.header_block is not None and kind != _CONTINUATION:
                raise _ConnectionError(_PROTOCOL_ERROR, "expected CONTINUATION")
            if kind == _DATA:
                self._on_data(stream_id, flags, payload)
            elif kind == _HEADERS:
                self._on_headers(stream_id, flags, payload)
            elif kind == _CONTINUATION:
                self._on_continuation(stream_id, flags, payload)
            elif kind == _SETTINGS:
                self._on_settings(stream_id, flags, payload)
            elif kind == _PING:
                if stream_id or length != 8:
                    raise _ConnectionError(_PROTOCOL_ERROR, "bad PING")
                if not flags & _ACK:
                    self._send(_frame(_PING, _ACK, 0, payload))
            elif kind == _WINDOW_UPDATE:
                self._on_window_update(stream_id, payload)
            elif kind == _RST_STREAM:
                if length != 4 or not stream_id:
                    raise _ConnectionError(_PROTOCOL_ERROR, "bad RST_STREAM")
                call = self.calls.pop(stream_id, None)
                if call is not None:
                    self._release(call)
            elif kind == _GOAWAY:
                self.going_away = True
            elif kind == _PUSH_PROMISE:
                raise _ConnectionError(_PROTOCOL_ERROR, "PUSH_PROMISE from a client")
            # PRIORITY and unknown frame types are ignored, as the protocol asks.
        if pos:
            del buf[:pos]

    def _on_headers(self, stream_id: int, flags: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(_PROTOCOL_ERROR, "HEADERS on stream 0")
        start, end = 0, len(payload)
        if flags & _PADDED:
            if not payload:
                raise _ConnectionError(_PROTOCOL_ERROR, "bad padding")
            start, end = 1, end - payload[0]
        if flags & _PRIORITY_FLAG:
            start += 5
        if end < start:
            raise _ConnectionError(_PROTOCOL_ERROR, "bad padding")
        block = payload[start:end]
        if flags & _END_HEADERS:
            self._on_header_block(stream_id, block, bool(flags & _END_STREAM))
        else:
            self.header_block = bytearray(block)
            self.header_stream = stream_id
            self.header_end_stream = bool(flags & _END_STREAM)

    def _on_continuation(self, stream_id: int, flags: int, payload: bytes) -> None:
        block = self.header_block
        if block is None or stream_id != self.header_stream:
            raise _ConnectionError(_PROTOCOL_ERROR, "unexpected CONTINUATION")
        block += payload
        if len(block) > MAX_HEADER_BLOCK:
            raise _ConnectionError(_ENHANCE_YOUR_CALM, "header block too large")
        if flags & _END_HEADERS:
            self.header_block = None
            self._on_header_block(stream_id, bytes(block), self.header_end_stream)

    def _on_header_block(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        try:
            headers = self.decoder.decode(block)
        except HPACKError as e:
            raise _ConnectionError(_COMPRESSION_ERROR, f"bad header block: {e}") from None
        call = self.calls.get(stream_id)
        if call is not None:  # trailers from the client end its side of the stream
            if not end_stream:
                raise _ConnectionError(_PROTOCOL_ERROR, "trailers without END_STREAM")
            self._complete(call)
            return
        if stream_id % 2 == 0:
            raise _ConnectionError(_PROTOCOL_ERROR, f"HEADERS on even stream {stream_id}")
        if stream_id <= self.last_stream:
            return  # a stream we already answered and forgot: its trailers need nothing
        self.last_stream = stream_id
        if self.going_away or self.server.closing:
            self._send(_frame(_RST_STREAM, 0, stream_id, _U32.pack(_REFUSED_STREAM)))
            return
        if len(self.calls) >= self.server.max_streams:
            self.server.refused(self.peer, "too many concurrent calls on one connection")
            self._send(_frame(_RST_STREAM, 0, stream_id, _U32.pack(_REFUSED_STREAM)))
            return
        fields = cast("dict[str, str]", dict(headers))  # str values: decode(raw=False)
        path = fields.get(":path", "")
        encoding = fields.get("grpc-encoding", "identity")
        call = UnaryCall(self, stream_id, path, encoding)
        self.calls[stream_id] = call
        self.stream_send[stream_id] = self.peer_initial_window
        content_type = fields.get("content-type", "")
        if fields.get(":method") != "POST" or not content_type.startswith("application/grpc"):
            self.server.refused(self.peer, f"not a gRPC request ({fields.get(':method')} "
                                f"{path[:80]}, content-type {content_type[:40]!r})")
            self._http_error(call, 415 if fields.get(":method") == "POST" else 405, end_stream)
            return
        if encoding not in _ENCODINGS:
            unsupported = f"unsupported grpc-encoding {encoding[:40]!r}"
            self._reject(call, CallError(Status.UNIMPLEMENTED, unsupported), end_stream)
            return
        if end_stream:
            self._reject(call, CallError(Status.INTERNAL, "request without a message"), True)

    def _on_data(self, stream_id: int, flags: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(_PROTOCOL_ERROR, "DATA on stream 0")
        size = len(payload)
        self.unacked += size  # flow control counts the whole payload, padding included
        if flags & _PADDED:
            if not payload or payload[0] >= size:
                raise _ConnectionError(_PROTOCOL_ERROR, "bad padding")
            payload = payload[1 : size - payload[0]]
        call = self.calls.get(stream_id)
        if call is None or call.done:
            if call is None and (stream_id > self.last_stream or stream_id % 2 == 0):
                raise _ConnectionError(_PROTOCOL_ERROR, f"DATA on idle stream {stream_id}")
            return  # answered already (refused, or reset): read and dropped
        end_stream = bool(flags & _END_STREAM)
        if payload:
            call._data.append(payload)
            call.received += len(payload)
            if call.size < 0:
                if call.received >= 5:
                    self._prefix(call, end_stream)
                    if call.done:
                        return
            if call.received > call.size + 5:
                self._reject(call, CallError(Status.INTERNAL,
                                             "more than one message in a unary call"), end_stream)
                return
        if end_stream:
            self._complete(call)
        else:
            unacked = self.stream_unacked.get(stream_id, 0) + size
            if unacked >= STREAM_WINDOW // 2:
                self._send(_frame(_WINDOW_UPDATE, 0, stream_id, _U32.pack(unacked)))
                unacked = 0
            self.stream_unacked[stream_id] = unacked

    def _prefix(self, call: UnaryCall, end_stream: bool) -> None:
        """Read the gRPC message prefix once 5 bytes are in, and ask the server to admit it."""
        data = call._data
        head = b"".join(data) if len(data) > 1 else data[0]
        if len(data) > 1:
            data[:] = [head]
        flag, size = _GRPC_PREFIX.unpack_from(head)
        if flag > 1:
            self._reject(call, CallError(Status.INTERNAL, f"bad gRPC message flag {flag}"),
                         end_stream)
            return
        call.compressed = flag == 1
        call.size = size
        refusal = self.server.admit(call)
        if refusal is not None:
            self._end(call, refusal, end_stream)
            return
        call._reserved = size + 5
        self.server.buffered += size + 5

    def _complete(self, call: UnaryCall) -> None:
        """The client finished sending: hand the call over (or answer what is wrong with it)."""
        self.stream_unacked.pop(call.stream_id, None)
        if call.done:
            return
        if call.size < 0:
            self._reject(call, CallError(Status.INTERNAL, "request without a complete message"),
                         True)
            return
        received = call.received
        if received != call.size + 5:
            problem = f"truncated message ({received - 5} of {call.size} bytes)"
            self._reject(call, CallError(Status.INTERNAL, problem), True)
            return
        try:
            self.server.handler(call)
        except CallError as e:
            self.finish(call, None, e)
        except Exception as e:  # noqa: BLE001 - a handler bug answers INTERNAL, the server goes on
            log.exception("handler failed for %s", call.path)
            self.finish(call, None, CallError(Status.INTERNAL, f"internal error: {e!r}"[:200]))

    def _on_settings(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id:
            raise _ConnectionError(_PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & _ACK:
            return
        if len(payload) % 6:
            raise _ConnectionError(_FRAME_SIZE_ERROR, "SETTINGS of a bad length")
        for i in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, i)
            if key == _S_INITIAL_WINDOW_SIZE:
                if value > _MAX_WINDOW:
                    raise _ConnectionError(0x3, "initial window too large")  # FLOW_CONTROL_ERROR
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for sid in self.stream_send:
                    self.stream_send[sid] += delta
        self._send(_frame(_SETTINGS, _ACK, 0))
        self._unblock()

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ConnectionError(_FRAME_SIZE_ERROR, "WINDOW_UPDATE of a bad length")
        increment = _U32.unpack(payload)[0] & 0x7FFFFFFF
        if stream_id == 0:
            if not increment:
                raise _ConnectionError(_PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self.send_window += increment
        elif stream_id in self.stream_send:
            self.stream_send[stream_id] += increment
        self._unblock()

    # -- answers ---------------------------------------------------------------------------

    def _send(self, frame: bytes) -> None:
        if self.out is not None:
            self.out.append(frame)
        elif self.transport is not None and not self.closed:
            self.transport.write(frame)

    def finish(self, call: UnaryCall, message: bytes | None, error: CallError | None) -> None:
        """Answer a call (from the event loop): OK with ``message``, or ``error``."""
        if call.done:
            return
        if error is not None:
            self._end(call, error, True)
            return
        data = _GRPC_PREFIX.pack(0, len(message or b"")) + (message or b"")
        sid = call.stream_id
        if len(data) > self.send_window or len(data) > self.stream_send.get(sid, 0):
            self.blocked.append((call, data))  # the client has not opened its window yet
            return
        self._write_ok(call, data)

    def _write_ok(self, call: UnaryCall, data: bytes) -> None:
        sid = call.stream_id
        self.send_window -= len(data)
        self._send(_frame(_HEADERS, _END_HEADERS, sid, _RESPONSE_HEADERS)
                   + _frame(_DATA, 0, sid, data)
                   + _frame(_HEADERS, _END_HEADERS | _END_STREAM, sid, _OK_TRAILERS))
        self._forget(call)

    def _unblock(self) -> None:
        blocked, self.blocked = self.blocked, []
        for call, data in blocked:
            if call.done:
                continue
            if len(data) > self.send_window or len(data) > self.stream_send.get(call.stream_id, 0):
                self.blocked.append((call, data))
            else:
                self._write_ok(call, data)

    def _reject(self, call: UnaryCall, error: CallError, client_done: bool) -> None:
        """Refuse a malformed call: report it to the server, then answer it."""
        self.server.refused(self.peer, error.message)
        self._end(call, error, client_done)

    def _end(self, call: UnaryCall, error: CallError, client_done: bool) -> None:
        """A trailers-only answer with a non-OK status; resets the stream if the client is
        still sending, so it stops."""
        block = (_RESPONSE_HEADERS + _literal("grpc-status", str(int(error.status)))
                 + _literal("grpc-message", _grpc_message(error.message)))
        for name, value in error.trailers:
            if name.endswith("-bin") and isinstance(value, bytes):
                value = base64.b64encode(value).rstrip(b"=")
            block += _literal(name, value)
        self._send_block(call.stream_id, block, client_done)
        self._forget(call)

    def _http_error(self, call: UnaryCall, status: int, client_done: bool) -> None:
        block = b"\x08\x03" + str(status).encode()  # ":status" (static name 8), literal value
        self._send_block(call.stream_id, block, client_done)
        self._forget(call)

    def _send_block(self, sid: int, block: bytes, client_done: bool) -> None:
        if len(block) > MAX_FRAME:
            block = block[:MAX_FRAME]  # never: status messages are cut at 4 KiB
        frames = _frame(_HEADERS, _END_HEADERS | _END_STREAM, sid, block)
        if not client_done:
            frames += _frame(_RST_STREAM, 0, sid, _U32.pack(_NO_ERROR))
        self._send(frames)

    def _forget(self, call: UnaryCall) -> None:
        call.done = True
        self._release(call)
        sid = call.stream_id
        self.calls.pop(sid, None)
        self.stream_send.pop(sid, None)
        self.stream_unacked.pop(sid, None)
        if self.going_away and not self.calls and self.transport is not None:
            self.transport.close()

    def _release(self, call: UnaryCall) -> None:
        call.done = True
        call._data = []
        if call._reserved:
            self.server.buffered -= call._reserved
            call._reserved = 0

    # -- the connection as a whole ---------------------------------------------------------

    def _goaway(self, code: int, message: str) -> None:
        self.server.refused(self.peer, f"HTTP/2 protocol error: {message}")
        frame = _frame(_GOAWAY, 0, 0, _U32.pack(self.last_stream) + _U32.pack(code)
                       + message.encode("utf-8", "replace")[:256])
        if self.out is not None:  # send what the read produced so far, then the GOAWAY
            frame, self.out = b"".join(self.out) + frame, []
        if self.transport is not None:
            self.transport.write(frame)
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _not_http2(self, head: bytes) -> None:
        """Not gRPC at all: an HTTP/1.1 client gets a readable answer; anyone else is cut off."""
        http1 = head.split(b" ", 1)[0] in (b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS")
        reason = ("an HTTP/1.1 request (OTLP/HTTP?) came to the OTLP/gRPC port" if http1
                  else "a client sent bytes that are not HTTP/2")
        self.server.refused(self.peer, reason)
        if http1 and self.transport is not None:
            body = (b"This port receives OTLP over gRPC (HTTP/2). Point an OTLP/gRPC exporter "
                    b"at it, e.g. OTEL_EXPORTER_OTLP_PROTOCOL=grpc.\n")
            self.transport.write(b"HTTP/1.1 415 Unsupported Media Type\r\nContent-Type: "
                                 b"text/plain\r\nConnection: close\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def shutdown(self) -> None:
        """Tell the client no new calls are taken; close once the open ones are answered."""
        self.going_away = True
        self._send(_frame(_GOAWAY, 0, 0, _U32.pack(self.last_stream) + _U32.pack(_NO_ERROR)))
        if not self.calls and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class UnaryServer:
    """Serves gRPC unary calls on one TCP address; ``handler`` answers each complete call."""

    def __init__(self, handler: Handler, admit: Admit, *, max_streams: int = 1024,
                 on_refused: Callable[[str, str], None] | None = None) -> None:
        self.handler = handler
        self.admit = admit
        self.max_streams = max_streams
        self.on_refused = on_refused
        self.connections: set[_Connection] = set()
        self.buffered = 0  # bytes of admitted requests held (arriving, or waiting for an answer)
        self.closing = False
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port. Raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port,
                                                reuse_address=True, backlog=1024)
        return int(self._server.sockets[0].getsockname()[1])

    def refused(self, peer: str, message: str) -> None:
        """A call or connection this transport refused on its own (the handler never saw it)."""
        log.info("refused from %s: %s", peer, message)
        if self.on_refused is not None:
            self.on_refused(peer, message)

    async def stop(self, grace: float) -> None:
        """Refuse new calls, give open ones ``grace`` seconds, then close every connection."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while any(c.calls for c in self.connections) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.abort()
        if self._server is not None:
            await self._server.wait_closed()
