"""Aggregates: any sequence of adds, merges and subtracts equals a fresh computation, exactly."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_analytics_rollups import T0, make_call

from plano_obs.analytics import _aggregate
from plano_obs.analytics._aggregate import Aggregate, CallFacts
from plano_obs.model import CallCost, LLMCall, SignalEvent, Signals

T0_NS = 1_700_000_000 * 10**9

_signals = st.builds(
    Signals,
    quality=st.sampled_from([None, "poor", "severe", "good"]),
    categories=st.dictionaries(st.sampled_from(["execution.loops", "interaction.stagnation",
                                                "environment.exhaustion"]),
                               st.tuples(st.integers(1, 5), st.integers(1, 3)), max_size=2),
    events=st.lists(st.builds(SignalEvent, name=st.sampled_from(["signal.a.b.c", "signal.x"]),
                              type=st.sampled_from([None, "execution.loops.retry"])),
                    max_size=2),
)


@st.composite
def calls(draw: st.DrawFn) -> LLMCall:
    """A call from a small universe, so that keys, sessions and bins collide often."""
    end_ns = T0_NS + draw(st.integers(0, 10**12))
    duration = draw(st.one_of(st.none(), st.floats(0, 60_000, allow_nan=False)))
    call = LLMCall(
        trace_id="t", span_id=str(end_ns), parent_span_id=None, name="POST /v1/chat/completions",
        service="plano(llm)", start_ns=end_ns, end_ns=end_ns, request_id="r",
        model=draw(st.sampled_from([None, "gpt-4o", "claude-sonnet-4", "o4-mini"])),
        provider=draw(st.sampled_from([None, "openai", "anthropic"])),
        route=draw(st.sampled_from([None, "code", "chat"])),
        session_id=draw(st.sampled_from([None, "s1", "s2", "s3", "s4"])),
        status_code=draw(st.sampled_from([None, 200, 200, 429, 503])),
        span_status=draw(st.sampled_from(["unset", "error"])),
        duration_ms=duration,
        ttft_ms=draw(st.one_of(st.none(), st.floats(0, 5_000, allow_nan=False))),
        prompt_tokens=draw(st.one_of(st.none(), st.integers(0, 100_000))),
        completion_tokens=draw(st.one_of(st.none(), st.integers(0, 10_000))),
        cached_input_tokens=draw(st.one_of(st.none(), st.integers(0, 1_000))),
        reasoning_tokens=draw(st.one_of(st.none(), st.integers(0, 1_000))),
        flagged=draw(st.booleans()),
        signals=draw(st.one_of(st.none(), _signals)),
    )
    cost = draw(st.one_of(st.none(), st.floats(0, 3, allow_nan=False)))
    call.cost = CallCost(cost_usd=cost, source=None if cost is None else "catalog")
    return call


def of(items: list[LLMCall], **policy: Any) -> Aggregate:
    """A fresh aggregate of ``items``, added one by one."""
    agg = Aggregate(**policy) if policy else Aggregate.unbounded()
    for c in items:
        agg.add(c, CallFacts.of(c))
    return agg


def canonical(agg: Aggregate, *, session_times: bool = True) -> Any:
    """``agg``'s state with every table in a fixed order."""
    state = json.loads(json.dumps(agg.to_state()))
    for name in ("models", "routes"):
        state[name].sort(key=json.dumps)
    for name in ("errors_by_status", "by_quality", "category_calls", "category_instances",
                 "by_type"):
        state[name] = sorted(state[name].items())
    cols = state["sessions"]
    rows = []
    for i, sid in enumerate(cols["ids"]):
        row = [sid, cols["counts"][6 * i:6 * i + 6], sorted(cols["models"][i].items())]
        if session_times:
            row += [cols["first_ns"][i], cols["last_ns"][i]]
        rows.append(row)
    state["sessions"] = sorted(rows, key=json.dumps)
    return state


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(calls(), st.integers(0, 4)), max_size=40),
       st.lists(st.tuples(st.sampled_from(["merge", "subtract"]), st.integers(0, 4)),
                max_size=20))
def test_adds_merges_and_subtracts_equal_a_fresh_computation(
        tagged: list[tuple[LLMCall, int]], ops: list[tuple[str, int]]) -> None:
    parts = [[c for c, p in tagged if p == i] for i in range(5)]
    part_aggs = [of(p) for p in parts]
    live = Aggregate.unbounded()
    merged: list[int] = []  # part indices in ``live``, with repeats
    for op, i in ops:
        if op == "merge":
            live.merge(part_aggs[i])
            merged.append(i)
        elif i in merged:
            live.subtract(part_aggs[i])
            merged.remove(i)
    # and a part built by merging parts, merged and taken out again
    both = of(parts[0])
    both.merge(part_aggs[1])
    live.merge(both)
    live.subtract(both)
    live.refresh_extremes(part_aggs[i] for i in merged)
    fresh = of([c for i in merged for c in parts[i]])
    subtracted = any(op == "subtract" for op, _ in ops) or bool(parts[0] or parts[1])
    # A session keeps the first/last seen of calls that left: windows clamp them when shown.
    assert canonical(live, session_times=not subtracted) == canonical(
        fresh, session_times=not subtracted)
    assert live.total.cost() == fresh.total.cost()  # money is exact, never float residue


@settings(max_examples=50, deadline=None)
@given(st.lists(calls(), max_size=30), st.sampled_from([True, False]))
def test_serialized_aggregates_read_back_exactly(items: list[LLMCall], lru: bool) -> None:
    agg = of(items, max_sessions=3, lru_sessions=lru)
    back = Aggregate.loads(agg.dumps(), max_sessions=3, lru_sessions=lru)
    assert back.to_state() == json.loads(json.dumps(agg.to_state()))
    assert list(back.sessions) == list(agg.sessions)  # LRU order survives
    more = items[:5]
    for a in (agg, back):  # and the copy behaves as the original from here on
        for c in more:
            a.add(c, CallFacts.of(c))
    assert back.to_state() == json.loads(json.dumps(agg.to_state()))


@settings(max_examples=50, deadline=None)
@given(st.lists(calls(), max_size=40), st.integers(0, 40))
def test_merging_into_a_capped_aggregate_is_adding_its_calls_one_by_one(
        items: list[LLMCall], cut: int) -> None:
    with mock.patch.multiple(_aggregate, MAX_KEYS=2, MAX_SIGNAL_TYPES=1, MAX_SESSION_MODELS=1):
        one_by_one = of(items, max_sessions=None)
        target = of(items[:cut], max_sessions=None)
        chunk = of(items[cut:], bounded=False, max_sessions=None, lru_sessions=True)
        target.merge(chunk)
        assert canonical(target) == canonical(one_by_one)
        assert len(target.models) <= 3 and len(target.by_type) <= 2


def test_a_full_session_table_counts_the_calls_it_refused() -> None:
    items = [make_call(T0 + i, session_id=f"s{i % 3}") for i in range(30)]
    agg = of(items, max_sessions=1)
    assert list(agg.sessions) == ["s0"]
    assert agg.sessions["s0"].turns == 10 and agg.untracked_session_calls == 20
    lru = of(items, max_sessions=1, lru_sessions=True)
    assert list(lru.sessions) == ["s2"] and lru.sessions_evicted == 29


def test_bad_bytes_are_not_an_aggregate() -> None:
    for data in (b"", b"not zlib", _aggregate.zlib.compress(b"[1, 2]"),
                 _aggregate.zlib.compress(b'{"v": 99}'), _aggregate.zlib.compress(b'{"v": 1}')):
        with pytest.raises(ValueError):
            Aggregate.loads(data)
