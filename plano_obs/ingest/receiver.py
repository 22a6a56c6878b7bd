"""The OTLP/gRPC trace receiver: a thin shell around ``decode_request`` and the store.

Serves ``TraceService/Export`` with the HTTP/2 transport of ``plano_obs.ingest.h2`` on its own
thread and event loop. Requests are decoded on that loop; large ones on one worker thread. Every
request's size is known from its gRPC prefix before its body is held: one above the message limit,
or one that would take the bytes held for requests above the pending bound, is answered
RESOURCE_EXHAUSTED (retryable for OTLP exporters, with a RetryInfo trailer when overloaded) and
counted, instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from google.protobuf.duration_pb2 import Duration
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from plano_obs.ingest.decode import RequestDecodeError, decode_request
from plano_obs.ingest.h2 import CallError, Status, UnaryCall, UnaryServer
from plano_obs.ingest.store import Store
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD, DecodeResult

__all__ = ["PortInUseError", "Receiver", "ReceiverError"]

log = logging.getLogger(__name__)

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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: UnaryServer | None = None
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
        self._thread = threading.Thread(target=self._run, name="plano-obs-receiver", daemon=True)
        self._thread.start()
        self._started.wait(timeout=10)
        if self._start_error is not None:
            raise self._start_error
        if not self._started.is_set():
            raise ReceiverError(f"the receiver did not start on {self.address} within 10 s")

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
        server = UnaryServer(self._handle, self._admit, max_streams=self.max_concurrent_rpcs,
                             on_refused=self._refused)
        try:
            # SO_REUSEADDR, as gRPC: a port whose old connections linger in TIME_WAIT is free.
            self.port = await server.start(self.host, self.port)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {self.port} on {self.host} is already in use; "
                    f"choose another with --port (or PLANO_OBS_PORT)"
                ) from None
            raise ReceiverError(f"cannot listen on {self.address}: {e.strerror or e}") from None
        self._stopping = asyncio.Event()
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

    def _admit(self, call: UnaryCall) -> CallError | None:
        """Refuse, before its body is held, a call we will not take."""
        if call.path != OTLP_TRACE_EXPORT_METHOD:
            reason = (f"{call.path[:120] or 'a call without a method'} is not served here "
                      f"(this port receives OTLP traces: {OTLP_TRACE_EXPORT_METHOD})")
            self.store.count_refused(reason)
            return CallError(Status.UNIMPLEMENTED, reason)
        size = call.size
        if size > self.max_message_bytes:
            reason = (
                f"request of {size / 1048576:.1f} MiB exceeds the "
                f"{self.max_message_bytes / 1048576:.0f} MiB limit (--max-message-mb)"
            )
            self.store.count_refused(reason)
            return CallError(Status.RESOURCE_EXHAUSTED, reason)
        server = self._server
        if server is not None and server.buffered + size + 5 > self.max_pending_bytes:
            reason = "receiver overloaded: too much data waiting to be decoded; retry later"
            self.store.count_refused(reason)
            return CallError(Status.RESOURCE_EXHAUSTED, reason,
                             (("google.rpc.retryinfo-bin", _retry_info(RETRY_AFTER_S)),))
        return None

    def _handle(self, call: UnaryCall) -> None:
        if call.size < _OFFLOAD_BYTES:
            self._answer(call, self._work, call)
            return
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._work, call)
        future.add_done_callback(lambda f: self._answer(call, f.result))

    def _answer(self, call: UnaryCall, work, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            call.reply(work(*args))
        except RequestDecodeError as e:
            self.store.count_refused(str(e))
            call.fail(CallError(Status.INVALID_ARGUMENT, str(e)))
        except CallError as e:
            self.store.count_refused(e.message)
            call.fail(e)
        except asyncio.CancelledError:
            call.fail(CallError(Status.UNAVAILABLE, "the receiver is stopping; retry later"))
        except Exception as e:  # noqa: BLE001 - one request's bug must not stop the receiver
            log.exception("unexpected error ingesting a request")
            self.store.count_refused(f"internal error: {e!r}"[:200])
            call.fail(CallError(Status.INTERNAL, f"internal error: {e!r}"[:200]))

    def _refused(self, peer: str, message: str) -> None:
        self.store.count_refused(f"{message} (from {peer})")

    def _work(self, call: UnaryCall) -> bytes:
        result = decode_request(call.message(self.max_message_bytes))
        self.store.ingest(result)
        return _response(result)
