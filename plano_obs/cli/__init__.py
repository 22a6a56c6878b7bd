"""The ``plano`` command: ``plano obs`` (console), ``plano obs export``, ``plano obs pricing``.

Each command lives in its own module and imports only the leaf ``_args`` and ``diagnostics``;
Textual is imported only when the console opens, so ``export`` and ``pricing`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from plano_obs import __version__
from plano_obs.cli import export, obs, pricing
from plano_obs.cli._args import HelpFormatter
from plano_obs.cli.diagnostics import report

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``plano`` command line."""
    parser = argparse.ArgumentParser(
        prog="plano", description="Plano tools.", formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"plano-obs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    obs_parser = sub.add_parser(
        "obs", formatter_class=HelpFormatter,
        help="live console for LLM gateway traffic (OTLP/gRPC receiver)",
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
    # A flag given before the subcommand (plano obs --port 5000 export) must survive the
    # subcommand's own default for it.
    shared = {a.dest for a in obs_parser._actions if a.option_strings}
    for sub_parser in (export_parser, pricing_parser):
        for action in sub_parser._actions:
            if action.dest in shared and action.option_strings and action.dest != "help":
                action.default = argparse.SUPPRESS
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plano`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.obs_command == "export":
        return export.run_export(args)
    if args.obs_command == "pricing":
        return pricing.run_pricing(args)
    try:
        return obs.run_obs(args)
    except Exception as e:  # report() re-raises what is not a user error
        return report(e, "plano obs")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
