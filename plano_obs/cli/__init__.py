"""The ``plano`` command: ``plano obs`` (the console) and its subcommands.

``export``, ``pricing``, ``demo`` and ``whatif``.

Each command lives in its own module and imports only the leaf ``_args`` and ``diagnostics``;
Textual is imported only when the console opens, so ``export`` and ``pricing`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from plano_obs import __version__
from plano_obs.cli import demo, export, ledger, obs, pricing, receive, whatif
from plano_obs.cli._args import ArgumentParser, CommandLineError, HelpFormatter
from plano_obs.cli.diagnostics import UsageError, report, warnings_once

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``plano`` command line."""
    parser = ArgumentParser(
        prog="plano", description="Plano tools.", formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"plano-obs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    obs_parser = sub.add_parser(
        "obs", formatter_class=HelpFormatter,
        help="live console for LLM gateway traffic (OTLP/gRPC and OTLP/HTTP receiver)",
        description=obs.DESCRIPTION,
    )
    obs.add_obs_arguments(obs_parser)
    obs_sub = obs_parser.add_subparsers(dest="obs_command", metavar="SUBCOMMAND")
    export_parser = obs_sub.add_parser(
        "export", formatter_class=HelpFormatter,
        help="headless rollups as JSON (listen, or read OTLP/JSON files)",
        description="Compute the console's rollups without a screen and write them as JSON.")
    export.add_export_arguments(export_parser)
    pricing_parser = obs_sub.add_parser(
        "pricing", formatter_class=HelpFormatter,
        help="show how model names resolve to prices",
        description="Resolve model names against the pricing catalog and print the rates.")
    pricing.add_pricing_arguments(pricing_parser)
    demo_parser = obs_sub.add_parser(
        "demo", formatter_class=HelpFormatter,
        help="send the built-in demo traffic to any OTLP/gRPC receiver",
        description="Send realistic gateway traffic (LLM calls, errors, flagged sessions) to an\n"
                    "OTLP/gRPC receiver: a plano obs running elsewhere, a Collector, ...")
    demo.add_demo_arguments(demo_parser)
    whatif_parser = obs_sub.add_parser(
        "whatif", formatter_class=HelpFormatter,
        help="replay recorded calls under proposed routing rules: cost, latency, quality",
        description=whatif.DESCRIPTION)
    whatif.add_whatif_arguments(whatif_parser)
    ledger_parser = obs_sub.add_parser(
        "ledger", formatter_class=HelpFormatter,
        help="inspect and maintain the ledger: info, prune, rebuild, reprice",
        description="Inspect and maintain the ledger file (by default the console's).")
    ledger.add_ledger_arguments(ledger_parser)
    receive_parser = obs_sub.add_parser(
        "receive", formatter_class=HelpFormatter,
        help="headless receiver: write every call to the ledger (one per gateway, a fleet)",
        description=receive.DESCRIPTION)
    receive.add_receive_arguments(receive_parser)
    # A flag given before the subcommand (plano obs --port 5000 export) must survive the
    # subcommand's own default for it.
    shared = {a.dest for a in obs_parser._actions if a.option_strings}
    for sub_parser in (export_parser, pricing_parser, demo_parser, whatif_parser,
                       ledger_parser, receive_parser):
        for action in sub_parser._actions:
            if action.dest in shared and action.option_strings and action.dest != "help":
                action.default = argparse.SUPPRESS
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plano`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except CommandLineError as e:
        # argparse reports a subcommand's leftover arguments from the top parser; name the
        # command the user typed instead.
        prog = e.prog if e.prog != "plano" else _typed_command(argv)
        return report(UsageError(f"{e} (see {prog} --help)"), prog)
    with warnings_once():
        if args.obs_command == "export":
            return export.run_export(args)
        if args.obs_command == "pricing":
            return pricing.run_pricing(args)
        if args.obs_command == "whatif":
            return whatif.run_whatif(args)
        if args.obs_command == "ledger":
            return ledger.run_ledger(args)
        if args.obs_command == "receive":
            try:
                return receive.run_receive(args)
            except Exception as e:  # report() re-raises what is not a user error
                return report(e, "plano obs receive")
        if args.obs_command == "demo":
            try:
                return demo.run_demo(args)
            except Exception as e:  # report() re-raises what is not a user error
                return report(e, "plano obs demo")
        try:
            return obs.run_obs(args)
        except Exception as e:  # report() re-raises what is not a user error
            return report(e, "plano obs")


def _typed_command(argv: list[str]) -> str:
    words = ["plano"]
    expected = [("obs",), ("export", "pricing", "demo", "whatif", "ledger", "receive")]
    for token in argv:
        if not expected:
            break
        if token in expected[0]:
            words.append(token)
            expected.pop(0)
    return " ".join(words)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
