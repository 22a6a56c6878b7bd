"""``plano obs demo --target HOST:PORT``: the built-in demo traffic, sent to any OTLP receiver."""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time

from plano_obs.cli._args import parse_duration, plural, settings_from
from plano_obs.cli.diagnostics import ExitCode, UsageError
from plano_obs.settings import Settings
from plano_obs.shutdown import stop_on_signals

__all__ = ["add_demo_arguments", "parse_target", "run_demo"]

_TARGET = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/]+):(?P<port>\d{1,5})$")


def parse_target(text: str) -> str:
    """``HOST:PORT`` (``[::1]:4317`` for IPv6) checked, as gRPC wants it."""
    m = _TARGET.match(text.strip())
    if m is None or not 0 < int(m.group("port")) < 65536:
        raise UsageError(f"bad --target {text!r}: expected HOST:PORT, e.g. 127.0.0.1:4317")
    return f"{m.group('host')}:{int(m.group('port'))}"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``plano obs demo``."""
    d = Settings.model_fields
    parser.add_argument("--target", required=True, metavar="HOST:PORT",
                        help="the OTLP/gRPC receiver to send to: a running plano obs, an "
                             "OpenTelemetry Collector, … (e.g. 127.0.0.1:4317)")
    parser.add_argument("--demo-rate", type=int, default=None,
                        help=f"demo calls per minute (default: {d['demo_rate'].default})")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"demo traffic seed (default: {d['seed'].default})")
    parser.add_argument("--backfill-minutes", type=int, default=20, metavar="N",
                        help="minutes of history sent first, so trends have a shape; 0 for none")
    parser.add_argument("--duration", metavar="TIME",
                        help="stop after this long (e.g. 30s, 5m); default: until Ctrl-C/SIGTERM")


def run_demo(args: argparse.Namespace) -> int:
    """Send demo traffic until stopped; 0 when some arrived, 2 when nothing reached the target."""
    from plano_obs.demo import DemoSender

    target = parse_target(args.target)
    backfill = args.backfill_minutes
    if not 0 <= backfill <= 24 * 60:
        raise UsageError(f"bad --backfill-minutes {backfill}: must be between 0 and 1440")
    duration = parse_duration(args.duration, "--duration") if args.duration else None
    settings = settings_from(args)
    sender = DemoSender(target, seed=settings.seed, per_minute=settings.demo_rate,
                        backfill_minutes=backfill)
    print(f"plano obs demo: sending {settings.demo_rate:,} calls/min to {target} (OTLP/gRPC), "
          f"{backfill} min of history first; Ctrl-C to stop", file=sys.stderr, flush=True)
    started = time.monotonic()
    reported: str | None = None
    with stop_on_signals(threading.Event()) as done:
        sender.start()
        try:
            while not done.wait(0.2):
                if sender.last_error is not None and sender.last_error != reported:
                    reported = sender.last_error
                    print(f"plano obs demo: a request to {target} failed: {reported}",
                          file=sys.stderr, flush=True)
                if duration is not None and time.monotonic() - started >= duration:
                    break
        finally:
            sender.stop()
    failed = f", {plural(sender.errors, 'request')} failed" if sender.errors else ""
    print(f"plano obs demo: sent {plural(sender.sent_traces, 'call')} to {target}{failed}",
          file=sys.stderr, flush=True)
    if sender.sent_traces == 0 and sender.errors:
        print(f"plano obs demo: nothing reached {target} (last error: {sender.last_error})",
              file=sys.stderr, flush=True)
        return ExitCode.USAGE
    return ExitCode.OK
