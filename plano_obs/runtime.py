"""Assembles the headless core: pricer, analytics, store, ledger, receivers and demo traffic.

The console and the headless export both start from a ``Runtime``; neither imports the other.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

from plano_obs.analytics import Analytics
from plano_obs.demo import DemoSender
from plano_obs.ingest.http import HttpReceiver
from plano_obs.ingest.receiver import Receiver
from plano_obs.ingest.store import Store
from plano_obs.ledger import Ledger, LedgerError, LedgerLink, LedgerStatus, open_for_reading
from plano_obs.locations import redact
from plano_obs.model import WINDOW_SECONDS, LLMCall
from plano_obs.pricing import Pricer
from plano_obs.settings import Settings

__all__ = ["REPLAY_CALLS", "Runtime", "WindowCalls", "tune_gc"]

#: Collector thresholds while ingesting (CPython's defaults are 700, 10, 10).
GC_THRESHOLDS = (100_000, 50, 100)
#: What a start reads back from the ledger: the newest calls for the lists and drilldown, span
#: keys an exporter may retry after a restart, the newest flagged and failed calls for triage.
RECENT_CALLS_SEEDED = 5_000
RETRIED_KEYS_SEEDED = 20_000
FLAGGED_SEEDED = 2_000
ERRORS_SEEDED = 200
#: The most calls the console replays for a what-if (the newest of its window): a million
#: calls replay in seconds and fit in memory; a 30-day ledger may hold many more.
REPLAY_CALLS = 1_000_000
#: Minutes of history the demo sends first, to a console that has none.
DEMO_BACKFILL_MINUTES = 20


@dataclass(frozen=True, slots=True)
class WindowCalls:
    """The calls of a window, as the console's what-if replays them."""

    calls: list[LLMCall]  # oldest first
    in_window: int  # every call the window holds (more than ``calls`` when capped)
    source: str  # where they were read: the ledger's path, or memory
    evicted: int = 0  # memory only: calls the store no longer holds


def tune_gc() -> None:
    """Make the cyclic garbage collector run less often in a process that ingests spans.

    Ingest allocates many long-lived, acyclic objects (reference counting frees them); with the
    default thresholds the collector's repeated passes over an ever larger heap cost more than
    decoding (benchmarks/ingest.py shows the difference). What was loaded at start-up is frozen
    out of its passes entirely.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Runtime:
    """Everything ``plano obs`` runs besides the UI, wired together."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time,
                 views: bool = True) -> None:
        self.settings = settings
        self.clock = clock
        #: Whether anything shows the analytics (not ``plano obs receive``): a shared ledger
        #: is then read back into them.
        self.views = views
        # Reads the pricing file and Plano config now, so a bad one fails before any screen.
        self.pricer = Pricer(pricing_file=settings.pricing_file, plano_config=settings.config,
                             offline=settings.offline)
        self.analytics = Analytics()
        self.store = Store(
            capacity_calls=settings.capacity,
            trace_capacity=settings.trace_capacity,
            kept_trace_capacity=settings.kept_trace_capacity,
            pricer=self.pricer,
            analytics=self.analytics,
            clock=clock,
        )
        self.receiver = Receiver(
            self.store,
            settings.host,
            settings.port,
            max_message_bytes=settings.max_message_bytes,
            max_pending_bytes=settings.max_pending_bytes,
        )
        self.http_receiver: HttpReceiver | None = None
        if not settings.no_http:
            self.http_receiver = HttpReceiver(
                self.store,
                settings.host,
                settings.http_port,
                max_message_bytes=settings.max_message_bytes,
                max_pending_bytes=settings.max_pending_bytes,
                cors_origins=settings.cors_origin,
            )
        self.demo: DemoSender | None = None
        self.ledger: LedgerLink | None = None
        #: Why calls are not kept on disk although a ledger was asked for (memory-only mode).
        self.ledger_error: str | None = None

    @property
    def listen_address(self) -> str:
        """Where OTLP/gRPC is received (``host:port``)."""
        return self.receiver.address

    @property
    def http_address(self) -> str | None:
        """Where OTLP/HTTP is received (``host:port``), or None when it is off."""
        return self.http_receiver.address if self.http_receiver is not None else None

    @property
    def listening(self) -> str:
        """Where the receivers listen, for a person: each address with its protocol."""
        text = f"{self.listen_address} (OTLP/gRPC)"
        if self.http_address is not None:
            text += f" and {self.http_address} (OTLP/HTTP)"
        return text

    @property
    def source(self) -> str:
        """The receivers as URLs, for the export document's ``source``."""
        urls = [f"otlp-grpc://{self.listen_address}"]
        if self.http_address is not None:
            urls.append(f"otlp-http://{self.http_address}")
        return ", ".join(urls)

    def open_ledger(self) -> None:
        """Open the ledger and bring back what it holds; a file that cannot be used leaves the
        runtime in memory only, with the reason in ``ledger_error``."""
        path = self.settings.ledger_path
        if path is None or self.ledger is not None:
            return
        try:
            ledger = Ledger(path, clock=self.clock)
        except LedgerError as e:
            self.ledger_error = str(e)
            return
        # A console that only reads never prunes: the receivers keep the ledger's retention.
        reads_only = self.settings.no_receiver
        link = LedgerLink(ledger, retain_s=None if reads_only else self.settings.retain_seconds,
                          max_bytes=None if reads_only else self.settings.max_ledger_bytes,
                          pricer=self.pricer, clock=self.clock)
        link.attach(self.store, self.analytics,
                    recent_calls=min(self.settings.capacity, RECENT_CALLS_SEEDED),
                    recent_keys=RETRIED_KEYS_SEEDED, flagged=FLAGGED_SEEDED,
                    errors=ERRORS_SEEDED)
        if link.error is not None:
            self.ledger_error = link.error
            ledger.close()
            return
        if link.fleet:
            # Views come from what the database holds (polled), this process's calls included.
            self.store.analytics = None
            link.sync_interval_s = self.settings.poll_ms / 1000
            link.views = self.views
        self.store.ledger = link
        self.ledger = link

    @property
    def receiving(self) -> bool:
        """Whether this process receives OTLP (not with --no-receiver)."""
        return not self.settings.no_receiver

    def ledger_status(self) -> LedgerStatus | None:
        """The ledger's path, calls and time span (or why it is not used); None without one."""
        if self.ledger is not None:
            return self.ledger.status()
        path = self.settings.ledger_path
        if path is None or self.ledger_error is None:  # none asked for, or not opened yet
            return None
        return LedgerStatus(redact(path), 0, None, None, 0, self.ledger_error)

    def window_calls(self, window: str, now: float, *, limit: int = REPLAY_CALLS) -> WindowCalls:
        """The calls that ended in the last ``window`` before ``now`` (``all``: every call held),
        at most the newest ``limit``: read from the ledger when there is one in use (in its own
        read-only connection, so a caller's thread leaves nothing open), else from memory."""
        seconds = WINDOW_SECONDS[window]
        now_ns = int(now * 1e9)
        lo = None if seconds is None else now_ns - seconds * 1_000_000_000
        link = self.ledger
        if link is not None and link.error is None:
            try:
                reader = open_for_reading(link.ledger.location)
                try:
                    calls, total = reader.newest_calls_in(lo, now_ns + 1, limit)
                finally:
                    reader.close()
                return WindowCalls(calls, total, f"ledger {link.ledger.path}")
            except LedgerError:
                pass  # the ledger failed since: what memory holds is still worth replaying
        held = [c for c in self.store.calls_snapshot()
                if (lo is None or c.end_ns >= lo) and c.end_ns <= now_ns]
        return WindowCalls(held[-limit:], len(held), "memory",
                           self.store.stats().evicted_calls)

    def priced_models(self) -> set[str]:
        """The catalog entries the calls held (in memory and in the ledger) were priced from."""
        entries = {c.cost.catalog_entry for c in self.store.calls_snapshot()
                   if c.cost is not None and c.cost.catalog_entry}
        link = self.ledger
        if link is not None and link.error is None:
            try:
                reader = open_for_reading(link.ledger.location)
                try:
                    entries |= reader.catalog_entries()
                finally:
                    reader.close()
            except LedgerError:
                pass
        return entries

    def start(self) -> None:
        """Open the ledger, start receiving (raises PortInUseError before anything else runs),
        then the ledger's background work and the demo."""
        self.open_ledger()
        if not self.receiving:
            if self.ledger is not None:
                self.ledger.start()
            self.pricer.start_background_refresh()
            return
        try:
            self.receiver.start()
            if self.http_receiver is not None:
                try:
                    self.http_receiver.start()
                except BaseException:
                    self.receiver.stop(grace=0)
                    raise
        except BaseException:
            if self.ledger is not None:
                self.ledger.stop()
            raise
        if self.ledger is not None:
            self.ledger.start()
        tune_gc()
        # Offline, this only reads the disk cache; online it may fetch. Never blocks.
        self.pricer.start_background_refresh()
        if self.settings.demo:
            wildcard = self.settings.host in ("0.0.0.0", "::", "")
            host = "127.0.0.1" if wildcard else self.receiver.host
            target = f"[{host}]" if ":" in host else host
            target += f":{self.receiver.port}"
            self.demo = DemoSender(target, seed=self.settings.seed,
                                   per_minute=self.settings.demo_rate, clock=self.clock,
                                   backfill_minutes=self._demo_backfill_minutes())
            self.demo.start()

    def _demo_backfill_minutes(self) -> int:
        """The demo's history: 20 minutes, but never over what the ledger already holds (a
        restarted demo goes on from its last call instead of doubling the last minutes)."""
        status = self.ledger.status() if self.ledger is not None else None
        if status is None or status.last_ns is None:
            return DEMO_BACKFILL_MINUTES
        gap_min = (self.clock() - status.last_ns / 1e9) / 60
        return max(0, min(DEMO_BACKFILL_MINUTES, int(gap_min)))

    def stop(self) -> None:
        """Stop the demo and the receivers, then write what the ledger has yet to derive."""
        if self.demo is not None:
            self.demo.stop()
        if self.receiving:
            if self.http_receiver is not None:
                self.http_receiver.stop(grace=0.5)
            self.receiver.stop(grace=0.5)
        if self.ledger is not None:
            self.ledger.stop()
