"""A server on a thread and event loop of its own, as both receivers (gRPC and HTTP) run."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["ReceiverError", "PortInUseError", "ServingThread"]

log = logging.getLogger(__name__)


class ReceiverError(RuntimeError):
    """The receiver could not start."""


class PortInUseError(ReceiverError):
    """The address is taken by another process."""


class ServingThread:
    """``start()`` returns once the server listens (or raises why not); ``stop()`` ends it.

    Subclasses bind in ``_listen`` and close in ``_close``; large requests go to ``_pool``, one
    worker thread, so the loop keeps serving small ones meanwhile.
    """

    #: What the server is called in its thread's name and in errors.
    thread_name = "plano-obs-receiver"
    what = "the receiver"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=1,
                                        thread_name_prefix=f"{self.thread_name}-decode")
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._grace = 1.0
        self._start_error: BaseException | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; raises PortInUseError when the port is taken."""
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._started.wait(timeout=10)
        if self._start_error is not None:
            raise self._start_error
        if not self._started.is_set():
            raise ReceiverError(f"{self.what} did not start on {self.address} within 10 s")

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving; in-flight requests get ``grace`` seconds."""
        loop, stopping = self._loop, self._stopping
        self._grace = grace
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop already closed
                log.debug("%s: loop already closed", self.what)
        if self._thread is not None:
            self._thread.join(timeout=grace + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)

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
        await self._listen()
        self._stopping = asyncio.Event()
        self._started.set()
        await self._stopping.wait()
        await self._close(self._grace)

    async def _listen(self) -> None:
        """Bind and start serving (setting ``port``); raise PortInUseError or ReceiverError."""
        raise NotImplementedError

    async def _close(self, grace: float) -> None:
        """Stop accepting and give requests in flight ``grace`` seconds."""
        raise NotImplementedError
