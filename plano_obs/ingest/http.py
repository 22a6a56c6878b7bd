"""The OTLP/HTTP trace receiver: ``POST /v1/traces`` on aiohttp's server, on its own thread.

Protobuf (``application/x-protobuf``) and OTLP/JSON (``application/json``) bodies, plain, gzip or
deflate, feed the same ``plano_obs.ingest.service.export`` as gRPC and are answered in the
request's content type, with the status codes of the OTLP/HTTP specification: 200 (with a partial
success naming rejected spans), 400 with a ``google.rpc.Status`` for a body that is not OTLP, 413
above ``max_message_bytes`` (before and after decompression: a gzip bomb is refused, never
inflated), 429/503 with ``Retry-After`` under overload, 404, 405, 415; 408 for a body that does not
arrive in time. Every refusal is counted in the store's stats beside gRPC's.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from google.protobuf import json_format

from plano_obs.ingest._serving import PortInUseError, ReceiverError, ServingThread
from plano_obs.ingest.decode import RequestDecodeError
from plano_obs.ingest.service import export
from plano_obs.ingest.store import Store, Unavailable

__all__ = ["EXPORT_PATH", "HttpReceiver", "RETRY_AFTER_S", "inflate"]

log = logging.getLogger(__name__)

EXPORT_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: Seconds a client is told to wait (``Retry-After``) when the receiver is overloaded.
RETRY_AFTER_S = 1
#: Bodies at least this large (as received) are decompressed and decoded on a worker thread, so
#: the loop keeps serving others meanwhile. Smaller ones, an SDK's batch of 512 spans included,
#: are decoded on the loop: handing them to a thread costs more in GIL hand-offs with the loop
#: reading the next body than it saves.
_OFFLOAD_BYTES = 2 * 1024 * 1024
#: A connection reads this much of a body before waiting for the handler to take it: a whole
#: batch arrives in a few wake-ups of the loop, which competes for the GIL with decoding.
_READ_BUFFER_BYTES = 1024 * 1024
_ENCODINGS = {"": "identity", "identity": "identity", "gzip": "gzip", "x-gzip": "gzip",
              "deflate": "deflate"}
_OTHER_SIGNALS = {"/v1/metrics": "metrics", "/v1/logs": "logs", "/v1development/profiles":
                  "profiles"}

# google.rpc.Code values carried in the error bodies.
_INVALID_ARGUMENT, _DEADLINE_EXCEEDED, _NOT_FOUND, _PERMISSION_DENIED = 3, 4, 5, 7
_RESOURCE_EXHAUSTED, _UNIMPLEMENTED, _INTERNAL, _UNAVAILABLE = 8, 12, 13, 14


@dataclass(eq=False)
class _Refusal(Exception):
    """A request answered with an error status, counted in the store's refusals."""

    status: int
    code: int  # google.rpc.Code of the Status body
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # the body was not read: end the connection after answering


class _BodyTooLarge(ValueError):
    """Decompressed, the body is larger than allowed."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _status_body(code: int, message: str, media_type: str) -> bytes:
    """A ``google.rpc.Status`` (code, message) as protobuf or as its JSON mapping."""
    if media_type == PROTOBUF:
        text = message.encode()
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return json.dumps({"code": code, "message": message}).encode()


def inflate(body: bytes, encoding: str, limit_bytes: int) -> bytes:
    """Decompress a gzip or deflate body, refusing (``ValueError``) once it passes the limit.

    Never holds more than ``limit_bytes`` of output: a bomb is stopped at the limit, not inflated.
    Concatenated gzip members are read in turn; deflate may be zlib-wrapped (as HTTP says) or raw.
    """
    if encoding == "identity":
        return body
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif len(body) >= 2 and body[0] & 0x0F == 8 and ((body[0] << 8) | body[1]) % 31 == 0:
        wbits = zlib.MAX_WBITS
    else:
        wbits = -zlib.MAX_WBITS
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            d = zlib.decompressobj(wbits)
            chunk = d.decompress(data, limit_bytes - size + 1)
            while True:
                size += len(chunk)
                if size > limit_bytes:
                    raise _BodyTooLarge(
                        f"request decompresses to more than the {_mib(limit_bytes)} limit "
                        f"(--max-message-mb)")
                out.append(chunk)
                if not d.unconsumed_tail:
                    break
                chunk = d.decompress(d.unconsumed_tail, limit_bytes - size + 1)
            if not d.eof:
                raise ValueError(f"truncated {encoding} body")
            data = d.unused_data if encoding == "gzip" else b""
    except zlib.error as e:
        raise ValueError(f"bad {encoding} body: {e}") from None
    return b"".join(out)


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f} MiB" if n >= 1048576 else f"{n / 1024:.0f} KiB"


def _media_type(content_type: str | None) -> str | None:
    """``PROTOBUF`` or ``JSON`` for the request's Content-Type, else None."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media if media in (PROTOBUF, JSON) else None


class _QuietCounter(logging.Handler):
    """Counts HTTP requests aiohttp could not parse, instead of printing them."""

    def __init__(self, on_malformed) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.on_malformed = on_malformed

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else None
            self.on_malformed(exc, peer)
        elif exc is not None:
            log.debug("HTTP server: %s", record.getMessage(), exc_info=record.exc_info)


class _Server(web.Server):
    """aiohttp's server, closing connections above a cap before they hold anything."""

    max_connections = 512
    on_full = staticmethod(lambda: None)

    def __call__(self) -> web.RequestHandler:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            self.on_full()
            return _Closing()  # type: ignore[return-value]
        return super().__call__()


class _Closing(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class HttpReceiver(ServingThread):
    """Accepts OTLP/HTTP ``POST /v1/traces`` and feeds the store."""

    thread_name = "plano-obs-http"
    what = "the OTLP/HTTP receiver"

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        max_message_bytes: int = 16 * 1024 * 1024,
        max_pending_bytes: int = 64 * 1024 * 1024,
        cors_origins: Iterable[str] = (),
        max_concurrent_requests: int = 256,
        max_connections: int = 512,
        idle_timeout_s: float = 30.0,
        body_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(host, port)
        self.store = store
        self.max_message_bytes = max_message_bytes
        self.max_pending_bytes = max_pending_bytes
        self.cors_origins = frozenset(cors_origins)
        self.max_concurrent_requests = max_concurrent_requests
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.body_timeout_s = body_timeout_s
        self.requests = 0
        self._server: _Server | None = None
        self._listener: asyncio.Server | None = None
        self._active = 0
        self._pending_bytes = 0
        # aiohttp reports unparseable requests through its logger: count them, print nothing.
        self._server_log = logging.Logger(f"{__name__}.server", logging.DEBUG)
        self._server_log.propagate = False
        self._server_log.addHandler(_QuietCounter(self._malformed))

    def _bind(self) -> socket.socket:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            sock = socket.socket(family, kind, proto)
        except OSError as e:
            raise ReceiverError(f"cannot listen on {self.address}: {e.strerror or e}") from None
        try:
            # As gRPC: a port whose old connections linger in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1024)
        except OSError as e:
            sock.close()
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {self.port} on {self.host} is already in use (OTLP/HTTP); choose "
                    f"another with --http-port (or PLANO_OBS_HTTP_PORT), or turn it off with "
                    f"--no-http") from None
            raise ReceiverError(f"cannot listen on {self.address}: {e.strerror or e}") from None
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    async def _listen(self) -> None:
        sock = self._bind()
        server = _Server(self._handle, logger=self._server_log, access_log=None,
                         auto_decompress=False, keepalive_timeout=self.idle_timeout_s,
                         lingering_time=2.0, max_field_size=16 * 1024,
                         read_bufsize=_READ_BUFFER_BYTES)
        server.max_connections = self.max_connections
        server.on_full = self._connections_full  # type: ignore[method-assign]
        self._server = server
        self._listener = await asyncio.get_running_loop().create_server(server, sock=sock)

    async def _close(self, grace: float) -> None:
        if self._listener is None or self._server is None:
            return
        self._listener.close()
        try:
            await asyncio.wait_for(self._server.shutdown(grace), grace + 1)
        except TimeoutError:
            log.debug("OTLP/HTTP connections did not close within the grace period")
        await self._listener.wait_closed()

    # -- requests ---------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        media = _media_type(request.headers.get("Content-Type"))
        cors = self._cors_headers(request)
        try:
            if request.path != EXPORT_PATH:
                raise self._not_found(request)
            if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                return self._preflight(request, cors)
            if request.method != "POST":
                allow = "POST, OPTIONS" if self.cors_origins else "POST"
                raise _Refusal(405, _UNIMPLEMENTED,
                               f"{request.method[:20]} {EXPORT_PATH} is not allowed: send POST",
                               {"Allow": allow})
            if cors is None:
                raise self._forbidden(request)
            if media is None:
                ctype = request.headers.get("Content-Type", "")[:80] or "none"
                raise _Refusal(415, _INVALID_ARGUMENT,
                               f"Content-Type {ctype!r} is not OTLP: send {PROTOBUF} or {JSON}")
            raw_encoding = request.headers.get("Content-Encoding", "").strip().lower()
            encoding = _ENCODINGS.get(raw_encoding)
            if encoding is None:
                raise _Refusal(415, _INVALID_ARGUMENT,
                               f"Content-Encoding {raw_encoding[:40]!r} is not supported: "
                               f"send gzip, deflate or none", close=True)
            body = await self._export(request, media, encoding)
            return self._reply(200, body, media, cors)
        except _Refusal as r:
            self.store.count_refused(r.message)
            kind = media or JSON
            response = self._reply(r.status, _status_body(r.code, r.message, kind), kind,
                                   {**(cors or {}), **r.headers})
            if r.close:
                response.force_close()
            return response
        except Exception as e:  # noqa: BLE001 - one request's bug must not stop the receiver
            log.exception("unexpected error ingesting an OTLP/HTTP request")
            message = f"internal error: {e!r}"[:200]
            self.store.count_refused(message)
            kind = media or JSON
            return self._reply(500, _status_body(_INTERNAL, message, kind), kind, cors)

    async def _export(self, request: web.BaseRequest, media: str, encoding: str) -> bytes:
        """Admit, read, decompress, decode and ingest one request; the response body."""
        length = request.content_length
        limit = self.max_message_bytes
        if length is not None and length > limit:
            raise _Refusal(413, _RESOURCE_EXHAUSTED,
                           f"request of {length / 1048576:.1f} MiB exceeds the {_mib(limit)} "
                           f"limit (--max-message-mb)", close=True)
        retry = {"Retry-After": str(RETRY_AFTER_S)}
        if self._active >= self.max_concurrent_requests:
            raise _Refusal(429, _UNAVAILABLE,
                           f"too many requests at once (more than "
                           f"{self.max_concurrent_requests}); retry later", retry, close=True)
        if self._pending_bytes + (length or 0) > self.max_pending_bytes:
            raise _Refusal(503, _UNAVAILABLE,
                           "receiver overloaded: too much data waiting to be decoded; "
                           "retry later", retry, close=True)
        self._active += 1
        held = [length or 0]
        self._pending_bytes += held[0]
        try:
            if request.headers.get("Expect", "").lower() == "100-continue":
                # curl waits for this before sending a large body; refusals above went first.
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await self._read_body(request, length, held)
            json_body = media == JSON
            if len(body) < _OFFLOAD_BYTES:
                answer = self._work(body, encoding, json_body)
            else:
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(
                    self._pool, self._work, body, encoding, json_body)
        finally:
            self._active -= 1
            self._pending_bytes -= held[0]
        if json_body:
            return json.dumps(json_format.MessageToDict(answer),
                              separators=(",", ":")).encode()
        return answer.SerializeToString()

    async def _read_body(self, request: web.BaseRequest, length: int | None,
                         held: list[int]) -> bytes:
        limit = self.max_message_bytes
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout_s):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > limit:
                        raise _Refusal(413, _RESOURCE_EXHAUSTED,
                                       f"request exceeds the {_mib(limit)} limit "
                                       f"(--max-message-mb)", close=True)
                    if length is None:  # chunked: held as it arrives
                        held[0] += len(chunk)
                        self._pending_bytes += len(chunk)
                    chunks.append(chunk)
        except TimeoutError:
            raise _Refusal(408, _DEADLINE_EXCEEDED,
                           f"request body not received within {self.body_timeout_s:g} s "
                           f"({size} of {length if length is not None else '?'} bytes)",
                           close=True) from None
        except (ConnectionError, HttpProcessingError, OSError) as e:
            raise _Refusal(400, _INVALID_ARGUMENT,
                           f"request body not received: {str(e)[:120] or type(e).__name__}",
                           close=True) from None
        return b"".join(chunks)

    def _work(self, body: bytes, encoding: str, json_body: bool):  # type: ignore[no-untyped-def]
        try:
            data = inflate(body, encoding, self.max_message_bytes)
        except _BodyTooLarge as e:
            raise _Refusal(413, _RESOURCE_EXHAUSTED, str(e)) from None
        except ValueError as e:
            raise _Refusal(400, _INVALID_ARGUMENT, str(e)) from None
        try:
            return export(self.store, data, json_body=json_body)
        except RequestDecodeError as e:
            raise _Refusal(400, _INVALID_ARGUMENT, str(e)) from None
        except Unavailable as e:
            raise _Refusal(503, _UNAVAILABLE, f"{e}; retry later",
                           {"Retry-After": str(RETRY_AFTER_S)}) from None

    def _reply(self, status: int, body: bytes, media: str,
               headers: Mapping[str, str] | None) -> web.Response:
        return web.Response(status=status, body=body, content_type=media,
                            headers=dict(headers or {}))

    # -- paths, methods, origins ------------------------------------------------------------

    def _not_found(self, request: web.BaseRequest) -> _Refusal:
        path = request.path
        signal = _OTHER_SIGNALS.get(path)
        if signal is not None:
            message = (f"plano obs receives traces only; {signal} sent to {path} are not "
                       f"collected (traces: POST {EXPORT_PATH})")
        else:
            message = (f"{request.method[:20]} {path[:120]} is not served here: this port "
                       f"receives OTLP traces at POST {EXPORT_PATH}")
        return _Refusal(404, _NOT_FOUND, message)

    def _forbidden(self, request: web.BaseRequest) -> _Refusal:
        origin = request.headers.get("Origin", "")[:120]
        return _Refusal(403, _PERMISSION_DENIED,
                        f"origin {origin} is not allowed; start plano obs with "
                        f"--cors-origin {origin} to accept traces from that page")

    def _cors_headers(self, request: web.BaseRequest) -> dict[str, str] | None:
        """CORS headers for the request's Origin; None when it has one that is not allowed."""
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        if "*" in self.cors_origins:
            return {"Access-Control-Allow-Origin": "*",
                    "Access-Control-Expose-Headers": "Retry-After"}
        if origin in self.cors_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                    "Access-Control-Expose-Headers": "Retry-After"}
        return None

    def _preflight(self, request: web.BaseRequest,
                   cors: dict[str, str] | None) -> web.StreamResponse:
        if not self.cors_origins:
            raise _Refusal(405, _UNIMPLEMENTED,
                           "cross-origin requests are off; start plano obs with "
                           "--cors-origin ORIGIN to accept traces from a web page",
                           {"Allow": "POST"})
        if cors is None:
            raise self._forbidden(request)
        wanted = request.headers.get("Access-Control-Request-Method", "").upper()
        if wanted != "POST":
            raise _Refusal(405, _UNIMPLEMENTED, f"{wanted[:20]} {EXPORT_PATH} is not allowed",
                           {**cors, "Allow": "POST, OPTIONS"})
        headers = {**cors, "Access-Control-Allow-Methods": "POST",
                   "Access-Control-Max-Age": "7200"}
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            headers["Access-Control-Allow-Headers"] = asked[:1024]
        headers.pop("Access-Control-Expose-Headers", None)
        return web.Response(status=204, headers=headers)

    # -- refusals aiohttp makes itself ------------------------------------------------------

    def _malformed(self, exc: HttpProcessingError, peer: object) -> None:
        where = f" from {peer}" if peer else ""
        what = (str(exc.message).strip().splitlines() or [type(exc).__name__])[0].rstrip(":")
        self.store.count_refused(f"malformed HTTP request{where}: {what[:120]}")

    def _connections_full(self) -> None:
        self.store.count_refused(f"more than {self.max_connections} OTLP/HTTP connections "
                                 f"open; a new one was closed")
