"""Arguments shared by ``plano obs`` and its subcommands; a leaf every command module imports.

Nothing here imports a command module, so the commands never import each other.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from plano_obs.cli.diagnostics import UsageError
from plano_obs.settings import Settings, load_settings

__all__ = [
    "ArgumentParser",
    "CommandLineError",
    "HelpFormatter",
    "add_pricing_source_arguments",
    "add_fleet_arguments",
    "add_ledger_arguments",
    "add_receiver_arguments",
    "open_shared_ledger",
    "parse_duration",
    "parse_instant",
    "plural",
    "settings_from",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")


class CommandLineError(UsageError):
    """A flag argparse refused, said in our words; ``prog`` is the (sub)command it belongs to."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


#: argparse's messages -> ours (argparse's wording is not the user's vocabulary).
_ARGPARSE_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"argument (?P<flag>\S+): invalid int value: (?P<value>.*)"),
     "bad {flag} {value}: expected a whole number"),
    (re.compile(r"argument (?P<flag>\S+): invalid float value: (?P<value>.*)"),
     "bad {flag} {value}: expected a number"),
    (re.compile(r"argument (?P<flag>\S+): invalid choice: (?P<value>.*) "
                r"\(choose from (?P<choices>.*)\)"),
     "unknown {flag} {value}; use one of {choices}"),
    (re.compile(r"argument (?P<flag>\S+): expected (?:at least )?one argument"),
     "{flag} needs a value"),
    (re.compile(r"argument (?P<flag>\S+): ignored explicit argument (?P<value>.*)"),
     "{flag} takes no value (got {value})"),
    (re.compile(r"argument (?P<flag>\S+): not allowed with argument (?P<other>\S+)"),
     "{flag} and {other} cannot be used together"),
    (re.compile(r"ambiguous option: (?P<flag>\S+) could match (?P<choices>.*)"),
     "{flag} is ambiguous: did you mean one of {choices}?"),
    (re.compile(r"unrecognized arguments: (?P<value>.*)"),
     "unknown argument {value}"),
    (re.compile(r"the following arguments are required: (?P<value>.*)"),
     "missing {value}"),
    (re.compile(r"argument (?P<flag>\S+): (?P<value>.*)"), "bad {flag}: {value}"),
]


def _in_our_words(message: str) -> str:
    for pattern, template in _ARGPARSE_MESSAGES:
        m = pattern.fullmatch(message.strip())
        if m:
            parts = {k: v.replace("'", "") if k == "choices" else v
                     for k, v in m.groupdict().items()}
            return template.format(**parts)
    return message.strip().splitlines()[0]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, except that a refused flag is one line in our words and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(_in_our_words(message), self.prog)


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


def plural(n: int, word: str) -> str:
    """``1 call``, ``2 calls``, ``1,024 calls``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def parse_duration(text: str, flag: str) -> float:
    """Seconds from ``'30'``, ``'30s'``, ``'5m'``, ``'1h'``, ``'7d'`` or ``'500ms'``."""
    m = _DURATION.match(text)
    if m is None:
        raise UsageError(f"bad {flag} {text!r}: expected a duration such as 30, 30s, 5m or 1h")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    value = float(m.group(1)) * unit
    if value <= 0:
        raise UsageError(f"bad {flag} {text!r}: must be more than zero")
    return value


def parse_instant(text: str, flag: str, *, now: float) -> int:
    """Unix nanoseconds of an ISO date or time (UTC unless it says otherwise) or of a duration
    before ``now`` (unix seconds; ``24h`` means 24 hours ago)."""
    value = text.strip()
    if _DURATION.match(value):
        return int((now - parse_duration(value, flag)) * 1e9)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"bad {flag} {text!r}: expected an ISO date or time (2026-01-05, "
                         f"2026-01-05T10:00Z) or a duration such as 24h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(microseconds=1) * 1000


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
    g.add_argument("--http-port", type=int, default=None,
                   help=f"OTLP/HTTP port, 0 for any free one (default: "
                        f"{d['http_port'].default})")
    g.add_argument("--no-http", action="store_true", default=None,
                   help="do not listen for OTLP/HTTP")
    g.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN",
                   help="let web pages from ORIGIN (e.g. http://localhost:3000, or *) send "
                        "OTLP/HTTP; repeatable (default: none, cross-origin requests refused)")
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


def add_ledger_arguments(parser: argparse.ArgumentParser, ledger_help: str) -> None:
    """``--ledger``, ``--retain`` and ``--max-ledger-mb``: where calls are kept, how long."""
    d = Settings.model_fields
    lg = parser.add_argument_group("ledger (every call kept)")
    lg.add_argument("--ledger", default=None, metavar="PATH|URL", help=ledger_help)
    lg.add_argument("--retain", default=None, metavar="AGE",
                    help=f"prune calls older than this, in whole days, e.g. 7d; none keeps "
                         f"everything (default: {d['retain'].default})")
    lg.add_argument("--max-ledger-mb", type=float, default=None, metavar="MB",
                    help=f"prune the oldest days while the ledger is larger (default: "
                         f"{d['max_ledger_mb'].default:g})")


def add_fleet_arguments(parser: argparse.ArgumentParser) -> Any:
    """``--poll-ms``: how often a shared ledger is read; returns the group for more."""
    d = Settings.model_fields
    g = parser.add_argument_group("fleet (a PostgreSQL --ledger shared by many receivers)")
    g.add_argument("--poll-ms", type=int, default=None, metavar="MS",
                   help=f"derive and read a shared ledger's new calls this often (default: "
                        f"{d['poll_ms'].default})")
    return g


def open_shared_ledger(runtime: Any) -> None:
    """Open a runtime's ledger before anything listens. A PostgreSQL ledger that refuses
    (bad credentials, no such database, unreachable) is a usage error (exit 2): the user asked
    for the fleet's database, and memory only would silently leave them out of it."""
    from plano_obs.locations import is_database_url

    runtime.open_ledger()
    if runtime.ledger_error is not None and is_database_url(runtime.settings.ledger_path):
        raise UsageError(runtime.ledger_error)
