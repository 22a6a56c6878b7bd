"""Sliding windows: edges, buckets that leave, late calls, and the trend series."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest
from test_analytics_rollups import T0, make_call

from plano_obs.analytics import Analytics
from plano_obs.analytics._aggregate import Aggregate


def test_window_covers_calls_since_its_start_and_reports_the_start() -> None:
    a = Analytics()
    a.add(make_call(T0 - 61, cost_usd=1.0))  # before the 1m window
    a.add(make_call(T0 - 60, cost_usd=0.5))  # exactly at its start: in
    a.add(make_call(T0 - 1, cost_usd=0.25))
    a.add(make_call(T0, cost_usd=0.125))  # at "now": in
    doc = a.document("1m", now=T0)
    assert doc.summary.requests == 3
    assert doc.summary.cost_usd == pytest.approx(0.875)
    assert doc.window.start == datetime.fromtimestamp(T0 - 60, UTC)
    assert doc.window.end == datetime.fromtimestamp(T0, UTC)
    assert a.document("all", now=T0).summary.requests == 4


def test_window_start_is_rounded_up_to_a_bucket_edge() -> None:
    a = Analytics()
    a.add(make_call(T0 - 69))  # in the bucket [T0-70, T0-60): partly before the window
    a.add(make_call(T0 - 55))
    doc = a.document("1m", now=T0 + 5)  # the window is (T0-55 .. T0+5]
    assert doc.window.start == datetime.fromtimestamp(T0 - 50, UTC)
    assert doc.summary.requests == 0  # T0-55 falls in the bucket before the window's start
    a.add(make_call(T0 - 50))
    assert a.document("1m", now=T0 + 5).summary.requests == 1


def test_sliding_forward_drops_old_buckets_and_keeps_new_ones() -> None:
    a = Analytics()
    for i in range(600):  # one call a second for ten minutes
        a.add(make_call(T0 + i, duration_ms=100 + i, model="m" if i < 300 else "n"))
    first = a.document("5m", now=T0 + 299)  # reads the window once, then slides it
    assert first.summary.requests == 300
    assert [m.model for m in first.models] == ["m"]
    later = a.document("5m", now=T0 + 599)
    assert later.summary.requests == 300
    assert [m.model for m in later.models] == ["n"]
    assert later.summary.latency_ms.max == 699  # maxima are recomputed, not stale
    assert a.document("1m", now=T0 + 599).summary.requests == 60
    assert a.document("15m", now=T0 + 599).summary.requests == 600
    # Going back in time is allowed too: the window is rebuilt.
    assert a.document("5m", now=T0 + 299).summary.requests == 300


def test_calls_added_after_a_window_was_read_are_counted_in_it() -> None:
    a = Analytics()
    a.add(make_call(T0))
    assert a.document("5m", now=T0 + 1).summary.requests == 1
    a.add(make_call(T0 + 1))
    a.add(make_call(T0 - 100))  # late: an older bucket already in the window
    a.add(make_call(T0 - 400))  # too old for the window
    assert a.document("5m", now=T0 + 2).summary.requests == 3
    assert a.document("all", now=T0 + 2).summary.requests == 4


def test_windowed_rollups_equal_a_fresh_computation() -> None:
    rng = random.Random(11)
    a = Analytics()
    calls = []
    for i in range(3000):
        c = make_call(T0 + i * 1.3, duration_ms=rng.uniform(10, 5000),
                      model=rng.choice(["a", "b"]), route=rng.choice(["x", None]),
                      status_code=rng.choice([200, 200, 200, 500, 429]),
                      cost_usd=rng.choice([None, 0.001, 0.002]),
                      session_id=f"s{rng.randrange(40)}")
        a.add(c)
        calls.append(c)
    for now in (T0 + 2000, T0 + 2600, T0 + 3900, T0 + 3000):  # buckets are kept for 1 h
        got = a.document("15m", now=now)
        fresh = Analytics()
        start = got.window.start.timestamp()
        end = (now // 10 + 1) * 10  # the end of now's 10 s bucket
        for c in calls:
            if start <= c.end_ns / 1e9 < end:
                fresh.add(c)
        want = fresh.document("all", now=now)
        assert got.summary.model_dump(exclude={"first_call_at", "sessions"}) == \
            want.summary.model_dump(exclude={"first_call_at", "sessions"})
        assert got.models == want.models
        assert got.routes == want.routes
        assert len(got.sessions) == len(want.sessions)


def test_trend_is_per_minute_with_unknowns_as_none() -> None:
    a = Analytics()
    a.add(make_call(T0 + 5, duration_ms=100, cost_usd=0.5))
    a.add(make_call(T0 + 50, duration_ms=300, status_code=500))
    for i in range(18):
        a.add(make_call(T0 + 30, duration_ms=10 * (i + 1)))
    a.add(make_call(T0 + 125, duration_ms=None))
    points = a.trend(T0 + 130, minutes=4)
    assert [p.start for p in points] == [datetime.fromtimestamp(T0 + 60 * k, UTC)
                                         for k in (-1, 0, 1, 2)]
    assert [p.requests for p in points] == [0, 20, 0, 1]
    assert [p.errors for p in points] == [0, 1, 0, 0]
    assert points[1].p95_latency_ms == pytest.approx(180, rel=0.01)  # 19th of 20
    assert points[1].cost_usd == 0.5
    assert points[3].p95_latency_ms is None and points[3].cost_usd is None


def test_trend_picks_up_a_late_call_in_a_minute_it_already_showed() -> None:
    a = Analytics()
    a.add(make_call(T0 + 5, duration_ms=100, cost_usd=0.5))
    before = a.trend(T0 + 130, minutes=3)
    assert [p.requests for p in before] == [1, 0, 0]
    a.add(make_call(T0 + 20, duration_ms=900, cost_usd=0.25, status_code=503))  # late arrival
    after = a.trend(T0 + 130, minutes=3)
    assert [p.requests for p in after] == [2, 0, 0]
    assert after[0].errors == 1 and after[0].cost_usd == 0.75
    assert after[0].p95_latency_ms == pytest.approx(100, rel=0.01)
    a.clear()
    assert [p.requests for p in a.trend(T0 + 130, minutes=3)] == [0, 0, 0]


def test_a_window_is_built_without_the_lock_and_keeps_calls_that_arrive_meanwhile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    a = Analytics()
    calls = [make_call(T0 - 3000 + i, duration_ms=100 + i % 50, session_id=f"s{i % 7}",
                       cost_usd=0.001) for i in range(3000)]
    for c in calls[:2000]:
        a.add(c)
    a.document("1h", now=T0)  # flushes; "1h" has no state yet
    a._windows.clear()
    late = calls[2000:]
    lock_free: list[bool] = []
    merge = Aggregate.merge

    def merge_while_ingest_runs(self: Aggregate, other: Aggregate) -> bool:
        if late:
            arriving = late[:]
            late.clear()  # ingest merges too: only the first merge of the build does this
            # Another thread could take the lock now: the build does not hold it.
            probe = threading.Thread(target=lambda: lock_free.append(
                a._lock.acquire(blocking=False) and (a._lock.release() or True)))
            probe.start()
            probe.join()
            for c in arriving:  # ingest goes on meanwhile, into the buckets being read
                a.add(c)
            a.add(make_call(T0 - 1200.5))  # a bucket the build has already read
        return merge(self, other)

    monkeypatch.setattr(Aggregate, "merge", merge_while_ingest_runs)
    doc = a.document("1h", now=T0)
    monkeypatch.setattr(Aggregate, "merge", merge)
    assert lock_free == [True]
    fresh = Analytics()
    for c in calls:
        fresh.add(c)
    fresh.add(make_call(T0 - 1200.5))
    want = fresh.document("1h", now=T0)
    assert doc.summary.requests == want.summary.requests == 3001
    assert doc.summary.cost_usd == pytest.approx(want.summary.cost_usd)
    assert doc.models == want.models and doc.routes == want.routes
    assert len(doc.sessions) == len(want.sessions)
    assert not a._borrowed  # the buckets read are given back
    # The window slides on from there as usual.
    a.add(make_call(T0 + 1))
    assert a.document("1h", now=T0 + 2).summary.requests == 3002
@pytest.mark.parametrize("window, hours", [("24h", 24), ("7d", 7 * 24), ("30d", 30 * 24)])
def test_long_windows_are_whole_hours_equal_to_a_fresh_computation(window: str,
                                                                   hours: int) -> None:
    rng = random.Random(5)
    a = Analytics()
    calls = []
    for i in range(4000):  # about 40 days, a call every ~15 minutes, some arriving late
        at = T0 + i * 870 + rng.uniform(-3000, 0)
        c = make_call(at, duration_ms=rng.uniform(10, 5000), model=rng.choice(["a", "b"]),
                      route=rng.choice(["x", None]), status_code=rng.choice([200, 200, 503]),
                      cost_usd=rng.choice([None, 0.001, 0.25]), session_id=f"s{i % 30}")
        a.add(c)
        calls.append(c)
    now = T0 + 4000 * 870 + 1234.5
    got = a.document(window, now=now)
    start = got.window.start.timestamp()
    assert start % 3600 == 0 and now - hours * 3600 <= start < now - hours * 3600 + 3600
    end = (now // 3600 + 1) * 3600  # the end of now's hour
    fresh = Analytics()
    for c in calls:
        if start <= c.end_ns / 1e9 < end:
            fresh.add(c)
    want = fresh.document("all", now=now)
    assert got.summary.model_dump(exclude={"first_call_at", "sessions"}) == \
        want.summary.model_dump(exclude={"first_call_at", "sessions"})
    assert got.models == want.models and got.routes == want.routes
    # a call added later lands in the window without a rebuild
    a.add(make_call(now - 10, cost_usd=1.0))
    assert a.document(window, now=now).summary.requests == got.summary.requests + 1


def test_hour_parts_older_than_the_retention_are_dropped_from_memory() -> None:
    a = Analytics(retain_hours=2)
    for h in range(6):
        a.add(make_call(T0 + h * 3600 + 5))
    doc = a.document("24h", now=T0 + 5 * 3600 + 10)
    assert doc.summary.requests == 2  # the last two hours are kept
    assert a.document("all", now=T0 + 5 * 3600 + 10).summary.requests == 6
