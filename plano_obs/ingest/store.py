"""The in-memory store: recent calls, span trees, and the counters that say what was dropped.

Thread-safe and bounded. Evictions are counted, never silent. Flagged or failed traces are kept in
a second, separately bounded area, so they can be drilled into after ordinary traffic scrolled by.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from plano_obs.ingest.decode import decode_span_attributes
from plano_obs.model import CallCost, DecodeResult, LLMCall, SpanRecord

__all__ = ["IngestStats", "Store", "Unavailable"]

_Item = TypeVar("_Item", LLMCall, SpanRecord)


class _Pricer(Protocol):
    def price(self, call: LLMCall) -> CallCost: ...


class _Analytics(Protocol):
    def add(self, call: LLMCall) -> None: ...

    def clear(self) -> None: ...


class Unavailable(RuntimeError):
    """Calls cannot be kept right now (the shared ledger is unreachable): the exporter is
    told to retry (gRPC UNAVAILABLE, HTTP 503) and nothing of the request is kept."""


class _Ledger(Protocol):
    """Where calls are kept on disk (``plano_obs.ledger``): written before the reply."""

    def write(self, calls: Sequence[LLMCall], spans: Sequence[SpanRecord | LLMCall]) -> None: ...

    def get_call(self, trace_id: str, span_id: str) -> LLMCall | None: ...

    def trace(self, trace_id: str) -> list[SpanRecord]: ...

    def trace_calls(self, trace_id: str) -> list[LLMCall]: ...


@dataclass(frozen=True, slots=True)
class IngestStats:
    """What the receiver took in, and everything it could not keep."""

    received_spans: int = 0
    accepted_spans: int = 0
    calls: int = 0  # LLM calls ingested since start (or the last clear)
    calls_held: int = 0  # LLM calls still held for the recent list and drilldown
    duplicate_spans: int = 0
    rejected_spans: int = 0
    refused_requests: int = 0
    refused_spans: int = 0
    evicted_calls: int = 0
    evicted_traces: int = 0
    last_rejection: str | None = None
    last_refusal: str | None = None
    started_at: float = 0.0


def _span_of(call: LLMCall) -> SpanRecord:
    """An LLM call as a node of its trace's span tree."""
    return SpanRecord(
        trace_id=call.trace_id,
        span_id=call.span_id,
        parent_span_id=call.parent_span_id,
        name=call.name,
        service=call.service,
        start_ns=call.start_ns,
        end_ns=call.end_ns,
        status=call.span_status,
        status_message=call.span_status_message,
        attributes=call.attributes,
        is_llm=True,
    )


class Store:
    """Holds calls and traces in memory, bounded, and feeds pricing and analytics on ingest."""

    def __init__(
        self,
        *,
        capacity_calls: int = 100_000,
        trace_capacity: int = 5_000,
        kept_trace_capacity: int = 2_000,
        dedup_capacity: int = 262_144,
        pricer: _Pricer | None = None,
        analytics: _Analytics | None = None,
        ledger: _Ledger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if min(capacity_calls, trace_capacity, kept_trace_capacity, dedup_capacity) < 1:
            raise ValueError("store capacities must be positive")
        self.capacity_calls = capacity_calls
        self.trace_capacity = trace_capacity
        self.kept_trace_capacity = kept_trace_capacity
        self.dedup_capacity = dedup_capacity
        self.pricer = pricer
        self.analytics = analytics
        self.ledger = ledger
        self.clock = clock
        self.lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._reset()

    def _reset(self) -> None:
        self._calls: deque[LLMCall] = deque()
        self._by_key: dict[tuple[str, str], LLMCall] = {}
        # Span keys (trace_id+span_id) seen lately, for dropping exporter retries; oldest first.
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        # A trace's spans: context spans as SpanRecords, its LLM calls as the LLMCalls themselves.
        self._traces: OrderedDict[str, list[SpanRecord | LLMCall]] = OrderedDict()
        self._kept: OrderedDict[str, list[SpanRecord | LLMCall]] = OrderedDict()
        self._important: set[str] = set()  # trace ids with a flagged or failed call
        # Spans of kept traces to write to the ledger with the batch being ingested.
        self._persist: list[SpanRecord | LLMCall] | None = None
        self._stats: dict[str, Any] = dict(
            received_spans=0, accepted_spans=0, calls=0, duplicate_spans=0, rejected_spans=0,
            refused_requests=0, refused_spans=0, evicted_calls=0, evicted_traces=0,
            last_rejection=None, last_refusal=None, started_at=self.clock(),
        )

    # -- listeners --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from the ingest thread) after each ingested batch."""
        self._listeners.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        try:
            self._listeners.remove(callback)
        except ValueError:
            pass

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    # -- ingest -----------------------------------------------------------------------------

    def ingest(self, result: DecodeResult) -> int:
        """Add a decoded batch; returns the number of new LLM calls.

        With a ledger, the batch's new calls (and the spans of flagged or failed traces) are
        written in one transaction before this returns, so before the exporter is answered.
        """
        new_calls = 0
        with self.lock:
            ledger = self.ledger
            written: list[LLMCall] = []
            self._persist = [] if ledger is not None else None
            stats = self._stats
            stats["received_spans"] += len(result.calls) + len(result.spans) + len(
                result.rejected)
            if result.rejected:
                stats["rejected_spans"] += len(result.rejected)
                r = result.rejected[-1]
                stats["last_rejection"] = r.reason
            for call in self._unseen(result.calls):
                self._add_call(call)
                self._add_span(call)
                new_calls += 1
                if ledger is not None:
                    written.append(call)
            accepted = new_calls
            for span in self._unseen(result.spans):
                self._add_span(span)
                accepted += 1
            stats["accepted_spans"] += accepted
            stats["duplicate_spans"] += len(result.calls) + len(result.spans) - accepted
            seen, seen_order = self._seen, self._seen_order
            while len(seen_order) > self.dedup_capacity:
                seen.discard(seen_order.popleft())
            if ledger is not None and (written or self._persist):
                try:
                    ledger.write(written, self._persist or ())
                except Unavailable:
                    # Not acknowledged: forget the batch, so the exporter's retry is new.
                    self._persist = None
                    self._forget(result, written)
                    stats["received_spans"] -= len(result.calls) + len(result.spans) + len(
                        result.rejected)
                    stats["accepted_spans"] -= accepted
                    stats["duplicate_spans"] -= len(result.calls) + len(result.spans) - accepted
                    raise
            self._persist = None
        if new_calls or result.rejected:
            self._notify()
        return new_calls

    def _forget(self, result: DecodeResult, written: list[LLMCall]) -> None:
        """Undo what a batch that could not be kept added (its spans seen, its calls held)."""
        for call in result.calls:
            self._seen.discard(call.trace_id + call.span_id)
        for span in result.spans:
            self._seen.discard(span.trace_id + span.span_id)
        mine = {id(c) for c in written}
        while self._calls and id(self._calls[-1]) in mine:
            old = self._calls.pop()
            self._by_key.pop((old.trace_id, old.span_id), None)
        self._stats["calls"] -= len(written)

    def hold(self, calls: Sequence[LLMCall]) -> None:
        """Hold calls other processes wrote (read back from a shared ledger), newest last,
        unless already held."""
        with self.lock:
            for call in calls:
                key = (call.trace_id, call.span_id)
                if key in self._by_key:
                    continue
                self._calls.append(call)
                self._by_key[key] = call
                self._seen.add(call.trace_id + call.span_id)
                self._seen_order.append(call.trace_id + call.span_id)
            while len(self._calls) > self.capacity_calls:
                old = self._calls.popleft()
                self._by_key.pop((old.trace_id, old.span_id), None)
                self._stats["evicted_calls"] += 1
        self._notify()

    def _unseen(self, items: list[_Item]) -> Iterator[_Item]:
        """The spans (or calls) not seen before; an exporter's retry resends the same ones."""
        seen, seen_order = self._seen, self._seen_order
        for item in items:
            key = item.trace_id + item.span_id
            if key not in seen:
                seen.add(key)
                seen_order.append(key)
                yield item

    def _add_call(self, call: LLMCall) -> None:
        if self.pricer is not None:
            call.cost = self.pricer.price(call)
        if self.analytics is not None:
            self.analytics.add(call)
        self._calls.append(call)
        self._by_key[(call.trace_id, call.span_id)] = call
        self._stats["calls"] += 1
        if call.flagged or call.is_error:
            self._important.add(call.trace_id)
            spans = self._traces.pop(call.trace_id, None)
            if spans is not None:
                self._keep(call.trace_id, spans)
                if self._persist is not None:
                    self._persist.extend(spans)
        while len(self._calls) > self.capacity_calls:
            old = self._calls.popleft()
            del self._by_key[(old.trace_id, old.span_id)]
            self._stats["evicted_calls"] += 1

    def _add_span(self, span: SpanRecord | LLMCall) -> None:
        trace_id = span.trace_id
        kept = self._kept.get(trace_id)
        if kept is not None:
            kept.append(span)
            if self._persist is not None:
                self._persist.append(span)
            return
        if trace_id in self._important:
            self._keep(trace_id, [span])
            if self._persist is not None:
                self._persist.append(span)
            return
        spans = self._traces.get(trace_id)
        if spans is None:
            self._traces[trace_id] = [span]
            while len(self._traces) > self.trace_capacity:
                self._traces.popitem(last=False)
                self._stats["evicted_traces"] += 1
        else:
            spans.append(span)

    def _keep(self, trace_id: str, spans: list[SpanRecord | LLMCall]) -> None:
        kept = self._kept.get(trace_id)
        if kept is None:
            self._kept[trace_id] = spans
        else:
            kept.extend(spans)
        while len(self._kept) > self.kept_trace_capacity:
            old_id, _ = self._kept.popitem(last=False)
            self._important.discard(old_id)
            self._stats["evicted_traces"] += 1

    def seed(self, calls: Sequence[LLMCall], keys: Sequence[str]) -> None:
        """Hold calls read back from a ledger (oldest first), already priced and counted, and
        remember span keys (trace id + span id) an exporter may still retry."""
        with self.lock:
            for call in calls:
                self._calls.append(call)
                self._by_key[(call.trace_id, call.span_id)] = call
            while len(self._calls) > self.capacity_calls:
                old = self._calls.popleft()
                self._by_key.pop((old.trace_id, old.span_id), None)
            seen, seen_order = self._seen, self._seen_order
            for key in keys[-self.dedup_capacity:]:
                if key not in seen:
                    seen.add(key)
                    seen_order.append(key)

    def count_rejected(self, n: int, reason: str) -> None:
        """Count spans refused before decoding (e.g. a request that is not OTLP)."""
        with self.lock:
            self._stats["received_spans"] += n
            self._stats["rejected_spans"] += n
            self._stats["last_rejection"] = reason

    def count_refused(self, reason: str, spans: int = 0) -> None:
        """Count a request the receiver refused (overload, oversize)."""
        with self.lock:
            self._stats["refused_requests"] += 1
            self._stats["refused_spans"] += spans
            self._stats["last_refusal"] = reason
        self._notify()

    # -- reading ----------------------------------------------------------------------------

    def stats(self) -> IngestStats:
        with self.lock:
            return IngestStats(calls_held=len(self._calls), **self._stats)

    def recent_calls(self, limit: int = 200) -> list[LLMCall]:
        """The newest held calls, newest first."""
        with self.lock:
            n = min(limit, len(self._calls))
            return [self._calls[-1 - i] for i in range(n)]

    def calls_snapshot(self) -> list[LLMCall]:
        """Every held call, oldest first."""
        with self.lock:
            return list(self._calls)

    def get_call(self, trace_id: str, span_id: str) -> LLMCall | None:
        """A call by its ids: from memory, else (and for the detail of a flagged or failed
        call read back from it) from the ledger."""
        with self.lock:
            call = self._by_key.get((trace_id, span_id))
        ledger = self.ledger
        if ledger is not None and (call is None or (call.flagged or call.is_error) and
                                   not call.attributes):
            stored = ledger.get_call(trace_id, span_id)
            if stored is not None:
                return stored
        return call

    def trace_calls(self, trace_id: str) -> list[LLMCall]:
        """The LLM calls of one trace, in start order (from the ledger when not held)."""
        with self.lock:
            spans = self._kept.get(trace_id) or self._traces.get(trace_id) or []
            calls = [s for s in spans if isinstance(s, LLMCall)]
        if not calls and self.ledger is not None:
            calls = self.ledger.trace_calls(trace_id)
        return sorted(calls, key=lambda c: c.start_ns)

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """Every span held for a trace, in start order, with attributes decoded (from the
        ledger when the trace is not held)."""
        with self.lock:
            spans: list[SpanRecord | LLMCall] = list(
                self._kept.get(trace_id) or self._traces.get(trace_id) or [])
        if not spans and self.ledger is not None:
            spans = [*self.ledger.trace(trace_id)]
            if not any(isinstance(s, SpanRecord) and s.is_llm for s in spans):
                spans += self.ledger.trace_calls(trace_id)
        out = []
        for item in spans:
            if isinstance(item, LLMCall):
                out.append(_span_of(item))
                continue
            span = item
            if span.raw is not None:
                try:
                    attributes, events = decode_span_attributes(span.raw)
                except Exception as e:  # noqa: BLE001 - a damaged span must not break the view
                    attributes, events = {"plano_obs.decode_error": str(e)}, []
                span = replace(span, attributes=attributes, events=events, raw=None)
            out.append(span)
        out.sort(key=lambda s: s.start_ns)
        return out

    def clear(self) -> None:
        """Forget every call, trace and counter (analytics too)."""
        with self.lock:
            self._reset()
            if self.analytics is not None:
                self.analytics.clear()
        self._notify()
