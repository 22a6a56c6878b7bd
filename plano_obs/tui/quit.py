"""Quitting that always works: ``q``, ``ctrl+c``, SIGINT/SIGTERM/SIGHUP, whatever the load.

A quit asks the app to exit, which restores the terminal, then the runtime stops. Should any
of that still be running a second later (the UI loop held up, a receiver that does not let go),
a deadline restores the terminal itself and ends the process.
"""

from __future__ import annotations

import os
import termios
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from plano_obs.shutdown import end_process

__all__ = ["QUIT_DEADLINE_S", "DaemonThreads", "QuitDeadline"]

#: How long a quit may take, from the key or signal to the end of the process.
QUIT_DEADLINE_S = 1.0
#: Kept for writing the escape sequences and ending the process once the deadline fires.
_MARGIN_S = 0.15

#: What Textual turns off on a normal exit: the kitty keyboard protocol, mouse reporting,
#: bracketed paste, focus events; then line wrap on, the main screen back, the cursor shown.
RESTORE_TERMINAL = (
    "\x1b[<u"
    "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"
    "\x1b[?2004l\x1b[?1004l\x1b[?7h"
    "\x1b[?1049l\x1b[?25h"
)


class DaemonThreads(ThreadPoolExecutor):
    """Runs each job (a frame being read) in its own daemon thread.

    The default executor's threads are joined when the event loop closes and again at
    interpreter exit, so a quit would wait for the slowest frame still being read (seconds
    for a first read at a million calls). A frame nobody will draw is simply abandoned.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - handed to whoever awaits the future
                future.set_exception(e)
            else:
                future.set_result(result)

        threading.Thread(target=run, name="plano-obs-worker", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to wait for: the threads are daemons."""


class QuitDeadline:
    """Ends the process ``QUIT_DEADLINE_S`` after the first quit request, if it still runs."""

    def __init__(self, in_fd: int | None, out_fd: int | None) -> None:
        """``in_fd``: the terminal whose modes are saved now; ``out_fd``: where the escape
        sequences go (Textual draws on stderr)."""
        self._in_fd, self._out_fd = in_fd, out_fd
        self._attrs: list[Any] | None = None
        if in_fd is not None and os.isatty(in_fd):
            try:
                self._attrs = termios.tcgetattr(in_fd)
            except termios.error:
                self._attrs = None
        self._armed = threading.Event()
        self.requested_at: float | None = None

    def arm(self, exit_code: int = 0) -> None:
        """Start the clock (the first call only); safe from a signal handler or any thread."""
        if self._armed.is_set():
            return
        self._armed.set()
        self.requested_at = time.monotonic()
        threading.Thread(target=self._expire, args=(exit_code,), name="plano-obs-quit",
                         daemon=True).start()

    def _expire(self, exit_code: int) -> None:
        time.sleep(QUIT_DEADLINE_S - _MARGIN_S)
        self.restore_terminal()
        end_process(exit_code)

    def restore_terminal(self) -> None:
        """Put the terminal back as the console found it (a closed terminal is ignored)."""
        if self._out_fd is not None:
            try:
                os.write(self._out_fd, RESTORE_TERMINAL.encode())
            except OSError:
                pass
        if self._in_fd is not None and self._attrs is not None:
            try:
                termios.tcsetattr(self._in_fd, termios.TCSANOW, self._attrs)
            except termios.error:
                pass
