"""SIGINT/SIGTERM as a stop request: the one place ``plano`` commands install signal handlers."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["STOP_SIGNALS", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(
    done: threading.Event, signals: tuple[signal.Signals, ...] = STOP_SIGNALS
) -> Iterator[threading.Event]:
    """Set ``done`` when one of ``signals`` arrives; the previous handlers come back on exit.

    Only the main thread may install handlers, so elsewhere (tests driving a command from a
    thread) this does nothing and the caller stops by other means.
    """
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            previous[sig] = signal.signal(sig, lambda *_: done.set())
    try:
        yield done
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
