"""The ledger file: calls read back whole, derived rows equal to the in-memory rollups, schema
versions, damaged and unusable files, pruning, rebuilding and repricing."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from plano_obs.analytics import Aggregate, Analytics
from plano_obs.ingest.decode import decode_request
from plano_obs.ingest.store import Store
from plano_obs.ledger import (
    SCHEMA_VERSION,
    Ledger,
    LedgerError,
    LedgerLink,
    Rollups,
    _schema,
    prune,
)
from plano_obs.model import LLMCall
from plano_obs.pricing import Pricer

from ledger_fixtures import DAY, HOUR, NOW, WINDOWS, traffic


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(offline=True)


def ingest(store: Store, requests: Iterator[object]) -> None:
    for req in requests:
        store.ingest(decode_request(req))  # type: ignore[arg-type]


def with_ledger(path: Path, pricer: Pricer) -> tuple[Store, Analytics, LedgerLink]:
    """A store and analytics writing to (and seeded from) the ledger at ``path``."""
    analytics = Analytics()
    store = Store(pricer=pricer, analytics=analytics, clock=lambda: NOW)
    link = LedgerLink(Ledger(path), retain_s=None, pricer=pricer, clock=lambda: NOW)
    link.attach(store, analytics, recent_calls=50_000, recent_keys=10_000, flagged=5_000,
                errors=200)
    store.ledger = link
    return store, analytics, link


def summed(parts: list[Aggregate]) -> Aggregate:
    total = Aggregate.unbounded()
    for part in parts:
        total.merge(part)
    return total


def comparable(doc: object) -> dict:
    return doc.model_dump(exclude={"generated_at"})  # type: ignore[attr-defined]


def same_call(a: LLMCall, b: LLMCall, *, attributes: bool) -> None:
    """Equal calls; without ``attributes``, a call's span (attributes, signal events) is not
    compared: the ledger keeps it for flagged and failed calls only."""
    skip = {"cost", "attributes", "signals"} if not attributes else {"cost"}
    for f in dataclasses.fields(LLMCall):
        if f.name not in skip:
            assert getattr(a, f.name) == getattr(b, f.name), f.name
    if not attributes and a.signals is not None:
        assert b.signals is not None
        assert dataclasses.replace(a.signals, events=[]) == dataclasses.replace(b.signals,
                                                                                events=[])
        assert [e.leaf_type for e in a.signals.events] == [e.leaf_type for e in b.signals.events]
    assert (a.cost is None) == (b.cost is None)
    if a.cost is not None and b.cost is not None:
        for name in ("cost_usd", "source", "catalog_cost_usd", "gateway_cost_usd", "drift",
                     "catalog_entry", "pricing_source"):
            assert getattr(a.cost, name) == pytest.approx(getattr(b.cost, name), abs=1e-9), name


def test_every_call_reads_back_with_what_the_console_and_export_use(
        tmp_path: Path, pricer: Pricer) -> None:
    store, _, link = with_ledger(tmp_path / "l.sqlite", pricer)
    ingest(store, traffic(days=1, per_hour=40))
    held = store.calls_snapshot()
    ledger = link.ledger
    stored = {(c.trace_id, c.span_id): c for c in ledger.recent_calls(len(held) + 10)}
    assert len(stored) == len(held) > 500
    kept = 0
    for call in held:
        same_call(call, stored[(call.trace_id, call.span_id)], attributes=False)
        if call.flagged or call.is_error:  # their span is kept: attributes and signal events
            full = ledger.get_call(call.trace_id, call.span_id)
            assert full is not None
            same_call(call, full, attributes=True)
            kept += 1
    assert kept > 50


def test_a_flagged_trace_keeps_its_span_tree_and_signal_events(
        tmp_path: Path, pricer: Pricer) -> None:
    store, _, link = with_ledger(tmp_path / "l.sqlite", pricer)
    ingest(store, traffic(days=0.2, per_hour=100))
    flagged = next(c for c in store.calls_snapshot() if c.flagged and c.signals
                   and c.signals.events)
    in_memory = store.trace(flagged.trace_id)
    store.ledger = None  # what a restarted process sees: only the file
    fresh = Store(pricer=pricer, ledger=link)
    from_file = fresh.trace(flagged.trace_id)
    assert [(s.span_id, s.name, s.service, s.parent_span_id) for s in from_file] == \
        [(s.span_id, s.name, s.service, s.parent_span_id) for s in in_memory]
    assert [s.attributes for s in from_file] == [s.attributes for s in in_memory]
    call = fresh.get_call(flagged.trace_id, flagged.span_id)
    assert call is not None and call.signals is not None
    assert call.signals.events == flagged.signals.events
    assert call.cost is not None and call.cost.lines(call)  # rates found again for the breakdown


@pytest.mark.parametrize("restart", [False, True])
def test_windows_from_the_ledger_equal_the_in_memory_path(
        tmp_path: Path, pricer: Pricer, restart: bool) -> None:
    memory = Analytics()
    plain = Store(pricer=pricer, analytics=memory, clock=lambda: NOW)
    store, analytics, link = with_ledger(tmp_path / "l.sqlite", pricer)
    for req in traffic():
        result = decode_request(req)  # type: ignore[arg-type]
        plain.ingest(result)
        store.ingest(decode_request(req))  # type: ignore[arg-type]
        if random.random() < 0.01:
            link.sync()  # derived rows in step now and then, as the background thread does
    if restart:
        link.stop()
        store, analytics, link = with_ledger(tmp_path / "l.sqlite", pricer)
    for window in WINDOWS:
        want = comparable(memory.document(window, now=NOW))
        got = comparable(analytics.document(window, now=NOW))
        assert got == want, window
    assert memory.document("30d", now=NOW).summary.requests > 3000


def test_rows_rebuilt_from_raw_calls_equal_the_rows_written_on_ingest(
        tmp_path: Path, pricer: Pricer) -> None:
    store, analytics, link = with_ledger(tmp_path / "l.sqlite", pricer)
    ingest(store, traffic(days=3))
    link.sync()
    rollups = Rollups(link.ledger)
    hours = int(NOW // HOUR)
    before = summed(rollups.hours(hours - 80, hours + 1))
    report = rollups.rebuild()
    after = summed(rollups.hours(hours - 80, hours + 1))
    assert report.calls == before.total.requests == len(store.calls_snapshot())
    assert report.days >= 3 and report.hours >= 70
    assert after.to_state() == before.to_state()


def test_calls_written_after_the_last_sync_are_derived_on_the_next_open(
        tmp_path: Path, pricer: Pricer) -> None:
    path = tmp_path / "l.sqlite"
    store, analytics, link = with_ledger(path, pricer)
    ingest(store, traffic(days=2))
    want = analytics.document("7d", now=NOW)
    link.ledger.close()  # as if killed: no last sync
    _, reopened, _ = with_ledger(path, pricer)
    assert comparable(reopened.document("7d", now=NOW)) == comparable(want)


def test_a_ledger_of_an_older_schema_is_migrated_forward(tmp_path: Path,
                                                         pricer: Pricer) -> None:
    memory = Analytics()
    plain = Store(pricer=pricer, analytics=memory, clock=lambda: NOW)
    store, _, link = with_ledger(tmp_path / "new.sqlite", pricer)
    for req in traffic(days=2):
        plain.ingest(decode_request(req))  # type: ignore[arg-type]
        store.ingest(decode_request(req))  # type: ignore[arg-type]
    link.stop()
    path = tmp_path / "v1.sqlite"
    v1 = sqlite3.connect(path, isolation_level=None)
    v1.execute("BEGIN")
    _schema.create(v1, version=1)  # version 1: raw calls and spans, no derived rows
    v1.execute("COMMIT")
    v1.execute(f"ATTACH DATABASE '{tmp_path / 'new.sqlite'}' AS new")
    for table in ("call_kinds", "prices", "calls", "spans"):  # rows as version 1 wrote them
        v1.execute(f"INSERT INTO {table} SELECT * FROM new.{table}")
    v1.close()
    _, migrated, mlink = with_ledger(path, pricer)
    assert mlink.ledger.meta("schema_version") == str(SCHEMA_VERSION)
    for window in ("all", "24h", "7d"):
        assert comparable(migrated.document(window, now=NOW)) == comparable(
            memory.document(window, now=NOW)), window
    assert mlink.status().calls == len(store.calls_snapshot())


def test_a_ledger_from_a_newer_version_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 1),))
    con.close()
    with pytest.raises(LedgerError) as e:
        Ledger(path)
    message = str(e.value)
    assert "newer plano obs" in message and "\n" not in message
    con = sqlite3.connect(path)  # and the file was left as it was
    assert con.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'"
                       ).fetchone()[0] == str(SCHEMA_VERSION + 1)


@pytest.mark.parametrize("content, why", [
    (b"this is not a database, just some text" * 200, "damaged or not a ledger"),
    (b"SQLite format 3\x00" + os.urandom(8000), "damaged or not a ledger"),
])
def test_a_damaged_file_is_one_clear_line(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "l.sqlite"
    path.write_bytes(content)
    with pytest.raises(LedgerError) as e:
        Ledger(path)
    assert why in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_another_sqlite_database_is_not_taken_for_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(LedgerError, match="not a plano obs ledger"):
        Ledger(path)


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make ``paths`` unwritable, for root too (the immutable attribute) when it can."""
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o500 if p.is_dir() else 0o400)
        try:
            yield
        finally:
            for p in paths:
                p.chmod(0o700 if p.is_dir() else 0o600)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", *map(str, paths)], capture_output=True).returncode:
        pytest.skip("running as root without chattr: nothing is read-only to root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_directory_is_one_clear_line(tmp_path: Path) -> None:
    with read_only(tmp_path), pytest.raises(LedgerError) as e:
        Ledger(tmp_path / "l.sqlite")
    assert "read-only" in str(e.value) and "\n" not in str(e.value)


def test_a_read_only_ledger_cannot_be_written_but_can_be_read(tmp_path: Path,
                                                              pricer: Pricer) -> None:
    path = tmp_path / "l.sqlite"
    store, _, link = with_ledger(path, pricer)
    ingest(store, traffic(days=0.1, per_hour=100))
    link.stop()
    with read_only(path, tmp_path):
        with pytest.raises(LedgerError, match="read-only"):
            Ledger(path)
        reader = Ledger(path, readonly=True)
        assert len(reader.recent_calls(1000)) == len(store.calls_snapshot())
        reader.close()


def test_a_full_disk_stops_writing_and_says_why(tmp_path: Path, pricer: Pricer) -> None:
    store, analytics, link = with_ledger(tmp_path / "l.sqlite", pricer)
    ingest(store, traffic(days=0.05, per_hour=100))
    pages = link.ledger._con.execute("PRAGMA page_count").fetchone()[0]
    link.ledger._con.execute(f"PRAGMA max_page_count = {pages + 1}")  # the disk is now full
    before = analytics.document("all", now=NOW).summary.requests
    ingest(store, traffic(days=0.5, per_hour=100, seed=9))
    assert link.error is not None and "disk is full" in link.error
    assert "\n" not in link.error
    # ingest carried on in memory: nothing the receiver took was lost from the live view
    assert analytics.document("all", now=NOW).summary.requests > before + 30


def test_a_prune_removes_old_calls_and_their_rows_and_is_logged(
        tmp_path: Path, pricer: Pricer) -> None:
    store, analytics, link = with_ledger(tmp_path / "l.sqlite", pricer)
    ingest(store, traffic(days=5))
    link.sync()
    ledger = link.ledger
    cut = int((NOW - 2 * DAY) // HOUR * HOUR * 1e9) + 1_800_000_000_000  # mid-hour
    older = sum(1 for c in store.calls_snapshot() if c.end_ns < cut)
    report = prune(ledger, cut, "test")
    assert report.calls == older > 100
    first, _ = ledger.time_span()
    assert first is not None and first >= cut
    rest = Analytics()
    for c in store.calls_snapshot():
        if c.end_ns >= cut:
            rest.add(c)
    rows = summed(Rollups(ledger).hours(0, int(NOW // HOUR) + 1))
    assert rows.total.requests == rest.document("all", now=NOW).summary.requests
    assert ledger.meta_sum("prunes", "calls") == older
