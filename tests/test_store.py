"""The store: bounded, thread-safe, and never silent about what it drops."""

from __future__ import annotations

import threading

import pytest

from plano_obs.ingest.decode import decode_request
from plano_obs.ingest.store import Store
from plano_obs.model import FLAG_MARKER, CallCost

from otlp_fixtures import T0, llm_attrs, request, span


def trace(i: int, *, flagged=False, status=200):
    tid = (i + 1).to_bytes(16, "big")
    root = span({"http.method": "POST"}, name="POST /v1/chat/completions", trace_id=tid,
                span_id=(i * 4 + 1).to_bytes(8, "big"), start_ns=T0 + i * 1_000_000)
    name = "POST /v1/chat/completions gpt-4o-mini" + (f" {FLAG_MARKER}" if flagged else "")
    llm = span(llm_attrs(**{"http.status_code": status}), name=name, trace_id=tid,
               span_id=(i * 4 + 2).to_bytes(8, "big"), parent=root.span_id,
               start_ns=T0 + i * 1_000_000 + 10)
    return decode_request(request(root, llm))


def test_calls_beyond_capacity_are_evicted_and_counted():
    store = Store(capacity_calls=100)
    for i in range(250):
        store.ingest(trace(i))
    stats = store.stats()
    assert stats.calls == 250
    assert stats.calls_held == 100
    assert stats.evicted_calls == 150
    newest = store.recent_calls(3)
    assert [c.trace_id for c in newest] == [(i + 1).to_bytes(16, "big").hex()
                                             for i in (249, 248, 247)]


def test_flagged_and_failed_traces_outlive_ordinary_traffic():
    store = Store(trace_capacity=10, kept_trace_capacity=10)
    store.ingest(trace(0, flagged=True))
    store.ingest(trace(1, status=503))
    for i in range(2, 200):
        store.ingest(trace(i))
    flagged_trace = (1).to_bytes(16, "big").hex()
    failed_trace = (2).to_bytes(16, "big").hex()
    assert len(store.trace(flagged_trace)) == 2
    assert len(store.trace(failed_trace)) == 2
    assert store.trace((5).to_bytes(16, "big").hex()) == []  # ordinary, scrolled away
    assert store.stats().evicted_traces == 188


def test_kept_traces_are_bounded_too():
    store = Store(kept_trace_capacity=10)
    for i in range(30):
        store.ingest(trace(i, flagged=True))
    assert store.trace((1).to_bytes(16, "big").hex()) == []
    assert len(store.trace((30).to_bytes(16, "big").hex())) == 2
    assert store.stats().evicted_traces == 20


def test_a_span_sent_twice_counts_once():
    store = Store()
    batch = trace(0)
    assert store.ingest(batch) == 1
    assert store.ingest(trace(0)) == 0
    stats = store.stats()
    assert (stats.calls, stats.accepted_spans, stats.duplicate_spans) == (1, 2, 2)


def test_ingest_prices_each_new_call_and_feeds_analytics_once():
    priced, added = [], []

    class Pricer:
        def price(self, call):
            priced.append(call.span_id)
            return CallCost(cost_usd=0.5, source="catalog")

    class Analytics:
        def add(self, call):
            added.append(call.cost.cost_usd)

        def clear(self):
            added.clear()

    store = Store(pricer=Pricer(), analytics=Analytics())
    store.ingest(trace(0))
    store.ingest(trace(0))
    assert len(priced) == 1 and added == [0.5]
    assert store.recent_calls()[0].cost_usd == 0.5


def test_rejections_are_counted_with_the_last_reason():
    store = Store()
    store.ingest(decode_request(request(span(llm_attrs(**{"llm.usage.prompt_tokens": -1})))))
    stats = store.stats()
    assert stats.rejected_spans == 1
    assert "negative token count" in stats.last_rejection


def test_clear_forgets_everything():
    store = Store()
    store.ingest(trace(0, flagged=True))
    store.clear()
    stats = store.stats()
    assert (stats.calls, stats.calls_held, stats.accepted_spans) == (0, 0, 0)
    assert store.recent_calls() == []
    # the same spans can arrive again after a clear
    assert store.ingest(trace(0)) == 1


def test_subscribers_hear_about_each_batch():
    store = Store()
    heard = []
    store.subscribe(lambda: heard.append(1))
    store.ingest(trace(0))
    store.ingest(trace(0))  # duplicates only: nothing new to show
    assert heard == [1]


def test_concurrent_ingest_loses_nothing():
    store = Store(capacity_calls=10_000)

    def worker(k):
        for i in range(200):
            store.ingest(trace(k * 1000 + i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.stats().calls == 800


def test_trace_decodes_context_span_attributes_on_demand():
    store = Store()
    store.ingest(trace(0))
    spans = store.trace((1).to_bytes(16, "big").hex())
    assert spans[0].attributes == {"http.method": "POST"}
    assert spans[1].is_llm and spans[1].attributes["llm.model"] == "gpt-4o-mini-2024-07-18"
    calls = store.trace_calls(spans[0].trace_id)
    assert len(calls) == 1


def test_capacities_must_be_positive():
    with pytest.raises(ValueError):
        Store(capacity_calls=0)


def test_duplicate_detection_is_bounded_and_forgets_the_oldest_first():
    store = Store(dedup_capacity=10)
    for i in range(20):  # 40 spans: only the last 10 keys are remembered
        store.ingest(trace(i))
    assert store.ingest(trace(19)) == 0  # recent: a retry
    assert store.ingest(trace(0)) == 1  # long gone from the window: counted again


def test_unsubscribed_callbacks_are_not_called():
    store = Store()
    heard = []

    def listener():
        heard.append(1)

    store.subscribe(listener)
    store.unsubscribe(listener)
    store.unsubscribe(listener)  # twice is fine
    store.ingest(trace(0))
    assert heard == []
