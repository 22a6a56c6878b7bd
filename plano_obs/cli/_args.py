"""Arguments shared by ``plano obs`` and its subcommands; a leaf every command module imports.

Nothing here imports a command module, so the commands never import each other.
"""

from __future__ import annotations

import argparse
import re

from plano_obs.cli.diagnostics import UsageError
from plano_obs.settings import Settings, load_settings

__all__ = [
    "HelpFormatter",
    "add_pricing_source_arguments",
    "add_receiver_arguments",
    "parse_duration",
    "settings_from",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
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


def parse_duration(text: str, flag: str) -> float:
    """Seconds from ``'30'``, ``'30s'``, ``'5m'``, ``'1h'`` or ``'500ms'``."""
    m = _DURATION.match(text)
    if m is None:
        raise UsageError(f"bad {flag} {text!r}: expected a duration such as 30, 30s, 5m or 1h")
    value = float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    if value <= 0:
        raise UsageError(f"bad {flag} {text!r}: must be more than zero")
    return value


def add_pricing_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--pricing-file``, ``--config`` and ``--offline``: where prices come from."""
    p = parser.add_argument_group("pricing")
    p.add_argument("--pricing-file", default=None,
                   help="pricing overrides, YAML or JSON (rates per million tokens, aliases)")
    p.add_argument("--config", default=None,
                   help="Plano config file (model_aliases, model_metrics_sources)")
    p.add_argument("--offline", action="store_true", default=None,
                   help="never fetch remote pricing; use the cache or the embedded snapshot")


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
    add_pricing_source_arguments(parser)


def settings_from(args: argparse.Namespace, **overrides: object) -> Settings:
    """Settings from the parsed flags (None = not given) over the environment and defaults."""
    flags = {k: v for k, v in vars(args).items() if k in Settings.model_fields}
    flags.update(overrides)
    return load_settings(flags)
