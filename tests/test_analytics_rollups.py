"""Rollups on small fixtures: exact numbers a user would read off the console or the export."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from plano_obs.analytics import Analytics, UnknownWindowError
from plano_obs.model import CallCost, LLMCall, SignalEvent, Signals

T0 = 1_699_999_980  # unix seconds, aligned to a minute (and so to a 10 s bucket)
_ids = count()


def make_call(at: float, **fields: Any) -> LLMCall:
    """A call ending at unix second ``at``; ``cost_usd`` sets a priced CallCost."""
    n = next(_ids)
    cost = fields.pop("cost_usd", None)
    end_ns = int(at * 1e9)
    fields.setdefault("model", "gpt-4o")
    fields.setdefault("provider", "openai")
    fields.setdefault("status_code", 200)
    call = LLMCall(trace_id=f"{n:032x}", span_id=f"{n:016x}", parent_span_id=None,
                   name="POST /v1/chat/completions", service="plano(llm)",
                   start_ns=end_ns - int((fields.get("duration_ms") or 0) * 1e6), end_ns=end_ns,
                   request_id=f"req-{n}", **fields)
    call.cost = CallCost(cost_usd=cost, source="catalog" if cost is not None else None)
    return call


def flagged(at: float, quality: str, categories: dict[str, tuple[int, int]], cost: float,
            **fields: Any) -> LLMCall:
    events = [SignalEvent(name=f"signal.{cat}.x", type=f"{cat}.{leaf}")
              for cat, leaf in fields.pop("leaves", [])]
    return make_call(at, flagged=True, cost_usd=cost,
                     signals=Signals(quality=quality, quality_score=10.0, turn_count=4,
                                     categories=categories, events=events), **fields)


@pytest.fixture
def analytics() -> Analytics:
    a = Analytics()
    a.add(make_call(T0 + 1, duration_ms=100, ttft_ms=20, prompt_tokens=1000,
                    completion_tokens=80, cached_input_tokens=200, cost_usd=0.01,
                    route="code generation", session_id="s1"))
    a.add(make_call(T0 + 2, duration_ms=300, ttft_ms=100, prompt_tokens=500,
                    completion_tokens=120, reasoning_tokens=40, cost_usd=0.02,
                    route="code generation", session_id="s1"))
    a.add(make_call(T0 + 3, model="claude-sonnet-4", provider="anthropic", duration_ms=1000,
                    prompt_tokens=50, completion_tokens=10, cache_creation_tokens=300,
                    status_code=429, route="summarize", session_id="s2"))
    a.add(make_call(T0 + 4, model="claude-sonnet-4", provider="anthropic", duration_ms=2000,
                    status_code=503, session_id="s2", error_message="upstream overloaded"))
    return a


def test_summary_counts_tokens_cost_and_errors(analytics: Analytics) -> None:
    s = analytics.document(now=T0 + 10).summary
    assert (s.requests, s.errors, s.errors_4xx, s.errors_5xx, s.errors_other) == (4, 2, 1, 1, 0)
    assert s.error_rate == 0.5
    assert (s.input_tokens, s.output_tokens, s.cached_input_tokens) == (1550, 210, 200)
    assert (s.cache_creation_tokens, s.reasoning_tokens) == (300, 40)
    assert s.cost_usd == pytest.approx(0.03)
    assert (s.priced_requests, s.unpriced_requests) == (2, 2)
    # The 503 reported no tokens: no cost for want of usage, not for want of a price.
    assert s.no_usage_requests == 1
    assert s.sessions == 2 and s.current_session == "s2"
    assert s.latency_ms.max == 2000 and s.ttft_ms.max == 100 and s.ttft_ms.count == 2


def test_tokens_per_second_excludes_time_to_first_token(analytics: Analytics) -> None:
    # 80 tok in 80 ms + 120 tok in 200 ms + 10 tok in 1000 ms (no TTFT) = 210 tok / 1.28 s
    assert analytics.document(now=T0 + 10).summary.tokens_per_second == pytest.approx(
        210 / 1.28, rel=1e-3)


def test_unknown_is_null_not_zero() -> None:
    a = Analytics()
    a.add(make_call(T0, duration_ms=None, status_code=None))
    doc = a.document(now=T0)
    s = doc.summary
    assert s.input_tokens is None and s.cost_usd is None and s.latency_ms.p95 is None
    assert s.tokens_per_second is None and s.rejected_spans is None
    assert doc.models[0].cost_usd is None and doc.models[0].unpriced_requests == 1
    empty = Analytics().document("5m", now=T0)
    assert empty.summary.requests == 0 and empty.summary.error_rate is None


def test_models_rollup_keys_on_resolved_model_and_provider(analytics: Analytics) -> None:
    models = {m.model: m for m in analytics.document(now=T0 + 10).models}
    gpt, claude = models["gpt-4o"], models["claude-sonnet-4"]
    assert (gpt.provider, gpt.requests, gpt.errors, gpt.share_pct) == ("openai", 2, 0, 50.0)
    assert gpt.cost_usd == pytest.approx(0.03) and gpt.unpriced_requests == 0
    assert gpt.reasoning_tokens == 40 and gpt.cache_creation_tokens is None
    assert (claude.requests, claude.errors, claude.cost_usd, claude.unpriced_requests) == (
        2, 2, None, 2)
    assert claude.latency_ms.max == 2000 and claude.ttft_ms.p95 is None


def test_routes_share_is_of_routed_calls_and_direct_traffic_is_kept(analytics: Analytics) -> None:
    routes = {r.route: r for r in analytics.document(now=T0 + 10).routes}
    assert routes["code generation"].requests == 2
    assert routes["code generation"].share_pct == pytest.approx(66.67)
    assert routes["summarize"].share_pct == pytest.approx(33.33)
    direct = routes[None]
    assert direct.direct and direct.requests == 1 and direct.share_pct is None
    assert direct.share_of_all_pct == 25.0 and direct.errors == 1
    assert sum(r.requests for r in routes.values()) == 4


def test_sessions_count_turns_models_cost_and_time(analytics: Analytics) -> None:
    sessions = {s.session_id: s for s in analytics.document(now=T0 + 10).sessions}
    s1, s2 = sessions["s1"], sessions["s2"]
    assert (s1.turns, s1.models, s1.errors) == (2, ["gpt-4o"], 0)
    assert s1.cost_usd == pytest.approx(0.03)
    assert s1.first_seen == datetime.fromtimestamp(T0 + 1, UTC)
    assert s1.last_seen == datetime.fromtimestamp(T0 + 2, UTC)
    assert (s2.turns, s2.errors, s2.cost_usd) == (2, 2, None)
    assert [s.session_id for s in analytics.document(now=T0 + 10).sessions] == ["s2", "s1"]


def test_errors_rollup_names_the_most_recent_failure(analytics: Analytics) -> None:
    errors = analytics.document(now=T0 + 10).errors
    last = errors.most_recent
    assert last is not None
    assert (last.status_code, last.reason, last.model) == (503, "Service Unavailable",
                                                          "claude-sonnet-4")
    assert last.error_message == "upstream overloaded" and last.route is None
    assert last.at == datetime.fromtimestamp(T0 + 4, UTC)
    assert errors.by_status == {"429": 1, "503": 1}
    assert errors.by_model == {"claude-sonnet-4": 2}


def test_flagged_calls_are_ranked_worst_quality_then_severity_then_cost() -> None:
    a = Analytics()
    a.add(flagged(T0, "poor", {"execution.loops": (5, 3)}, 0.5))
    a.add(flagged(T0 + 1, "severe", {"interaction.disengagement": (1, 1)}, 0.01,
                  leaves=[("interaction.disengagement", "quit")]))
    a.add(flagged(T0 + 2, "poor", {"execution.loops": (5, 3)}, 0.9))
    a.add(flagged(T0 + 3, "poor", {"interaction.stagnation": (3, 2)}, 5.0))
    a.add(make_call(T0 + 4, signals=Signals(quality="good")))
    sig = a.document(now=T0 + 10).signals
    ranked = [(c.quality, c.max_severity, c.cost_usd) for c in sig.flagged_calls]
    assert ranked == [("severe", 1, 0.01), ("poor", 3, 0.9), ("poor", 3, 0.5), ("poor", 2, 5.0)]
    top = sig.flagged_calls[0]
    assert top.trace_id and top.leaf_types == ["interaction.disengagement.quit"]
    assert top.categories[0].name == "interaction.disengagement"
    assert sig.flagged == 4 and sig.analysed == 5
    assert sig.by_quality == {"severe": 1, "poor": 3, "good": 1}
    assert sig.by_category["execution.loops"].calls == 2
    assert sig.by_category["execution.loops"].instances == 10
    assert sig.by_layer == {"execution": 10, "interaction": 4}
    assert sig.by_type == {"interaction.disengagement.quit": 1}


def test_flagged_list_stays_bounded_but_counts_do_not() -> None:
    a = Analytics(max_flagged=3)
    for i in range(50):
        a.add(flagged(T0 + i, "poor", {"execution.failure": (1, 1)}, cost=i / 100))
    sig = a.document(now=T0 + 60).signals
    assert sig.flagged == 50
    assert [c.cost_usd for c in sig.flagged_calls] == [0.49, 0.48, 0.47]
    windowed = a.document("1m", now=T0 + 60).signals
    assert [c.cost_usd for c in windowed.flagged_calls] == [0.49, 0.48, 0.47]


def test_session_table_is_an_lru_with_an_eviction_count() -> None:
    a = Analytics(max_sessions=2)
    for i, sid in enumerate(["a", "b", "a", "c"]):
        a.add(make_call(T0 + i, session_id=sid))
    doc = a.document(now=T0 + 5)
    assert {s.session_id for s in doc.sessions} == {"a", "c"}  # "b" was least recently seen
    assert doc.summary.sessions == 3


def test_unknown_window_is_refused() -> None:
    with pytest.raises(UnknownWindowError):
        Analytics().document("2m", now=T0)


def test_clear_forgets_everything(analytics: Analytics) -> None:
    analytics.clear()
    assert analytics.document("5m", now=T0 + 10).summary.requests == 0
    assert analytics.document(now=T0 + 10).models == []


def test_nothing_lost_calls_sent_equal_calls_exported_per_model_and_route() -> None:
    rng = random.Random(3)
    a = Analytics()
    sent_model: dict[str, int] = {}
    sent_route: dict[str | None, int] = {}
    for i in range(5000):
        model = rng.choice(["m1", "m2", "m3"])
        route = rng.choice(["r1", "r2", None])
        sent_model[model] = sent_model.get(model, 0) + 1
        sent_route[route] = sent_route.get(route, 0) + 1
        a.add(make_call(T0 + i * 0.5, model=model, route=route, duration_ms=rng.random() * 900))
    for window, now in (("all", T0 + 2500), ("1h", T0 + 2500)):
        doc = a.document(window, now=now)
        assert doc.summary.requests == 5000
        assert {m.model: m.requests for m in doc.models} == sent_model
        assert {r.route: r.requests for r in doc.routes} == sent_route


def test_document_is_safe_while_another_thread_adds() -> None:
    a = Analytics()
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.is_set() and i < 20_000:
            a.add(make_call(T0 + i / 100, duration_ms=50, session_id=f"s{i % 50}"))
            i += 1

    t = threading.Thread(target=feed)
    t.start()
    try:
        for _ in range(30):
            doc = a.document("1m", now=T0 + 100)
            assert sum(m.requests for m in doc.models) == doc.summary.requests
    finally:
        stop.set()
        t.join()


def _mixed_stream(seed: int, n: int) -> list[LLMCall]:
    """Calls over 20 minutes, some late (out of order), some flagged or failed."""
    rng = random.Random(seed)
    calls = []
    for i in range(n):
        at = T0 + i * 0.4 - (rng.random() * 90 if rng.random() < 0.05 else 0)
        status = rng.choice([200] * 12 + [429, 503])
        kw: dict[str, Any] = dict(
            model=rng.choice(["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro", None]),
            route=rng.choice(["code", "summarize", None]), status_code=status,
            duration_ms=rng.random() * 3000, ttft_ms=rng.choice([None, rng.random() * 300]),
            prompt_tokens=rng.randrange(2000), completion_tokens=rng.choice([None, 50]),
            cost_usd=rng.choice([None, 0.001 * rng.randrange(1, 50)]),
            session_id=rng.choice([None, f"s{rng.randrange(300)}"]))
        if rng.random() < 0.04:
            calls.append(flagged(at, rng.choice(["poor", "severe"]),
                                 {"interaction.repair": (rng.randrange(1, 3), 2)},
                                 kw.pop("cost_usd") or 0.0,
                                 leaves=[("interaction", "repair")], **kw))
        else:
            calls.append(make_call(at, **kw))
    return calls


def test_calls_held_between_reads_change_nothing_a_reader_sees(monkeypatch) -> None:
    """Calls wait in a chunk and reach "all", their bucket and open windows whole. What a reader
    sees, mid-stream and at the end, must equal a fresh console's reading of the same calls
    added one at a time (chunks of one call)."""
    import plano_obs.analytics.rollups as rollups

    calls = _mixed_stream(5, 3000)
    windows = ("all", "1m", "5m", "15m", "1h")
    # (calls added, now): reads in the middle, then at the end
    reads = [(1701, T0 + 700), (1761, T0 + 710), (3000, T0 + 1300)]

    def read(a: Analytics, now: float) -> list:
        return [a.document(w, now=now).model_dump() for w in windows] + [
            [p.model_dump() for p in a.trend(now, minutes=25)]]

    live, added = Analytics(), 0
    seen = []
    for n, now in reads:
        for call in calls[added:n]:
            live.add(call)
        added = n
        seen.append(read(live, now))

    monkeypatch.setattr(rollups, "_CHUNK_CALLS", 1)
    for (n, now), got in zip(reads, seen, strict=True):
        fresh = Analytics()
        for call in calls[:n]:
            fresh.add(call)
        assert got == read(fresh, now)
    assert seen[-1][0]["summary"]["requests"] == 3000


def test_model_route_and_signal_tables_stay_capped_with_the_rest_under_other() -> None:
    from plano_obs.analytics._aggregate import MAX_KEYS

    a = Analytics()
    n = MAX_KEYS + 7
    for i in range(n):
        a.add(flagged(T0 + i * 0.01, "poor", {f"cat{i}.x": (1, 1)}, 0.01,
                      model=f"m{i}", route=f"r{i}"))
    for window in ("all", "1h"):
        doc = a.document(window, now=T0 + 60)
        models = {m.model: m.requests for m in doc.models}
        routes = {r.route: r.requests for r in doc.routes}
        assert sum(models.values()) == sum(routes.values()) == n
        if window == "all":  # the all-time table is capped; windows sum capped buckets
            assert len(models) == MAX_KEYS + 1 and models["(other)"] == 7
            assert len(routes) == MAX_KEYS + 1 and routes["(other)"] == 7
            assert doc.signals.by_category["(other)"].calls == 7
        assert sum(c.calls for c in doc.signals.by_category.values()) == n


def test_the_session_table_keeps_the_most_recently_seen_across_many_calls() -> None:
    rng = random.Random(9)
    a = Analytics(max_sessions=300, max_sessions_listed=300)  # more than a chunk brings
    last_seen: dict[str, int] = {}
    for i in range(4000):
        sid = f"s{rng.randrange(400)}"
        last_seen[sid] = i
        a.add(make_call(T0 + i * 0.01, session_id=sid))
    doc = a.document(now=T0 + 60)
    newest = sorted(last_seen, key=last_seen.__getitem__)[-300:]
    assert {s.session_id for s in doc.sessions} == set(newest)
    assert doc.summary.requests == 4000
