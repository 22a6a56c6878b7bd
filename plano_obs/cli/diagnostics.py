"""Exit codes of every ``plano`` command, and which errors map to which code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import TextIO

__all__ = ["ExitCode", "UsageError", "exit_code_for", "one_line", "report", "warnings_once"]


class ExitCode(IntEnum):
    """What a ``plano`` command's exit status means."""

    OK = 0
    UNPRICED = 1  # ``plano obs pricing``: some name has no price
    USAGE = 2  # bad flags, files, config or port: one line on stderr
    GATE = 3  # ``plano obs export`` and ``whatif``: a ``--fail-on`` threshold broke


class UsageError(ValueError):
    """Bad input from the user; the message is one line."""


def _user_errors() -> tuple[type[BaseException], ...]:
    # Imported here so that a command's start-up never pays for modules it does not use.
    from plano_obs.export.gates import GateError
    from plano_obs.ingest.receiver import ReceiverError
    from plano_obs.pricing import PricingConfigError
    from plano_obs.settings import SettingsError

    return (UsageError, SettingsError, GateError, PricingConfigError, ReceiverError, OSError)


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit code for an error the user can fix, or None for a bug (let it raise)."""
    if isinstance(error, _user_errors()):
        return ExitCode.USAGE
    return None


def one_line(error: BaseException) -> str:
    """The first line of an error's message (its type when it has none)."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


def report(error: BaseException, prog: str, err: TextIO | None = None) -> ExitCode:
    """Print ``prog: message`` for a user error and return its code; re-raise anything else."""
    code = exit_code_for(error)
    if code is None:
        raise error
    print(f"{prog}: {one_line(error)}", file=err or sys.stderr)
    return code


class _OncePerMessage(logging.Handler):
    """Prints the first line of each distinct warning once, to the stderr of the moment."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip()
        line = text.splitlines()[0] if text else record.levelname.lower()
        if line not in self._seen:
            self._seen.add(line)
            print(line, file=sys.stderr, flush=True)


@contextmanager
def warnings_once(logger_name: str = "plano_obs") -> Iterator[None]:
    """While inside, the core's warnings reach stderr once each (a retry loop says it once)."""
    logger = logging.getLogger(logger_name)
    handler = _OncePerMessage()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
