"""The OTLP/gRPC trace receiver: a thin shell around ``decode_request`` and the store.

Runs a ``grpc.aio`` server on its own thread and event loop. Requests are decoded on that loop;
large ones on one worker thread, with the bytes waiting for it bounded: beyond the bound the
receiver answers RESOURCE_EXHAUSTED (retryable for OTLP exporters) and counts the refusal,
instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf.duration_pb2 import Duration
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from plano_obs.ingest.decode import RequestDecodeError, decode_request
from plano_obs.ingest.store import Store
from plano_obs.model import DecodeResult

__all__ = ["EXPORT_METHOD", "PortInUseError", "Receiver", "ReceiverError"]

log = logging.getLogger(__name__)

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
#: Requests at least this large are decoded off the event loop, so small ones keep flowing.
_OFFLOAD_BYTES = 256 * 1024
_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()
#: Retry after this long when overloaded: OTLP exporters (and the Collector) retry
#: RESOURCE_EXHAUSTED only when the server says when, in a google.rpc.RetryInfo trailer.
RETRY_AFTER_S = 1


def _retry_info(seconds: int) -> bytes:
    """A serialized ``google.rpc.RetryInfo`` (field 1: its retry_delay Duration)."""
    delay = Duration(seconds=seconds).SerializeToString()
    return b"\x0a" + bytes([len(delay)]) + delay


class ReceiverError(RuntimeError):
    """The receiver could not start."""


class PortInUseError(ReceiverError):
    """The address is taken by another process."""


def _response(result: DecodeResult) -> bytes:
    if not result.rejected:
        return _EMPTY_RESPONSE
    reasons: dict[str, int] = {}
    for r in result.rejected:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    message = "; ".join(
        f"{n} span{'s' if n > 1 else ''}: {reason}" for reason, n in list(reasons.items())[:5]
    )
    if len(reasons) > 5:
        message += f"; and {len(reasons) - 5} other reasons"
    return ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(
            rejected_spans=len(result.rejected), error_message=message
        )
    ).SerializeToString()


class Receiver:
    """Accepts OTLP/gRPC ``TraceService/Export`` and feeds the store."""

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4317,
        *,
        max_message_bytes: int = 16 * 1024 * 1024,
        max_pending_bytes: int = 64 * 1024 * 1024,
        max_concurrent_rpcs: int = 1024,
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self.max_pending_bytes = max_pending_bytes
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self.requests = 0
        self._pending_bytes = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: grpc.aio.Server | None = None
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plano-obs-decode")
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._grace = 1.0
        self._start_error: BaseException | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and serve in a background thread; raises PortInUseError when the port is taken."""
        self._check_port_free()
        self._thread = threading.Thread(target=self._run, name="plano-obs-receiver", daemon=True)
        self._thread.start()
        self._started.wait(timeout=10)
        if self._start_error is not None:
            raise self._start_error
        if not self._started.is_set():
            raise ReceiverError(f"the receiver did not start on {self.address} within 10 s")

    def _check_port_free(self) -> None:
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

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # noqa: BLE001 - reported to start()
            self._start_error = e
            self._started.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        # gRPC itself refuses anything far above our limit; up to it we refuse and count.
        hard_limit = max(self.max_message_bytes * 2, self.max_message_bytes + (1 << 20))
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", hard_limit),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=self.max_concurrent_rpcs,
        )
        handler = grpc.method_handlers_generic_handler(
            _SERVICE,
            {"Export": grpc.unary_unary_rpc_method_handler(self._export)},
        )
        server.add_generic_rpc_handlers((handler,))
        try:
            bound = server.add_insecure_port(self.address)
        except RuntimeError as e:
            raise PortInUseError(
                f"cannot listen on {self.address} ({e}); choose another port with --port"
            ) from None
        if bound == 0:
            raise PortInUseError(
                f"port {self.port} on {self.host} is already in use; choose another with --port"
            )
        self.port = bound
        self._stopping = asyncio.Event()
        await server.start()
        self._server = server
        self._started.set()
        await self._stopping.wait()
        await server.stop(self._grace)

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving; in-flight requests get ``grace`` seconds."""
        loop, stopping = self._loop, self._stopping
        self._grace = grace
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop already closed
                log.debug("receiver loop already closed")
        if self._thread is not None:
            self._thread.join(timeout=grace + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the RPC ----------------------------------------------------------------------------

    async def _export(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.requests += 1
        size = len(request)
        if size > self.max_message_bytes:
            reason = (
                f"request of {size / 1048576:.1f} MiB exceeds the "
                f"{self.max_message_bytes / 1048576:.0f} MiB limit (--max-message-mb)"
            )
            self.store.count_refused(reason)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, reason)
        if size < _OFFLOAD_BYTES:
            try:
                return self._ingest(request)
            except RequestDecodeError as e:
                await self._invalid(context, e)
        if self._pending_bytes + size > self.max_pending_bytes:
            reason = "receiver overloaded: too much data waiting to be decoded; retry later"
            self.store.count_refused(reason)
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, reason,
                trailing_metadata=(("google.rpc.retryinfo-bin", _retry_info(RETRY_AFTER_S)),))
        self._pending_bytes += size
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._ingest, request)
        except RequestDecodeError as e:
            await self._invalid(context, e)
            raise  # unreachable: abort raises
        finally:
            self._pending_bytes -= size

    async def _invalid(self, context: grpc.aio.ServicerContext, e: RequestDecodeError) -> None:
        self.store.count_refused(str(e))
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))

    def _ingest(self, request: bytes) -> bytes:
        result = decode_request(request)
        self.store.ingest(result)
        return _response(result)
