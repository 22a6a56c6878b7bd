"""What the main screen shows: the view state the keys change, and a frame of data to render."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from plano_obs.analytics.document import (
    ExportDocument,
    FlaggedCall,
    ModelRollup,
    RouteRollup,
    TrendPoint,
)
from plano_obs.ingest.store import IngestStats
from plano_obs.ledger import LedgerStatus
from plano_obs.model import WINDOW_SECONDS, LLMCall
from plano_obs.pricing import PricingInfo
from plano_obs.runtime import Runtime

__all__ = ["Frame", "ViewState", "call_key", "split_key", "take_frame"]

#: Calls read from the store per frame; filters pick the shown rows from these.
RECENT_SCAN = 5_000
RECENT_ROWS = 200
TREND_MINUTES = 30


def call_key(trace_id: str, span_id: str) -> str:
    """The row key of a call."""
    return f"{trace_id}:{span_id}"


def split_key(key: str) -> tuple[str, str]:
    """(trace_id, span_id) of a row key."""
    trace_id, _, span_id = key.partition(":")
    return trace_id, span_id


@dataclass(slots=True)
class ViewState:
    """The choices a user made with the keys; data keeps flowing underneath."""

    window: str = "all"
    only: str | None = None  # "flagged" | "errors"
    text: str = ""
    model_sort: str = "requests"
    route_sort: str = "requests"
    paused: bool = False
    accuracy: bool = False  # cost accuracy shown in the place of routes

    @property
    def narrowed(self) -> bool:
        """True when a filter hides some calls."""
        return bool(self.only or self.text)

    def matches_text(self, fields: Iterable[str | None]) -> bool:
        """True when the text filter is empty or found in one of ``fields``."""
        needle = self.text.strip().casefold()
        return not needle or any(f is not None and needle in f.casefold() for f in fields)

    def shows_call(self, call: LLMCall, since_ns: int | None) -> bool:
        """True when ``call`` passes the window, flagged/errors and text filters."""
        return self.call_filter(since_ns)(call)

    def call_filter(self, since_ns: int | None) -> Callable[[LLMCall], bool]:
        """``shows_call`` with the view's choices read once, for a scan of many calls."""
        only, needle = self.only, self.text.strip().casefold()

        def shows(call: LLMCall) -> bool:
            if since_ns is not None and call.end_ns < since_ns:
                return False
            if only == "flagged" and not call.flagged:
                return False
            if only == "errors" and not call.is_error:
                return False
            return not needle or any(
                f is not None and needle in f.casefold()
                for f in (call.model, call.model_requested, call.route, call.session_id,
                          call.provider))

        return shows

    def shows_flagged(self, flagged: FlaggedCall) -> bool:
        """True when a ranked flagged call passes the errors and text filters."""
        if self.only == "errors" and not (flagged.status_code or 0) >= 400:
            return False
        return self.matches_text(
            (flagged.model, flagged.route, flagged.session_id, flagged.provider))

    def sorted_models(self, models: Sequence[ModelRollup]) -> list[ModelRollup]:
        """Model rollups in the chosen order (most first)."""
        return sorted(models, key=lambda m: _sort_value(self.model_sort, m), reverse=True)

    def sorted_routes(self, routes: Sequence[RouteRollup]) -> list[RouteRollup]:
        """Route rollups in the chosen order (most first)."""
        return sorted(routes, key=lambda r: _sort_value(self.route_sort, r), reverse=True)


def _sort_value(sort: str, row: ModelRollup | RouteRollup) -> float:
    if sort == "cost":
        return row.cost_usd if row.cost_usd is not None else -1.0
    if sort == "p95 latency":
        return row.latency_ms.p95 if row.latency_ms.p95 is not None else -1.0
    if sort == "errors":
        return row.errors
    if sort == "flagged":
        return row.flagged
    return row.requests


@dataclass(frozen=True, slots=True)
class Frame:
    """One consistent read of the runtime, rendered by every panel of the main screen."""

    now: float
    window: str
    doc: ExportDocument
    trend: list[TrendPoint]
    calls: list[LLMCall]  # newest first, bounded by RECENT_SCAN
    stats: IngestStats
    pricing: PricingInfo
    listen_address: str
    pricing_warning: str | None = None  # the latest failed refresh, if any
    http_address: str | None = None  # OTLP/HTTP, when it is on
    ledger: LedgerStatus | None = None  # None: --ledger none
    receiving: bool = True  # False: --no-receiver, a console that only reads the ledger

    @property
    def since_ns(self) -> int | None:
        """First instant of the window (ns), or None for all."""
        seconds = WINDOW_SECONDS[self.window]
        return None if seconds is None else int((self.now - seconds) * 1e9)

    def shown_calls(self, view: ViewState, limit: int = RECENT_ROWS) -> list[LLMCall]:
        """The calls of the recent list, newest first, after the view's filters."""
        since = self.since_ns
        if since is None and not view.narrowed:
            return self.calls[:limit]
        shows, out = view.call_filter(since), []
        for call in self.calls:
            if shows(call):
                out.append(call)
                if len(out) >= limit:
                    break
        return out

    def shown_flagged(self, view: ViewState) -> list[FlaggedCall]:
        """The ranked flagged calls after the view's filters."""
        return [f for f in self.doc.signals.flagged_calls if view.shows_flagged(f)]


def take_frame(runtime: Runtime, window: str, now: float) -> Frame:
    """Read everything the main screen shows, for ``window`` ending at ``now``."""
    stats = runtime.store.stats()
    pricing = runtime.pricer.info()
    doc = runtime.analytics.document(window, now=now, stats=stats, pricing=pricing,
                                     source=runtime.source)
    return Frame(
        now=now,
        window=window,
        doc=doc,
        trend=runtime.analytics.trend(now, minutes=TREND_MINUTES),
        calls=runtime.store.recent_calls(RECENT_SCAN),
        stats=stats,
        pricing=pricing,
        listen_address=runtime.listen_address,
        http_address=runtime.http_address,
        pricing_warning=runtime.pricer.warnings[-1] if runtime.pricer.warnings else None,
        ledger=runtime.ledger_status(),
        receiving=runtime.receiving,
    )
