"""A fleet on PostgreSQL: the same ledger in a shared database, written by many receivers and
read by many consoles. A throwaway cluster (tests/pg_cluster.py), never a mock."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import psycopg
import pytest

from plano_obs.analytics import Analytics
from plano_obs.ingest.decode import decode_request
from plano_obs.ingest.store import Store
from plano_obs.ledger import SCHEMA_VERSION, Ledger, LedgerError, LedgerLink, Rollups
from plano_obs.locations import redact, redact_text
from plano_obs.pricing import Pricer

from ledger_fixtures import DAY, HOUR, NOW, WINDOWS, traffic


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(offline=True)


def member(location: str | Path, pricer: Pricer) -> tuple[Store, Analytics, LedgerLink]:
    """A store and analytics on the ledger at ``location``, wired as the runtime wires them:
    sharing a database, the analytics take calls from the ledger only (polled)."""
    analytics = Analytics()
    link = LedgerLink(Ledger(location), retain_s=None, pricer=pricer, clock=lambda: NOW)
    store = Store(pricer=pricer, analytics=None if link.fleet else analytics,
                  clock=lambda: NOW)
    link.attach(store, analytics, recent_calls=50_000, recent_keys=10_000, flagged=5_000,
                errors=200)
    assert link.error is None, link.error
    store.ledger = link
    return store, analytics, link


def comparable(doc: object) -> dict:
    return doc.model_dump(exclude={"generated_at", "source"})  # type: ignore[attr-defined]


def stored_count(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM calls")
        total, distinct = row.fetchone()  # type: ignore[misc]
        return int(total), int(distinct)


# -- locations ----------------------------------------------------------------------------------


def test_a_password_in_the_url_is_never_shown() -> None:
    url = "postgresql://plano:hunter2@db.example:5432/obs?sslmode=require&password=other"
    shown = redact(url)
    assert "hunter2" not in shown and "other" not in shown
    assert shown.startswith("postgresql://plano:***@db.example:5432/obs?")
    assert redact("/home/me/ledger.sqlite") == "/home/me/ledger.sqlite"
    assert redact("postgresql://plano@db/obs") == "postgresql://plano@db/obs"
    error = 'connection to "postgresql://plano:hunter2@db.example:5432/obs" failed: hunter2'
    assert "hunter2" not in redact_text(error, url)


# -- the schema ---------------------------------------------------------------------------------


def test_the_schema_is_created_on_first_use_and_versioned(pg_url: str) -> None:
    first = Ledger(pg_url)
    assert first.meta("schema_version") == str(SCHEMA_VERSION)
    assert first.shared and "***" in str(first.path) and "s3cret" not in str(first.path)
    second = Ledger(pg_url)  # a second process: uses the tables as they are
    assert second.meta("created_ns") == first.meta("created_ns")
    second.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'")
    first.close()
    with pytest.raises(LedgerError) as e:
        Ledger(pg_url)
    assert "newer plano obs (schema version 99" in str(e.value) and "\n" not in str(e.value)
    assert "s3cret" not in str(e.value)


# -- many writers -------------------------------------------------------------------------------


def test_the_same_span_written_by_two_receivers_is_counted_once(pg_url: str,
                                                                pricer: Pricer) -> None:
    requests = list(traffic(days=1, per_hour=60))
    a, _, link_a = member(pg_url, pricer)
    b, _, link_b = member(pg_url, pricer)

    def deliver(store: Store, order: list[object]) -> None:
        for req in order:
            store.ingest(decode_request(req))  # type: ignore[arg-type]

    # Both receive everything (an exporter retrying through a load balancer), concurrently.
    shuffled = requests[:]
    random.Random(1).shuffle(shuffled)
    threads = [threading.Thread(target=deliver, args=(a, requests)),
               threading.Thread(target=deliver, args=(b, shuffled))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    unique = {(c.trace_id, c.span_id) for r in requests
              for c in decode_request(r).calls}  # type: ignore[arg-type]
    total, distinct = stored_count(pg_url)
    assert total == distinct == len(unique) > 1000
    link_a.sync()
    link_b.sync()
    assert Rollups(link_a.ledger).calls_held() == len(unique)
    assert link_a.status().calls == link_b.status().calls == len(unique)
    link_a.stop()
    link_b.stop()


def test_windows_are_the_same_in_memory_in_sqlite_and_in_postgresql(
        tmp_path: Path, pg_url: str, pricer: Pricer) -> None:
    memory = Analytics()
    plain = Store(pricer=pricer, analytics=memory, clock=lambda: NOW)
    lite, lite_analytics, lite_link = member(tmp_path / "l.sqlite", pricer)
    # Two receivers share the traffic; a third process only reads (a console).
    rx = [member(pg_url, pricer), member(pg_url, pricer)]
    viewer_store, viewer, viewer_link = member(pg_url, pricer)
    rng = random.Random(7)
    for i, req in enumerate(traffic()):
        plain.ingest(decode_request(req))  # type: ignore[arg-type]
        lite.ingest(decode_request(req))  # type: ignore[arg-type]
        rx[i % 2][0].ingest(decode_request(req))  # type: ignore[arg-type]
        if rng.random() < 0.1:  # a retry that reached the other receiver too
            rx[(i + 1) % 2][0].ingest(decode_request(req))  # type: ignore[arg-type]
        if rng.random() < 0.01:
            lite_link.sync()
            rx[rng.randrange(2)][2].sync()  # derived rows in step now and then
            viewer_link.sync()
    for _, _, link in rx:
        link.sync()
    viewer_link.sync()
    late_store, late_viewer, late_link = member(pg_url, pricer)  # a console opened afterwards
    for window in WINDOWS:
        want = comparable(memory.document(window, now=NOW))
        assert comparable(lite_analytics.document(window, now=NOW)) == want, window
        assert comparable(viewer.document(window, now=NOW)) == want, window
        assert comparable(late_viewer.document(window, now=NOW)) == want, window
        for _, analytics, _ in rx:  # a receiving console sees everyone's calls
            assert comparable(analytics.document(window, now=NOW)) == want, window
    assert memory.document("30d", now=NOW).summary.requests > 3000
    # --since/--until ranges: whole hours from derived rows, the edges from raw calls
    lo, hi = int((NOW - 9.5 * DAY) * 1e9), int((NOW - 2.25 * DAY) * 1e9)
    lite_range = lite_link.range_aggregate(lo, hi)
    pg_range = late_link.range_aggregate(lo, hi)
    assert pg_range.total.requests == lite_range.total.requests > 500
    assert pg_range.to_state() == lite_range.to_state()
    # the recent list and drilldown of a viewer hold every receiver's calls
    assert len(viewer_store.calls_snapshot()) == len(plain.calls_snapshot())
    flagged = next(c for c in plain.calls_snapshot() if c.flagged)
    assert [s.span_id for s in late_store.trace(flagged.trace_id)] == \
        [s.span_id for s in plain.trace(flagged.trace_id)]
    for link in (lite_link, viewer_link, late_link, *(r[2] for r in rx)):
        link.stop()


def test_rebuild_prune_and_reprice_work_on_the_shared_database(pg_url: str,
                                                               pricer: Pricer) -> None:
    from plano_obs.ledger import prune, reprice

    store, analytics, link = member(pg_url, pricer)
    for req in traffic(days=3):
        store.ingest(decode_request(req))  # type: ignore[arg-type]
    link.sync()
    n = link.status().calls
    rollups = Rollups(link.ledger)
    hours = int(NOW // HOUR)
    before = rollups.hours(hours - 80, hours + 1)
    report = rollups.rebuild()
    assert report.calls == n > 300 and report.days >= 3
    after = rollups.hours(hours - 80, hours + 1)
    assert [a.to_state() for a in after] == [b.to_state() for b in before]
    repriced = reprice(link.ledger, pricer, clock=lambda: NOW)
    assert repriced.calls == n and repriced.after_nano == repriced.before_nano
    cut = int((NOW - DAY) // HOUR * HOUR * 1e9)
    pruned = prune(link.ledger, cut, "test", clock=lambda: NOW)
    assert 0 < pruned.calls < n
    assert Rollups(link.ledger).calls_held() == n - pruned.calls
    assert link.ledger.meta_sum("prunes", "calls") == pruned.calls
    link.stop()
