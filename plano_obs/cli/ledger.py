"""``plano obs ledger info|prune|rebuild|reprice``: look into and maintain a ledger file.

Exit codes: 0 done, 2 bad input or an unusable ledger (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from plano_obs.cli._args import add_pricing_source_arguments, parse_instant
from plano_obs.cli.diagnostics import ExitCode, UsageError, report
from plano_obs.ledger import Ledger, LedgerError, Rollups, open_for_reading, prune, reprice
from plano_obs.settings import load_settings

__all__ = ["add_ledger_arguments", "run_ledger"]

_PROG = "plano obs ledger"


def add_ledger_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``plano obs ledger``."""
    parser.add_argument("action", choices=("info", "prune", "rebuild", "reprice"),
                        help="info: path, size, calls, time span, schema; prune: delete calls "
                             "before --before; rebuild: derive the hour and day rows again from "
                             "the raw calls; reprice: price every call with today's catalog")
    parser.add_argument("--ledger", default=None, metavar="PATH|URL",
                        help="the ledger file or postgresql:// database (default: the "
                             "console's, $XDG_DATA_HOME/plano-obs/ledger.sqlite)")
    parser.add_argument("--before", metavar="DATE",
                        help="prune: calls that ended before this ISO date or time (UTC unless "
                             "it says otherwise), or this long ago (e.g. 30d)")
    add_pricing_source_arguments(parser)  # for reprice


def _path(args: argparse.Namespace) -> Path | str:
    path = load_settings({"ledger": getattr(args, "ledger", None)}).ledger_path
    if path is None:
        raise UsageError("--ledger none: there is no ledger to work on")
    if isinstance(path, Path) and not path.exists():
        raise UsageError(f"no ledger at {path} (plano obs creates it on its first run)")
    return path


def run_ledger(args: argparse.Namespace) -> int:
    """Run ``plano obs ledger``; returns the exit code."""
    try:
        path = _path(args)
        action = args.action
        if action == "info":
            return _info(path)
        if action == "prune":
            return _prune(path, getattr(args, "before", None))
        if action == "rebuild":
            return _rebuild(path)
        return _reprice(path, args)
    except LedgerError as e:
        return report(UsageError(str(e)), _PROG)
    except Exception as e:  # report() re-raises what is not a user error
        return report(e, _PROG)


def _when(ns: int | None) -> str:
    if ns is None:
        return "—"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _size_parts(path: Path, used: int) -> str:
    """What of the size is not calls: free pages left by pruning, the write-ahead log."""
    parts = []
    try:
        main, wal = path.stat().st_size, Path(str(path) + "-wal")
        if main > used * 1.1:
            parts.append(f"{_size(main - used)} free")
        if wal.exists() and wal.stat().st_size:
            parts.append(f"{_size(wal.stat().st_size)} write-ahead log")
    except OSError:
        pass
    return "".join(f", {p}" for p in parts)


def _info(path: Path | str) -> int:
    ledger = open_for_reading(path)
    try:
        info = ledger.info()
        rollups = Rollups(ledger)
        through = rollups.derived_through()
        last_id = ledger.last_id()
        used = ledger.used_bytes()
        per_call = f" ({used / info.calls:,.0f} bytes per call)" if info.calls else ""
        lines = [
            ("ledger", str(ledger.path)),
            ("size", _size(info.size_bytes) + per_call + (
                _size_parts(path, used) if isinstance(path, Path) else "")),
            ("calls", f"{info.calls:,}"),
            ("from", _when(info.first_ns)),
            ("to", _when(info.last_ns)),
            ("schema", f"version {info.schema_version}"),
            ("derived", "every call" if through >= last_id else
             f"up to position {through:,} of {last_id:,} (a console or receiver derives the "
             f"rest when it opens the ledger)"),
            ("pruned", f"{info.pruned_calls:,} calls" + (
                f", last {_when(info.last_prune_ns)}" if info.last_prune_ns else "")),
        ]
        repriced = ledger.last_reprice()
        if repriced is not None:
            at, source, calls, before, after = repriced
            lines.append(("repriced", f"{_when(at)} with {source}: {calls:,} calls, "
                                      f"${before / 1e9:,.6f} -> ${after / 1e9:,.6f}"))
        for name, value in lines:
            print(f"{name:<9} {value}")
    finally:
        ledger.close()
    return ExitCode.OK


def _prune(path: Path | str, before: str | None) -> int:
    if not before:
        raise UsageError("prune needs --before DATE (e.g. 2026-01-01, or 30d for 30 days ago)")
    before_ns = parse_instant(before, "--before", now=time.time())
    ledger = Ledger(path)
    try:
        started = time.monotonic()
        report = prune(ledger, before_ns, f"plano obs ledger prune --before {before}")
        print(f"pruned {report.calls:,} calls and {report.spans:,} spans that ended before "
              f"{_when(before_ns)} in {time.monotonic() - started:.1f} s")
    finally:
        ledger.close()
    return ExitCode.OK


def _rebuild(path: Path | str) -> int:
    ledger = Ledger(path)
    try:
        started = time.monotonic()
        tty = sys.stderr.isatty()

        def progress(n: int) -> None:
            if tty:
                print(f"\rplano obs ledger: {n:,} calls derived", end="", file=sys.stderr,
                      flush=True)

        report = Rollups(ledger).rebuild(progress)
        if tty:
            print(file=sys.stderr)
        print(f"rebuilt {report.hours:,} hour rows and {report.days:,} day rows from "
              f"{report.calls:,} calls in {time.monotonic() - started:.1f} s")
    finally:
        ledger.close()
    return ExitCode.OK


def _reprice(path: Path | str, args: argparse.Namespace) -> int:
    from plano_obs.pricing import Pricer

    pricer = Pricer(pricing_file=getattr(args, "pricing_file", None),
                    plano_config=getattr(args, "config", None),
                    offline=bool(getattr(args, "offline", False)))
    if not getattr(args, "offline", False):
        pricer.refresh()  # today's catalog, as a console would have it
    ledger = Ledger(path)
    try:
        started = time.monotonic()
        report = reprice(ledger, pricer)
        change = report.after_nano - report.before_nano
        pct = f" ({change / report.before_nano:+.2%})" if report.before_nano else ""
        print(f"repriced {report.calls:,} calls with {report.pricing_source}: "
              f"${report.before_nano / 1e9:,.6f} -> ${report.after_nano / 1e9:,.6f}, "
              f"{'+' if change >= 0 else '-'}${abs(change) / 1e9:,.6f}{pct}; "
              f"{report.changed:,} calls changed, {report.unpriced:,} unpriced "
              f"({time.monotonic() - started:.1f} s)")
        for model, before, after in report.by_model[:10]:
            print(f"  {model:<40} ${before / 1e9:,.6f} -> ${after / 1e9:,.6f}")
    finally:
        ledger.close()
    return ExitCode.OK
