"""Demo traffic: realistic, deterministic for a seed, and sent as real OTLP/gRPC."""

from __future__ import annotations

import time
from collections import Counter

from plano_obs.demo import DemoSender, DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.ingest.receiver import Receiver
from plano_obs.ingest.store import Store

END_NS = 1_790_000_000 * 10**9


def calls_of(seed: int, minutes: int = 10):
    traffic = DemoTraffic(seed)
    out = []
    for req in traffic.history(end_ns=END_NS, minutes=minutes, per_minute=120):
        result = decode_request(req)
        assert not result.rejected
        out.extend(result.calls)
    return out


def test_same_seed_same_traffic():
    a, b = calls_of(3, minutes=2), calls_of(3, minutes=2)
    assert [(c.trace_id, c.model, c.prompt_tokens) for c in a] == [
        (c.trace_id, c.model, c.prompt_tokens) for c in b]
    assert [c.trace_id for c in calls_of(4, minutes=2)] != [c.trace_id for c in a]


def test_demo_traffic_covers_what_the_console_shows():
    calls = calls_of(7)
    n = len(calls)
    assert 900 < n < 1500
    providers = Counter(c.provider for c in calls)
    assert {"openai", "anthropic", "google", "digitalocean"} <= set(providers)
    assert {c.api_path for c in calls} == {"/v1/chat/completions", "/v1/messages", "/v1/responses"}
    routes = Counter(c.route for c in calls)
    assert None in routes and len(routes) >= 4  # direct traffic and uneven route shares
    assert routes.most_common(1)[0][1] > 2 * min(routes.values())
    flagged = [c for c in calls if c.flagged]
    errors = [c for c in calls if c.is_error]
    assert 0.02 < len(flagged) / n < 0.1 and 0.02 < len(errors) / n < 0.1
    assert all(1 <= len(c.signals.events) <= 3 for c in flagged)
    assert any(c.status_code and c.status_code >= 500 for c in errors)
    assert any(c.status_code and 400 <= c.status_code < 500 for c in errors)
    assert all(c.error_message for c in errors)
    assert {True, False} == {c.is_streaming for c in calls}
    sessions = Counter(c.session_id for c in calls)
    assert max(sessions.values()) >= 3
    assert any(c.model_requested != c.model for c in calls)  # aliases and router targets


def test_sender_delivers_history_and_live_traffic_over_grpc():
    store = Store()
    receiver = Receiver(store, "127.0.0.1", 0)
    receiver.start()
    sender = DemoSender(f"127.0.0.1:{receiver.port}", seed=1, per_minute=600,
                        backfill_minutes=1)
    try:
        sender.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and store.stats().calls < sender.sent_traces + 1:
            time.sleep(0.05)
        sender.stop()
        time.sleep(0.1)
        assert sender.errors == 0
        assert store.stats().calls == sender.sent_traces > 300
    finally:
        receiver.stop(grace=0)


def test_a_second_demo_run_with_the_same_seed_adds_calls_rather_than_retries():
    """A restarted demo (same seed, so the same traffic) sends other trace ids: a receiver
    that saw the first run, or a ledger that kept it, counts every call of the second."""
    store = Store()
    receiver = Receiver(store, "127.0.0.1", 0)
    receiver.start()
    try:
        sent = 0
        for _ in range(2):
            sender = DemoSender(f"127.0.0.1:{receiver.port}", seed=1, per_minute=120,
                                backfill_minutes=1)
            sender.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and store.stats().calls < sent + 100:
                time.sleep(0.05)
            sender.stop()
            time.sleep(0.1)
            assert sender.errors == 0
            sent += sender.sent_traces
            assert store.stats().calls == sent
        assert store.stats().duplicate_spans == 0
    finally:
        receiver.stop(grace=0)
