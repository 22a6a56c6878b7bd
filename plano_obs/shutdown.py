"""Stop requests by signal: the one place ``plano`` commands install signal handlers."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

__all__ = ["QUIT_SIGNALS", "STOP_SIGNALS", "end_process", "on_signals", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: The console also stops when its terminal goes away.
QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def on_signals(
    handler: Callable[[int], None], signals: tuple[signal.Signals, ...] = STOP_SIGNALS
) -> Iterator[None]:
    """Call ``handler(signum)`` when one of ``signals`` arrives; the previous handlers come
    back on exit.

    Only the main thread may install handlers, so elsewhere (tests driving a command from a
    thread) this does nothing and the caller stops by other means.
    """
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            previous[sig] = signal.signal(sig, lambda signum, _frame: handler(signum))
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def stop_on_signals(
    done: threading.Event, signals: tuple[signal.Signals, ...] = STOP_SIGNALS
) -> Iterator[threading.Event]:
    """Set ``done`` when one of ``signals`` arrives; the previous handlers come back on exit."""
    with on_signals(lambda _signum: done.set(), signals):
        yield done


def end_process(exit_code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process at once, skipping interpreter teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(exit_code)
