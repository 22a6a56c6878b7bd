"""The OTLP/gRPC trace receiver: a ``grpc.aio`` server, a thin shell around decoding and the store.

gRPC itself (grpcio's C core) speaks HTTP/2, decompresses, and enforces the transport limits in
``TransportLimits``; this module refuses what it will not take, counts every refusal, decodes what
it takes and answers with the spans it rejected. The server runs on its own thread and event loop;
requests are decoded on that loop, large ones on one worker thread so small ones keep flowing.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf.duration_pb2 import Duration

from plano_obs.ingest._serving import PortInUseError, ReceiverError, ServingThread
from plano_obs.ingest.decode import RequestDecodeError
from plano_obs.ingest.service import export
from plano_obs.ingest.store import Store, Unavailable
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

__all__ = [
    "PortInUseError",
    "Receiver",
    "ReceiverError",
    "TransportLimits",
]

log = logging.getLogger(__name__)

#: Requests at least this large are decoded off the event loop, so small ones keep flowing.
_OFFLOAD_BYTES = 256 * 1024
#: Retry after this long when overloaded: OTLP exporters (and the Collector) retry
#: RESOURCE_EXHAUSTED only when the server says when, in a google.rpc.RetryInfo trailer.
RETRY_AFTER_S = 1


def _retry_info(seconds: int) -> bytes:
    """A serialized ``google.rpc.RetryInfo`` (field 1: its retry_delay Duration)."""
    delay = Duration(seconds=seconds).SerializeToString()
    return b"\x0a" + bytes([len(delay)]) + delay


_RETRY_TRAILER = (("google.rpc.retryinfo-bin", _retry_info(RETRY_AFTER_S)),)


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """What gRPC's core enforces on every connection before a request reaches Python."""

    #: Streams (calls) one connection may have open at once; HTTP/2 recommends at least 100.
    max_streams_per_connection: int = 100
    #: Connections held at once; later ones are closed at accept, so file descriptors last.
    max_connections: int = 2048
    #: A connection with no call open for this long is closed (clients reconnect on demand).
    max_connection_idle_s: float = 120.0
    #: Every connection is asked to go away after this long, so none holds streams forever ...
    max_connection_age_s: float = 600.0
    #: ... and calls still open on it get this long to finish.
    max_connection_age_grace_s: float = 30.0
    #: A connection must send the HTTP/2 preface and SETTINGS within this time.
    handshake_timeout_s: float = 10.0
    #: The server pings a connection quiet for this long, and drops it if no answer comes
    #: within ``keepalive_timeout_s``: dead peers do not hold resources.
    keepalive_time_s: float = 60.0
    keepalive_timeout_s: float = 20.0
    #: Clients may ping at most this often while no data flows; more is a strike ...
    min_client_ping_interval_s: float = 10.0
    #: ... and this many strikes close the connection (GOAWAY ENHANCE_YOUR_CALM).
    max_ping_strikes: int = 2
    #: Request headers (all of a call's metadata) above this size are refused.
    max_header_bytes: int = 8 * 1024

    def channel_options(self, max_receive_bytes: int) -> list[tuple[str, int]]:
        """The grpcio server options that enforce these limits."""
        ms = 1000
        return [
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_concurrent_streams", self.max_streams_per_connection),
            # Reset streams keep counting against the stream limit until gRPC has freed them,
            # so open-and-reset floods cannot queue unbounded work (the HTTP/2 rapid reset).
            ("grpc.http.overload_protection", 1),
            ("grpc.max_allowed_incoming_connections", self.max_connections),
            ("grpc.max_connection_idle_ms", int(self.max_connection_idle_s * ms)),
            ("grpc.max_connection_age_ms", int(self.max_connection_age_s * ms)),
            ("grpc.max_connection_age_grace_ms", int(self.max_connection_age_grace_s * ms)),
            ("grpc.server_handshake_timeout_ms", int(self.handshake_timeout_s * ms)),
            ("grpc.keepalive_time_ms", int(self.keepalive_time_s * ms)),
            ("grpc.keepalive_timeout_ms", int(self.keepalive_timeout_s * ms)),
            # Pings from a client with no call open are strikes: an idle connection may not
            # keep itself alive (it closes after max_connection_idle_s and reconnects later).
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.http2.min_ping_interval_without_data_ms",
             int(self.min_client_ping_interval_s * ms)),
            ("grpc.http2.max_ping_strikes", self.max_ping_strikes),
            ("grpc.max_metadata_size", self.max_header_bytes),
            ("grpc.absolute_max_metadata_size", self.max_header_bytes),
            # A second plano obs on the same port must fail to bind, not share it.
            ("grpc.so_reuseport", 0),
        ]


class _Handlers(grpc.GenericRpcHandler):
    """Routes ``TraceService/Export``; any other method is answered UNIMPLEMENTED and counted."""

    def __init__(self, export: grpc.RpcMethodHandler, refuse: Callable[[str], None]) -> None:
        self._export = export
        self._refuse = refuse

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method  # type: ignore[attr-defined]
        if method == OTLP_TRACE_EXPORT_METHOD:
            return self._export
        reason = (f"{method[:120] or 'a call without a method'} is not served here "
                  f"(this port receives OTLP traces: {OTLP_TRACE_EXPORT_METHOD})")
        self._refuse(reason)

        async def unimplemented(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, reason)
            raise AssertionError("unreachable: abort raises")

        return grpc.unary_unary_rpc_method_handler(unimplemented)


class Receiver(ServingThread):
    """Accepts OTLP/gRPC ``TraceService/Export`` and feeds the store."""

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4317,
        *,
        max_message_bytes: int = 16 * 1024 * 1024,
        max_pending_bytes: int = 64 * 1024 * 1024,
        limits: TransportLimits | None = None,
    ) -> None:
        super().__init__(host, port)
        self.store = store
        self.max_message_bytes = max_message_bytes
        self.max_pending_bytes = max_pending_bytes
        self.limits = limits or TransportLimits()
        #: Bytes of requests taken in and waiting for (or in) the decode thread.
        self.pending_bytes = 0
        self._server: grpc.aio.Server | None = None

    def start(self) -> None:
        """Bind and serve in a background thread; raises PortInUseError when the port is taken."""
        self._check_port_free()
        super().start()

    def _check_port_free(self) -> None:
        """Fail with one clear line before gRPC tries (and logs its own error) on a busy port."""
        if self.port == 0:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            # As gRPC does: a port whose old connections linger in TIME_WAIT is free to use.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise PortInUseError(
                        f"port {self.port} on {self.host} is already in use; "
                        f"choose another with --port (or PLANO_OBS_PORT)"
                    ) from None
                raise ReceiverError(f"cannot listen on {self.address}: {e.strerror}") from None

    async def _listen(self) -> None:
        # gRPC refuses, before reading them, requests far above our limit (declared size, or
        # inflated size when compressed); up to this ceiling we refuse them ourselves, counted.
        ceiling = max(self.max_message_bytes * 2, self.max_message_bytes + (1 << 20))
        server = grpc.aio.server(options=self.limits.channel_options(ceiling))
        export = grpc.unary_unary_rpc_method_handler(self._export)
        server.add_generic_rpc_handlers((_Handlers(export, self._refused),))
        try:
            bound = server.add_insecure_port(self.address)
        except RuntimeError as e:
            raise PortInUseError(f"cannot listen on {self.address} ({e}); "
                                 f"choose another port with --port") from None
        if bound == 0:
            raise PortInUseError(f"port {self.port} on {self.host} is already in use; "
                                 f"choose another with --port (or PLANO_OBS_PORT)")
        self.port = bound
        await server.start()
        self._server = server

    async def _close(self, grace: float) -> None:
        if self._server is not None:
            await self._server.stop(grace)

    # -- the RPC ----------------------------------------------------------------------------

    async def _export(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        size = len(request)  # decompressed already
        if size > self.max_message_bytes:
            return await self._refuse(context, grpc.StatusCode.RESOURCE_EXHAUSTED, (
                f"request of {size / 1048576:.1f} MiB exceeds the "
                f"{self.max_message_bytes / 1048576:.0f} MiB limit (--max-message-mb)"))
        offload = size >= _OFFLOAD_BYTES
        if offload and self.pending_bytes + size > self.max_pending_bytes:
            return await self._refuse(
                context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                "receiver overloaded: too much data waiting to be decoded; retry later",
                _RETRY_TRAILER)
        try:
            if not offload:
                return self._ingest(request)
            self.pending_bytes += size
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, self._ingest, request)
            finally:
                self.pending_bytes -= size
        except RequestDecodeError as e:
            code, reason = grpc.StatusCode.INVALID_ARGUMENT, str(e)
        except Unavailable as e:
            return await self._refuse(context, grpc.StatusCode.UNAVAILABLE,
                                      f"{e}; retry later", _RETRY_TRAILER)
        except Exception as e:  # noqa: BLE001 - one request's bug must not stop the receiver
            log.exception("unexpected error ingesting a request")
            code, reason = grpc.StatusCode.INTERNAL, f"internal error: {e!r}"[:200]
        return await self._refuse(context, code, reason)

    async def _refuse(self, context: grpc.aio.ServicerContext, code: grpc.StatusCode,
                      reason: str, trailers: tuple[tuple[str, bytes], ...] = ()) -> bytes:
        """Count the refusal and answer ``code`` (``abort`` raises, ending the call)."""
        self.store.count_refused(reason)
        await context.abort(code, reason, trailing_metadata=trailers)
        raise AssertionError("unreachable: abort raises")

    def _refused(self, reason: str) -> None:
        self.store.count_refused(reason)

    def _ingest(self, request: bytes) -> bytes:
        return export(self.store, request).SerializeToString()
