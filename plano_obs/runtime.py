"""Assembles the headless core: pricer, analytics, store, receiver and optional demo traffic.

The console and the headless export both start from a ``Runtime``; neither imports the other.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from plano_obs.analytics import Analytics
from plano_obs.demo import DemoSender
from plano_obs.ingest.http import HttpReceiver
from plano_obs.ingest.receiver import Receiver
from plano_obs.ingest.store import Store
from plano_obs.pricing import Pricer
from plano_obs.settings import Settings

__all__ = ["Runtime", "tune_gc"]

#: Collector thresholds while ingesting (CPython's defaults are 700, 10, 10).
GC_THRESHOLDS = (100_000, 50, 100)


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

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
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

    def start(self) -> None:
        """Start receiving (raises PortInUseError before anything else runs), then the demo."""
        self.receiver.start()
        if self.http_receiver is not None:
            try:
                self.http_receiver.start()
            except BaseException:
                self.receiver.stop(grace=0)
                raise
        tune_gc()
        # Offline, this only reads the disk cache; online it may fetch. Never blocks.
        self.pricer.start_background_refresh()
        if self.settings.demo:
            wildcard = self.settings.host in ("0.0.0.0", "::", "")
            host = "127.0.0.1" if wildcard else self.receiver.host
            target = f"[{host}]" if ":" in host else host
            target += f":{self.receiver.port}"
            self.demo = DemoSender(target, seed=self.settings.seed,
                                   per_minute=self.settings.demo_rate, clock=self.clock)
            self.demo.start()

    def stop(self) -> None:
        if self.demo is not None:
            self.demo.stop()
        if self.http_receiver is not None:
            self.http_receiver.stop(grace=0.5)
        self.receiver.stop(grace=0.5)
