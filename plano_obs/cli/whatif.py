"""``plano obs whatif``: replay recorded calls under proposed rules, headless.

Exit codes (:class:`~plano_obs.cli.diagnostics.ExitCode`), as the export's: 0 done, 2 bad
input (one line on stderr), 3 a ``--fail-on`` threshold broke.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from plano_obs.cli._args import parse_duration
from plano_obs.cli._files import read_otlp_json_files
from plano_obs.cli.diagnostics import ExitCode, UsageError, report
from plano_obs.export.gates import check_gates, parse_gate
from plano_obs.model import DecodeResult, LLMCall
from plano_obs.replay.schema import WhatIfResult, json_schema
from plano_obs.replay.summary import summary_text

__all__ = ["DESCRIPTION", "WHATIF_METRICS", "add_whatif_arguments", "read_calls", "run_whatif"]

DESCRIPTION = (
    "Replay the calls of a window under proposed rules (RULES.yaml) and say what they\n"
    "would have cost, how fast they would have been and what the targets' quality\n"
    "signals were, with 95% bootstrap intervals. Never invents savings: a target with\n"
    "no price leaves its calls unchanged and is counted.")

_PROG = "plano obs whatif"
DEFAULT_SEED = 0

#: ``--fail-on`` metrics: name -> how to read it from a result (None = unknown).
WHATIF_METRICS: dict[str, Callable[[WhatIfResult], float | None]] = {
    "savings_usd": lambda r: r.totals.savings_usd.value,
    "savings_usd_low": lambda r: r.totals.savings_usd.ci_low,
    "savings_usd_high": lambda r: r.totals.savings_usd.ci_high,
    "savings_pct": lambda r: r.totals.savings_pct.value,
    "savings_pct_low": lambda r: r.totals.savings_pct.ci_low,
    "savings_pct_high": lambda r: r.totals.savings_pct.ci_high,
    "baseline_cost_usd": lambda r: r.totals.baseline_cost_usd,
    "projected_cost_usd": lambda r: r.totals.projected_cost_usd,
    "projected_p50_latency_ms": lambda r: r.totals.latency.projected_p50_ms.value,
    "projected_p95_latency_ms": lambda r: r.totals.latency.projected_p95_ms.value,
    "projected_p95_latency_ms_high": lambda r: r.totals.latency.projected_p95_ms.ci_high,
    "calls": lambda r: r.totals.calls,
    "matched": lambda r: r.totals.matched,
    "moved": lambda r: r.totals.moved,
    "unpriceable": lambda r: r.totals.unpriceable,
    "latency_unprojected": lambda r: r.totals.latency.unprojected,
}


def add_whatif_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``plano obs whatif``."""
    parser.add_argument("rules", nargs="?", metavar="RULES.yaml",
                        help="the proposed rules (YAML or JSON); see the README")
    one = parser.add_argument_group("or one rule from flags")
    one.add_argument("--to", metavar="MODEL", help="send the matching calls to this model")
    one.add_argument("--to-provider", metavar="PROVIDER", help="through this provider")
    one.add_argument("--route", metavar="NAME", help="match calls of this route")
    one.add_argument("--model", metavar="NAME",
                     help="match calls that ran this model (any spelling or dated version)")
    src = parser.add_argument_group("input")
    src.add_argument("--from", dest="from_files", nargs="+", metavar="FILE",
                     help="OTLP/JSON files as the OpenTelemetry Collector's file exporter writes "
                          "them (one ExportTraceServiceRequest per line)")
    src.add_argument("--ledger", metavar="PATH",
                     help="read the calls from a ledger, also while a console writes it "
                          "(default without --from: the console's, PLANO_OBS_LEDGER or "
                          "$XDG_DATA_HOME/plano-obs/ledger.sqlite)")
    win = parser.add_argument_group("window (by each call's end time)")
    win.add_argument("--window", default=None, metavar="W",
                     help="the last W of the recorded traffic (up to its last call), e.g. 1h, "
                          "24h, 7d, 30d; or all (default: all)")
    win.add_argument("--since", default=None, metavar="TIME",
                     help="start: an ISO time (2026-11-20T09:00Z) or a span before the last "
                          "call (24h)")
    win.add_argument("--until", default=None, metavar="TIME",
                     help="end: an ISO time or a span before the last call (default: the last "
                          "call)")
    boot = parser.add_argument_group("intervals")
    boot.add_argument("--seed", type=int, default=None,
                      help=f"bootstrap seed (default: {DEFAULT_SEED})")
    boot.add_argument("--iterations", type=int, default=1000,
                      help="bootstrap replicates per interval")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true",
                     help="print the full result as JSON instead of the summary")
    out.add_argument("--calls", action="store_true",
                     help="include every call (rule, costs, latency) in the JSON")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="also write the JSON here (atomically)")
    out.add_argument("--schema", action="store_true",
                     help="print the JSON Schema of the result and exit")
    out.add_argument("--fail-on", action="append", default=None, metavar="EXPR",
                     help="exit 3 when the expression holds, e.g. 'savings_pct<10', "
                          "'projected_p95_latency_ms>3000'; repeatable; unknown values fail")
    p = parser.add_argument_group("pricing")
    p.add_argument("--pricing-file", default=None,
                   help="pricing overrides, YAML or JSON (rates per million tokens, aliases)")
    p.add_argument("--config", default=None,
                   help="Plano config file (model_aliases, model_metrics_sources)")


def run_whatif(args: argparse.Namespace) -> int:
    """Run ``plano obs whatif``; returns the exit code."""
    try:
        return _run(args)
    except Exception as e:  # report() re-raises what is not a user error
        return report(e, _PROG)


def _run(args: argparse.Namespace) -> int:
    from plano_obs.replay import ReplayError, RulesError, load_rules, replay, single_rule

    # Flags the console shares (--seed, --window, --config...) may be absent: they default there.
    for name in ("seed", "window", "pricing_file", "config"):
        if not hasattr(args, name):
            setattr(args, name, None)
    if args.schema:
        sys.stdout.write(json_schema() + "\n")
        return ExitCode.OK
    if args.rules and args.to:
        raise UsageError("give a rules file or --to MODEL, not both")
    if not args.to and (args.route or args.model or args.to_provider):
        raise UsageError("--route, --model and --to-provider go with --to MODEL")
    if not args.rules and not args.to:
        raise UsageError("give the rules file (plano obs whatif RULES.yaml --from FILE...) or "
                         "one rule with --to MODEL [--route NAME] [--model NAME]")
    gates = [parse_gate(g, WHATIF_METRICS) for g in args.fail_on or []]
    if args.from_files and getattr(args, "ledger", None):
        raise UsageError("give --from FILE... or --ledger PATH, not both")
    if args.window is not None and args.since is not None:
        raise UsageError("give --window or --since, not both")
    try:
        rule_set = load_rules(args.rules) if args.rules else single_rule(
            args.to, route=args.route, model=args.model, target_provider=args.to_provider)
    except RulesError as e:
        raise UsageError(str(e)) from None
    pricer = _pricer(args)
    calls, source, window = _load_calls(args, pricer)
    try:
        seed = DEFAULT_SEED if args.seed is None else args.seed
        result = replay(calls, rule_set, pricer, window=window, seed=seed,
                        iterations=args.iterations, source=source, include_calls=args.calls)
    except ReplayError as e:
        raise UsageError(str(e)) from None
    text = result.model_dump_json(indent=2, exclude_none=False) + "\n"
    if args.output:
        from plano_obs.files import write_atomic

        try:
            write_atomic(args.output, text)
        except OSError as e:
            raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from None
    sys.stdout.write(text if args.json else summary_text(result))
    sys.stdout.flush()
    broken = [r for r in check_gates(result, gates, WHATIF_METRICS) if r.broken]
    for r in broken:
        print(f"{_PROG}: gate failed: {r.message}", file=sys.stderr)
    return ExitCode.GATE if broken else ExitCode.OK


def _pricer(args: argparse.Namespace) -> Any:
    from plano_obs.pricing import Pricer

    # Never refreshed: the same files give the same prices, hence the same result.
    return Pricer(pricing_file=args.pricing_file, plano_config=args.config, offline=True)


def _load_calls(args: argparse.Namespace, pricer: Any) -> tuple[list[LLMCall], str, Any]:
    """The calls to replay, where they came from and the window (the one place a new input
    plugs in): OTLP/JSON files with --from, else a ledger (--ledger, else the console's)."""
    if not args.from_files:
        return _ledger_calls(args)
    calls, source = read_calls(args.from_files, pricer)
    if not calls:
        raise UsageError(f"no LLM calls in {', '.join(args.from_files)}")
    return calls, source, _window(args, max(c.end_ns for c in calls))


def _ledger_calls(args: argparse.Namespace) -> tuple[list[LLMCall], str, Any]:
    """The calls of the window from a ledger, read as of one snapshot (a console may be
    writing it), with the costs they were stored with."""
    from plano_obs.ledger import LedgerError, open_for_reading
    from plano_obs.settings import load_settings

    flag = getattr(args, "ledger", None)
    path = load_settings({"ledger": flag}).ledger_path
    if path is None:
        raise UsageError("--ledger none: give the calls to replay with --from FILE...")
    if isinstance(path, Path) and not path.exists():
        raise UsageError(f"no ledger at {path} (plano obs writes it as calls arrive); give "
                         f"another --ledger PATH or the calls with --from FILE...")
    try:
        ledger = open_for_reading(path)
    except LedgerError as e:
        raise UsageError(str(e)) from None
    try:
        with ledger.snapshot():
            last_ns = ledger.time_span()[1]
            if last_ns is None:
                raise UsageError(f"no LLM calls in the ledger {ledger.path}")
            window = _window(args, last_ns)
            lo, hi = window.bounds_ns()
            calls = [call for _, call in ledger.calls_in(lo, hi + 1)]
    except LedgerError as e:
        raise UsageError(str(e)) from None
    finally:
        ledger.close()
    return calls, f"ledger: {ledger.path}", window


class _Collector:
    """Keeps every decoded LLM call once (exporter retries dropped), priced."""

    def __init__(self, pricer: Any) -> None:
        self.pricer = pricer
        self.calls: list[LLMCall] = []
        self.seen: set[tuple[str, str]] = set()
        self.rejected = 0

    def ingest(self, result: DecodeResult) -> int:
        self.rejected += len(result.rejected)
        added = 0
        for call in result.calls:
            if call.key in self.seen:
                continue
            self.seen.add(call.key)
            call.cost = self.pricer.price(call)
            self.calls.append(call)
            added += 1
        return added


def read_calls(files: list[str], pricer: Any) -> tuple[list[LLMCall], str]:
    """Every LLM call in OTLP/JSON files, priced; bad lines and spans reported on stderr."""
    from plano_obs.ingest.otlp_json import decode_otlp_json

    sink = _Collector(pricer)
    _, bad_lines, first_bad = read_otlp_json_files(files, sink, decode_otlp_json)
    if bad_lines:
        print(f"{_PROG}: skipped {bad_lines} bad line{'s' * (bad_lines != 1)} "
              f"(first: {first_bad})", file=sys.stderr)
    if sink.rejected:
        print(f"{_PROG}: rejected {sink.rejected} span{'s' * (sink.rejected != 1)} that could "
              f"not be decoded", file=sys.stderr)
    return sink.calls, "files: " + ", ".join(files)


def _instant(text: str, flag: str, last: datetime) -> datetime:
    """An ISO time, or a span before the last call (``24h``)."""
    try:
        return last - timedelta(seconds=parse_duration(text, flag))
    except UsageError:
        pass
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"bad {flag} {text!r}: expected an ISO time such as "
                         f"2026-11-20T09:00Z or a span such as 24h") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _window(args: argparse.Namespace, last_ns: int) -> Any:
    from plano_obs.replay import Window

    last = datetime.fromtimestamp(last_ns // 1_000_000_000, UTC).replace(
        microsecond=(last_ns % 1_000_000_000) // 1000 + (1 if last_ns % 1000 else 0))
    end = last if args.until is None else _instant(args.until, "--until", last)
    if args.since is not None:
        return Window("custom", _instant(args.since, "--since", last), end)
    name = args.window or "all"
    if name == "all":
        return Window("all" if args.until is None else "custom", None, end)
    return Window(name, end - timedelta(seconds=parse_duration(name, "--window")), end)
