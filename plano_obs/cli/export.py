"""``plano obs export``: rollups as JSON, headless (never imports Textual).

Exit codes: 0 written, 2 bad input (one line on stderr), 3 a ``--fail-on`` threshold broke.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from plano_obs.analytics.document import ExportDocument, WindowInfo, json_schema
from plano_obs.cli._args import (
    add_receiver_arguments,
    parse_duration,
    parse_instant,
    plural,
    settings_from,
)
from plano_obs.cli._files import read_otlp_json_files
from plano_obs.cli.diagnostics import ExitCode, UsageError, report
from plano_obs.export.gates import Gate, check_gates, parse_gate
from plano_obs.files import write_atomic
from plano_obs.model import WINDOWS
from plano_obs.shutdown import stop_on_signals

__all__ = ["add_export_arguments", "read_otlp_json_files", "run_export"]

#: Flagged and failed calls read from a ledger for the triage lists.
_FLAGGED, _ERRORS = 5_000, 200


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of ``plano obs export`` (receiver and pricing flags included)."""
    add_receiver_arguments(parser)
    src = parser.add_argument_group("input (one of)")
    src.add_argument("--listen", action="store_true",
                     help="start the OTLP receivers (gRPC and HTTP) and collect calls")
    src.add_argument("--from", dest="from_files", nargs="+", metavar="FILE",
                     help="read OTLP/JSON files as the OpenTelemetry Collector's file exporter "
                          "writes them (one ExportTraceServiceRequest per line)")
    src.add_argument("--ledger", dest="from_ledger", metavar="PATH|URL",
                     help="read a ledger file (the console's is $XDG_DATA_HOME/plano-obs/"
                          "ledger.sqlite) or a postgresql:// database, also while others "
                          "write it")
    src.add_argument("--schema", action="store_true",
                     help="print the JSON Schema of the export document and exit")
    stop = parser.add_argument_group("when listening")
    stop.add_argument("--duration", metavar="TIME",
                      help="stop after this long (e.g. 30s, 5m); default: until Ctrl-C/SIGTERM")
    stop.add_argument("--count", type=int, metavar="N",
                      help="stop once at least N calls arrived (one request may carry several)")
    stop.add_argument("--every", metavar="TIME",
                      help="also write the document this often: -o rewrites the file; stdout "
                           "gets one compact JSON document per line (NDJSON), the last included")
    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="write here (atomically: temp file, then rename); default: stdout")
    out.add_argument("--window", default=None, metavar="WINDOW",
                     help=f"time window: {', '.join(WINDOWS)} (default: all)")
    out.add_argument("--since", metavar="TIME",
                     help="only calls that ended at or after this ISO time (UTC unless it says "
                          "otherwise) or this long ago, e.g. 24h (--ledger, --from)")
    out.add_argument("--until", metavar="TIME",
                     help="only calls that ended before this time (--ledger, --from)")
    out.add_argument("--fail-on", action="append", default=[], metavar="EXPR",
                     help="exit 3 when the expression holds, e.g. 'p95_latency_ms>2000', "
                          "'error_rate>0.05', 'cost_usd>1.5'; repeatable; unknown values fail")
    out.add_argument("--quiet", action="store_true",
                     help="nothing on stderr but errors and broken gates")


def run_export(args: argparse.Namespace) -> int:
    """Run ``plano obs export``; returns the exit code."""
    try:
        if getattr(args, "schema", False):
            sys.stdout.write(json_schema() + "\n")
            return 0
        window = getattr(args, "window", None) or "all"
        if window not in WINDOWS:
            raise UsageError(f"unknown --window {window!r}; use one of {', '.join(WINDOWS)}")
        gates = [parse_gate(g) for g in getattr(args, "fail_on", None) or []]
        listen = bool(getattr(args, "listen", False))
        files = getattr(args, "from_files", None) or []
        ledger = getattr(args, "from_ledger", None)
        if sum((listen, bool(files), bool(ledger))) != 1:
            raise UsageError("choose one input: --listen, --from FILE... or --ledger PATH|URL")
        span = _span(args, window, listen)
        count = getattr(args, "count", None)
        if count is not None and count < 1:
            raise UsageError(f"bad --count {count}: must be at least 1")
        duration = args.duration and parse_duration(args.duration, "--duration")
        every = args.every and parse_duration(args.every, "--every")
        if ledger:
            return _run_ledger(args, ledger, window, span, gates)
        if files:
            return _run_from(args, files, window, gates, span)
        return _run_listen(args, window, gates, duration or None, count, every or None)
    except Exception as e:  # report() re-raises what is not a user error
        return report(e, "plano obs export")


def _emit(doc: ExportDocument, output: str | None, *, ndjson: bool) -> None:
    """Write ``doc`` to ``output`` (atomically) or stdout: indented, or one line for NDJSON."""
    if output:
        try:
            write_atomic(output, doc.model_dump_json(indent=2) + "\n")
        except OSError as e:
            raise UsageError(f"cannot write {output}: {e.strerror or e}") from None
    else:
        text = doc.model_dump_json() if ndjson else doc.model_dump_json(indent=2)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _finish(
    doc: ExportDocument,
    args: argparse.Namespace,
    gates: list[Gate],
    *,
    received: str,
    ndjson: bool = False,
) -> int:
    """Write the final document, report broken gates, then say what went where."""
    _emit(doc, args.output, ndjson=ndjson)
    broken = [r for r in check_gates(doc, gates) if r.broken]
    for r in broken:
        print(f"plano obs export: gate failed: {r.message}", file=sys.stderr)
    if not getattr(args, "quiet", False):
        print(f"plano obs export: wrote {plural(doc.summary.requests, 'call')} "
              f"(window {doc.window.name}) to {args.output or 'stdout'}; {received}",
              file=sys.stderr, flush=True)
    return ExitCode.GATE if broken else ExitCode.OK


def _span(args: argparse.Namespace, window: str,
          listen: bool) -> tuple[int | None, int | None] | None:
    """``--since``/``--until`` as unix ns (None: not given)."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is None and until is None:
        return None
    if listen:
        raise UsageError("--since and --until narrow --ledger or --from, not --listen")
    if window != "all":
        raise UsageError("use either --window or --since/--until")
    now = time.time()
    lo = None if since is None else parse_instant(since, "--since", now=now)
    hi = None if until is None else parse_instant(until, "--until", now=now)
    if lo is not None and hi is not None and lo >= hi:
        raise UsageError(f"--since {since} is not before --until {until}")
    return lo, hi


def _run_ledger(args: argparse.Namespace, path: str, window: str,
                span: tuple[int | None, int | None] | None, gates: list[Gate]) -> int:
    """The rollups of a ledger, read as of one snapshot (a console may be writing it)."""
    from types import SimpleNamespace

    from plano_obs.analytics import Analytics
    from plano_obs.ledger import LedgerError, LedgerLink, open_for_reading
    from plano_obs.locations import redact
    from plano_obs.pricing import Pricer

    settings = settings_from(args, window=window, ledger="none")
    # Today's list rates, for cost accuracy (the stored costs stay as they were computed).
    pricer = Pricer(pricing_file=settings.pricing_file, plano_config=settings.config,
                    offline=True)
    now = time.time()
    try:
        ledger = open_for_reading(path)
    except LedgerError as e:
        raise UsageError(str(e)) from None
    where = redact(path)
    try:
        link = LedgerLink(ledger, retain_s=None, pricer=pricer)
        analytics = Analytics()
        pricing: Any = SimpleNamespace(source=ledger.pricing_sources(), fetched_at=None,
                                       models=None)
        if span is None:
            link.attach(None, analytics, recent_calls=0, recent_keys=0, flagged=_FLAGGED,
                        errors=_ERRORS)
            if link.error is not None:
                raise UsageError(link.error)
            doc = analytics.document(window, now=now, pricing=pricing, source=f"ledger: {where}")
        else:
            lo = -(2**62) if span[0] is None else span[0]
            hi = int(now * 1e9) + 1 if span[1] is None else span[1]
            with ledger.snapshot():
                selected = analytics.new_all()
                selected.merge(link.range_aggregate(lo, hi))
                flagged = ledger.kept_calls(1, _FLAGGED, lo_ns=lo, hi_ns=hi)
                errors = ledger.kept_calls(2, _ERRORS, lo_ns=lo, hi_ns=hi)
                kinds = ledger.call_kinds()
            analytics.seed(selected, [], flagged[::-1], errors[::-1])
            analytics.know_prices(pricer.price(c) for c in kinds)
            doc = analytics.document("all", now=min(now, hi / 1e9), pricing=pricing,
                                     source=f"ledger: {where}")
            start = doc.window.start if span[0] is None else datetime.fromtimestamp(lo / 1e9, UTC)
            doc = doc.model_copy(update={"window": WindowInfo(name="range", start=start,
                                                              end=doc.window.end)})
    except LedgerError as e:
        raise UsageError(str(e)) from None
    finally:
        ledger.close()
    return _finish(doc, args, gates, received=f"read from the ledger {where}")


def _run_from(args: argparse.Namespace, files: list[str], window: str, gates: list[Gate],
              span: tuple[int | None, int | None] | None = None) -> int:
    from plano_obs.analytics import Analytics
    from plano_obs.ingest.otlp_json import decode_otlp_json
    from plano_obs.ingest.store import Store
    from plano_obs.pricing import Pricer

    settings = settings_from(args, window=window)
    pricer = Pricer(pricing_file=settings.pricing_file, plano_config=settings.config)
    analytics = Analytics()
    store = Store(capacity_calls=settings.capacity, trace_capacity=settings.trace_capacity,
                  kept_trace_capacity=settings.kept_trace_capacity, pricer=pricer,
                  analytics=analytics)
    decode: Any = decode_otlp_json
    if span is not None:
        lo = -(2**63) if span[0] is None else span[0]
        hi = 2**63 if span[1] is None else span[1]

        def decode(obj: Any) -> Any:
            result = decode_otlp_json(obj)
            result.calls = [c for c in result.calls if lo <= c.end_ns < hi]
            return result

    good_lines, bad_lines, first_bad = read_otlp_json_files(files, store, decode)
    if not good_lines:
        where = ", ".join(files)
        why = f"{plural(bad_lines, 'bad line')}, first: {first_bad}" if bad_lines else "empty"
        raise UsageError(f"no OTLP/JSON line to read in {where} ({why})")
    if bad_lines:
        print(f"plano obs export: skipped {plural(bad_lines, 'bad line')} "
              f"(first: {first_bad})", file=sys.stderr)
    wall = time.time()
    # Recorded traffic: windows end at its last call, not at the time of the analysis.
    now = analytics.last_call_time() or wall
    doc = analytics.document(window, now=now, stats=store.stats(), pricing=pricer.info(),
                             source="files: " + ", ".join(files))
    read = f"{plural(store.stats().calls, 'call')} read from {plural(good_lines, 'line')}"
    return _finish(doc, args, gates, received=read)


def _run_listen(
    args: argparse.Namespace,
    window: str,
    gates: list[Gate],
    duration: float | None,
    count: int | None,
    every: float | None,
) -> int:
    from plano_obs.runtime import Runtime

    # The export reads a ledger (--ledger), it never writes one.
    settings = settings_from(args, window=window, ledger="none")
    runtime = Runtime(settings)
    done = threading.Event()
    if count is not None:
        def _count_reached() -> None:
            if runtime.store.stats().calls >= count:
                done.set()

        runtime.store.subscribe(_count_reached)
    try:
        runtime.start()
    except BaseException:
        runtime.stop()
        raise
    source = runtime.source
    quiet = bool(getattr(args, "quiet", False))
    started = time.monotonic()
    next_write = started + every if every else None
    tty = sys.stderr.isatty()
    if not quiet:
        print(f"plano obs export: listening on {runtime.listening}; Ctrl-C to stop and write",
              file=sys.stderr, flush=True)
    last_progress = 0.0

    def document() -> ExportDocument:
        return runtime.analytics.document(
            window, now=time.time(), stats=runtime.store.stats(), pricing=runtime.pricer.info(),
            source=source)

    try:
        with stop_on_signals(done):
            while not done.is_set():
                elapsed = time.monotonic() - started
                if duration is not None and elapsed >= duration:
                    break
                if next_write is not None and time.monotonic() >= next_write:
                    _emit(document(), args.output, ndjson=True)
                    next_write += every  # type: ignore[operator]
                if not quiet and (tty or elapsed - last_progress >= 10):
                    last_progress = elapsed
                    calls = runtime.store.stats().calls
                    line = f"plano obs export: {calls} calls received, {elapsed:.0f}s elapsed"
                    print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr,
                          flush=True)
                waits = [0.5]
                if duration is not None:
                    waits.append(max(0.0, duration - elapsed))
                if next_write is not None:
                    waits.append(max(0.0, next_write - time.monotonic()))
                done.wait(min(waits))
    finally:
        runtime.stop()
        if not quiet and tty:
            print(file=sys.stderr)
    received = plural(runtime.store.stats().calls, "call") + " received"
    return _finish(document(), args, gates, received=received, ndjson=every is not None)
