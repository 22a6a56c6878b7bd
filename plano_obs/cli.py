"""The ``plano`` command: ``plano obs`` (console), ``plano obs export``, ``plano obs pricing``.

Textual is imported only when the console opens, so ``export`` and ``pricing`` start fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence

from plano_obs import __version__
from plano_obs.settings import ENV_PREFIX, WINDOWS, Settings, SettingsError, load_settings

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default; options whose default lives in Settings say it themselves."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "%(default)" not in text
            and "(default:" not in text
            and action.default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def add_receiver_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the console and ``export --listen``; defaults come from Settings."""
    d = Settings.model_fields
    g = parser.add_argument_group("receiver")
    g.add_argument("--host", default=None,
                   help=f"address to listen on; 0.0.0.0 for all interfaces "
                        f"(default: {d['host'].default})")
    g.add_argument("--port", type=int, default=None,
                   help=f"OTLP/gRPC port, 0 for any free one (default: {d['port'].default})")
    g.add_argument("--max-message-mb", type=float, default=None,
                   help=f"largest request accepted (default: {d['max_message_mb'].default})")
    g.add_argument("--capacity", type=int, default=None,
                   help=f"LLM calls held for lists and drilldown (default: "
                        f"{d['capacity'].default})")
    p = parser.add_argument_group("pricing")
    p.add_argument("--pricing-file", default=None,
                   help="pricing overrides, YAML or JSON (rates per million tokens, aliases)")
    p.add_argument("--config", default=None,
                   help="Plano config file (model_aliases, model_metrics_sources)")
    p.add_argument("--offline", action="store_true", default=None,
                   help="never fetch remote pricing; use the cache or the embedded snapshot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plano", description="Plano tools.", formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"plano-obs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    obs = sub.add_parser(
        "obs", formatter_class=_Formatter,
        help="live console for LLM gateway traffic (OTLP/gRPC receiver)",
        description=(
            "Receive the gateway's OpenTelemetry spans over OTLP/gRPC and show requests, cost,\n"
            "tokens, latency, errors and flagged signals live.\n\n"
            "Point Plano at it in the Plano config:\n"
            "  tracing:\n"
            "    random_sampling: 100\n"
            "    opentracing_grpc_endpoint: http://localhost:4317\n\n"
            f"Every option can also be set as {ENV_PREFIX}<NAME> (e.g. {ENV_PREFIX}PORT=4318)."
        ),
    )
    add_receiver_arguments(obs)
    ui = obs.add_argument_group("console")
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
    obs_sub = obs.add_subparsers(dest="obs_command", metavar="SUBCOMMAND")

    from plano_obs.export.cli import add_export_arguments
    from plano_obs.pricing.cli import add_pricing_arguments

    export = obs_sub.add_parser(
        "export", formatter_class=_Formatter,
        help="headless rollups as JSON (listen, or read OTLP/JSON files)",
        description="Compute the console's rollups without a screen and write them as JSON.")
    add_export_arguments(export)
    pricing = obs_sub.add_parser(
        "pricing", formatter_class=_Formatter,
        help="show how model names resolve to prices",
        description="Resolve model names against the pricing catalog and print the rates.")
    add_pricing_arguments(pricing)
    # A flag given before the subcommand (plano obs --port 5000 export) must survive the
    # subcommand's own default for it.
    shared = {a.dest for a in obs._actions if a.option_strings}
    for sub_parser in (export, pricing):
        for action in sub_parser._actions:
            if action.dest in shared and action.option_strings and action.dest != "help":
                action.default = argparse.SUPPRESS
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    flags = {k: v for k, v in vars(args).items() if k in Settings.model_fields}
    return load_settings(flags)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plano`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.obs_command == "export":
            from plano_obs.export.cli import run_export

            return run_export(args)
        if args.obs_command == "pricing":
            from plano_obs.pricing.cli import run_pricing

            return run_pricing(args)
        settings = _settings_from(args)
    except SettingsError as e:
        print(f"plano obs: {e}", file=sys.stderr)
        return EXIT_USAGE
    return run_obs(settings)


def run_obs(settings: Settings) -> int:
    """Start the receiver (and demo), then the console or the plain status line."""
    from plano_obs.ingest.receiver import ReceiverError
    from plano_obs.pricing import PricingConfigError
    from plano_obs.runtime import Runtime

    try:
        runtime = Runtime(settings)
        runtime.start()
    except (ReceiverError, PricingConfigError, OSError) as e:
        print(f"plano obs: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if settings.plain or not sys.stdout.isatty():
            return _run_plain(runtime)
        from plano_obs.tui.app import run_console

        return run_console(runtime)
    finally:
        runtime.stop()


def _run_plain(runtime) -> int:  # type: ignore[no-untyped-def]
    """One status line a second on stdout until SIGINT/SIGTERM."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"plano obs {__version__}: listening on {runtime.listen_address} (OTLP/gRPC); "
          f"Ctrl-C to stop", flush=True)
    started = time.monotonic()
    while not done.wait(1.0):
        s = runtime.store.stats()
        doc = runtime.analytics.document("all", now=time.time(), stats=s)
        summary = doc.summary
        cost = "—" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
        line = (f"[{time.monotonic() - started:6.0f}s] calls {s.calls}  spans {s.accepted_spans}"
                f"  errors {summary.errors}  flagged {summary.flagged}  cost {cost}")
        if s.rejected_spans or s.refused_requests or s.duplicate_spans:
            line += (f"  rejected {s.rejected_spans}  refused {s.refused_requests}"
                     f"  duplicates {s.duplicate_spans}")
        print(line, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
