"""``plano obs receive``: a headless receiver writing every call to the ledger.

Meant to run next to each gateway (or several behind one address), all writing one PostgreSQL
ledger that consoles read. No screen: a status line on stderr every ``--status-s``. SIGTERM or
SIGINT stops accepting, lets requests in flight finish (each acknowledged only once its calls
are committed), writes what is left to derive, and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from plano_obs import __version__
from plano_obs.cli._args import (
    add_fleet_arguments,
    add_ledger_arguments,
    add_receiver_arguments,
    open_shared_ledger,
    parse_duration,
    settings_from,
)
from plano_obs.cli.diagnostics import UsageError
from plano_obs.shutdown import stop_on_signals

__all__ = ["DESCRIPTION", "add_receive_arguments", "run_receive"]

DESCRIPTION = (
    "Receive OTLP spans and write every LLM call to the ledger, with no screen: run one next\n"
    "to each gateway, all writing one PostgreSQL ledger that consoles read:\n\n"
    "  plano obs receive --ledger postgresql://plano@db:5432/plano\n"
    "  plano obs --ledger postgresql://plano@db:5432/plano --no-receiver\n\n"
    "A request is acknowledged only once its calls are committed; while the database is\n"
    "unreachable, requests are answered UNAVAILABLE (the exporter retries). SIGTERM drains\n"
    "and exits 0."
)


def add_receive_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``plano obs receive``."""
    add_receiver_arguments(parser)
    add_ledger_arguments(parser, "where calls are written: postgresql://user:password@host:"
                                 "port/db, or a ledger file (default: $XDG_DATA_HOME/plano-obs/"
                                 "ledger.sqlite)")
    add_fleet_arguments(parser)
    parser.add_argument("--status-s", default="10", metavar="SECONDS",
                        help="print a status line on stderr this often (default: 10)")


def run_receive(args: argparse.Namespace) -> int:
    """Receive until SIGTERM/SIGINT; returns the exit code."""
    from plano_obs.runtime import Runtime

    every_s = parse_duration(str(args.status_s), "--status-s")
    settings = settings_from(args)
    if settings.ledger_path is None:
        raise UsageError("--ledger none: a receiver with nowhere to write keeps nothing; "
                         "give it a ledger")
    runtime = Runtime(settings, views=False)
    open_shared_ledger(runtime)
    if runtime.ledger_error is not None:
        raise UsageError(runtime.ledger_error)
    runtime.start()
    status = runtime.ledger_status()
    where = status.path if status is not None else "?"
    print(f"plano obs receive {__version__}: listening on {runtime.listening}; writing "
          f"{where}", file=sys.stderr, flush=True)
    try:
        with stop_on_signals(threading.Event()) as done:
            while not done.wait(every_s):
                _status(runtime)
    finally:
        runtime.stop()
        _status(runtime, final=True)
    return 0


def _status(runtime: object, *, final: bool = False) -> None:
    from plano_obs.runtime import Runtime

    assert isinstance(runtime, Runtime)
    s = runtime.store.stats()
    line = (f"{time.strftime('%H:%M:%S')} calls {s.calls:,}  spans {s.accepted_spans:,}"
            f"  duplicates {s.duplicate_spans:,}  refused {s.refused_requests:,}")
    status = runtime.ledger_status()
    if status is not None:
        if status.unreachable_since is not None:
            since = time.strftime("%H:%M:%S", time.localtime(status.unreachable_since))
            line += f"  ledger unreachable since {since} (answering UNAVAILABLE)"
        elif status.error is not None:
            line += f"  {status.error}"
        else:
            line += f"  ledger {status.calls:,} calls"
    if final:
        line += "  stopped"
    print(line, file=sys.stderr, flush=True)
