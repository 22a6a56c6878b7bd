"""``plano obs``: the receiver (and demo traffic), then the console or a plain status line."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TYPE_CHECKING

from plano_obs import __version__
from plano_obs.cli._args import (
    add_fleet_arguments,
    add_ledger_arguments,
    add_receiver_arguments,
    open_shared_ledger,
    settings_from,
)
from plano_obs.cli.diagnostics import UsageError
from plano_obs.model import WINDOWS
from plano_obs.settings import ENV_PREFIX, Settings
from plano_obs.shutdown import end_process, stop_on_signals

if TYPE_CHECKING:
    from plano_obs.runtime import Runtime

__all__ = ["DESCRIPTION", "add_obs_arguments", "run_obs"]

DESCRIPTION = (
    "Receive OpenTelemetry spans over OTLP/gRPC (:4317) and OTLP/HTTP (:4318) and show\n"
    "requests, cost, tokens, latency, errors and flagged signals live.\n\n"
    "Point Plano at it in the Plano config:\n"
    "  tracing:\n"
    "    random_sampling: 100\n"
    "    opentracing_grpc_endpoint: http://localhost:4317\n\n"
    "or an OpenTelemetry SDK:\n"
    "  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 \\\n"
    "  OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n\n"
    f"Every option can also be set as {ENV_PREFIX}<NAME> (e.g. {ENV_PREFIX}PORT=4318)."
)


def add_obs_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``plano obs`` itself (receiver, pricing, console)."""
    add_receiver_arguments(parser)
    ui = parser.add_argument_group("console")
    d = Settings.model_fields
    ui.add_argument("--demo", action="store_true", default=None,
                    help="also send built-in demo traffic to the receiver")
    ui.add_argument("--demo-rate", type=int, default=None,
                    help=f"demo calls per minute (default: {d['demo_rate'].default})")
    ui.add_argument("--seed", type=int, default=None,
                    help=f"demo traffic seed (default: {d['seed'].default})")
    ui.add_argument("--refresh-ms", type=int, default=None,
                    help=f"refresh the screen at most this often (default: "
                         f"{d['refresh_ms'].default})")
    ui.add_argument("--window", choices=WINDOWS, default=None,
                    help=f"initial time window (default: {d['window'].default})")
    ui.add_argument("--plain", action="store_true", default=None,
                    help="print a status line every second instead of the console "
                         "(the default when stdout is not a terminal)")
    add_ledger_arguments(parser, "ledger file, a PostgreSQL database shared by a fleet "
                         "(postgresql://user:password@host:port/db), or 'none' to keep "
                         "nothing on disk (default: $XDG_DATA_HOME/plano-obs/ledger.sqlite; "
                         "demo-ledger.sqlite with --demo)")
    g = add_fleet_arguments(parser)
    g.add_argument("--no-receiver", action="store_true", default=None,
                   help="receive nothing: show what the ledger holds, polling it for new calls")


def run_obs(args: argparse.Namespace) -> int:
    """Start the receiver (and demo), then the console or the plain status line."""
    from plano_obs.runtime import Runtime

    settings = settings_from(args)
    if settings.no_receiver and settings.demo:
        raise UsageError("--demo sends calls to this console's receiver: drop --no-receiver")
    runtime = Runtime(settings)
    open_shared_ledger(runtime)
    runtime.start()
    if runtime.ledger_error is not None:
        print(f"plano obs: {runtime.ledger_error}; keeping calls in memory only",
              file=sys.stderr, flush=True)
    try:
        if settings.plain or not sys.stdout.isatty():
            return _run_plain(runtime)
        from plano_obs.tui.app import run_console

        code = run_console(runtime)
    finally:
        runtime.stop()
    # The terminal is restored and the runtime stopped: tearing the interpreter down would
    # only free the held calls one by one, which takes seconds with a full store.
    end_process(code)


def _run_plain(runtime: Runtime) -> int:
    """One status line a second on stdout until SIGINT/SIGTERM."""
    where = f"listening on {runtime.listening}" if runtime.receiving else \
        "reading the ledger (no receiver)"
    print(f"plano obs {__version__}: {where}; Ctrl-C to stop", flush=True)
    status = runtime.ledger_status()
    if status is not None and status.error is None:
        print(f"ledger {status.path}: {status.calls:,} calls", flush=True)
    started = time.monotonic()
    with stop_on_signals(threading.Event()) as done:
        while not done.wait(1.0):
            s = runtime.store.stats()
            doc = runtime.analytics.document("all", now=time.time(), stats=s)
            summary = doc.summary
            cost = "—" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
            elapsed = time.monotonic() - started
            calls = s.calls if runtime.receiving else summary.requests
            line = (f"[{elapsed:6.0f}s] calls {calls}  spans {s.accepted_spans}"
                    f"  errors {summary.errors}  flagged {summary.flagged}  cost {cost}")
            if s.rejected_spans or s.refused_requests or s.duplicate_spans:
                line += (f"  rejected {s.rejected_spans}  refused {s.refused_requests}"
                         f"  duplicates {s.duplicate_spans}")
            status = runtime.ledger_status()
            if status is not None:
                if status.unreachable_since is not None:
                    line += "  ledger unreachable since " + time.strftime(
                        "%H:%M:%S", time.localtime(status.unreachable_since))
                else:
                    line += ("  memory only" if status.error is not None else
                             f"  ledger {status.calls}")
            print(line, flush=True)
    return 0
