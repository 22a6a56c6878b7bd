"""The ledger's tables, by version, and the forward migrations between versions.

Written for SQLite and kept within what PostgreSQL also accepts: integers, reals, text and
binary columns, no SQLite-only types. ``_postgres.pg_ddl`` widens them for PostgreSQL
(``bigint``, ``double precision``, ``bytea``; ``id INTEGER PRIMARY KEY``, SQLite's rowid,
becomes an identity column) and adds what many writers need there.

Low-cardinality strings of a call (span name, service, models, provider, API path, route, how
it was routed, span status) are stored once in ``call_kinds`` and referenced by id, and how a
call was priced in ``prices``: a call row is mostly numbers.
"""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA_VERSION", "STEPS", "create", "migrate", "schema_version", "statements"]

#: The version this code writes. A ledger with a higher version is refused, never altered.
SCHEMA_VERSION = 2

_V1 = """
CREATE TABLE ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- What a call was besides its numbers: shared by many calls.
CREATE TABLE call_kinds (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    service          TEXT,
    model            TEXT,
    model_requested  TEXT,
    provider         TEXT,
    api_path         TEXT,
    route            TEXT,
    is_streaming     INTEGER,
    routing_strategy TEXT,
    selection_reason TEXT,
    span_status      TEXT NOT NULL
);
-- How a call was priced: which number was shown, which catalog entry, from which price source.
CREATE TABLE prices (
    id             INTEGER PRIMARY KEY,
    cost_source    TEXT,
    catalog_entry  TEXT,
    pricing_source TEXT
);
-- One row per LLM call, in arrival order. Unknown is NULL, never 0.
CREATE TABLE calls (
    id                      INTEGER PRIMARY KEY,
    end_ns                  INTEGER NOT NULL,
    start_ns                INTEGER NOT NULL,
    trace_id                BLOB NOT NULL,
    span_id                 BLOB NOT NULL,
    parent_span_id          BLOB,
    request_id              TEXT,            -- NULL: the span id
    session_id              TEXT,
    kind_id                 INTEGER NOT NULL REFERENCES call_kinds (id),
    status_code             INTEGER,
    duration_ms             REAL,
    ttft_ms                 REAL,
    prompt_tokens           INTEGER,
    completion_tokens       INTEGER,
    total_tokens            INTEGER,
    cached_input_tokens     INTEGER,
    cache_creation_tokens   INTEGER,
    reasoning_tokens        INTEGER,
    gateway_input_cost_usd  REAL,
    gateway_output_cost_usd REAL,
    gateway_total_cost_usd  REAL,
    cost_nano               INTEGER,         -- the cost shown, in nano-dollars
    catalog_cost_nano       INTEGER,         -- what the catalog said, when it priced the call
    price_id                INTEGER REFERENCES prices (id),
    flags                   INTEGER NOT NULL, -- 1 flagged, 2 failed, 4 gateway/catalog drift
    quality                 TEXT,
    quality_score           REAL,
    turn_count              INTEGER,
    efficiency_score        REAL,
    signal_categories       TEXT,            -- JSON {"layer.category": [count, severity]}
    signal_types            TEXT,            -- JSON [leaf type of each signal event]
    error                   TEXT             -- JSON [error_type, error_message, status message]
);
CREATE INDEX calls_end ON calls (end_ns);
CREATE INDEX calls_kept ON calls (trace_id) WHERE flags & 3 != 0;
-- The span trees of traces with a flagged or failed call.
CREATE TABLE spans (
    id             INTEGER PRIMARY KEY,
    trace_id       BLOB NOT NULL,
    span_id        BLOB NOT NULL,
    parent_span_id BLOB,
    name           TEXT NOT NULL,
    service        TEXT,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL,
    status         TEXT NOT NULL,
    status_message TEXT,
    is_llm         INTEGER NOT NULL,
    raw            BLOB,                     -- a context span as received (OTLP protobuf)
    attributes     TEXT,                     -- an LLM span's attributes, JSON
    events         TEXT                      -- an LLM span's signal events, JSON
);
CREATE INDEX spans_trace ON spans (trace_id);
CREATE INDEX spans_end ON spans (end_ns);
"""

_V2 = """
-- Derived: the aggregate of every call of one hour or one UTC day (Aggregate.dumps()), as of
-- calls.id <= ledger_meta 'derived_through'. `plano obs ledger rebuild` recomputes them.
CREATE TABLE rollups (
    period_s INTEGER NOT NULL,               -- 3600 or 86400
    start_ns INTEGER NOT NULL,
    calls    INTEGER NOT NULL,
    state    BLOB NOT NULL,
    PRIMARY KEY (period_s, start_ns)
);
-- What retention and `ledger prune` removed.
CREATE TABLE prunes (
    at_ns     INTEGER NOT NULL,
    before_ns INTEGER NOT NULL,
    calls     INTEGER NOT NULL,
    spans     INTEGER NOT NULL,
    reason    TEXT NOT NULL
);
-- Each `ledger reprice`: how many calls changed and the total before and after.
CREATE TABLE reprices (
    at_ns          INTEGER NOT NULL,
    pricing_source TEXT,
    calls          INTEGER NOT NULL,
    before_nano    INTEGER NOT NULL,
    after_nano     INTEGER NOT NULL
);
"""

#: version -> the DDL that brings the previous version to it. Version 1 had no derived rows:
#: its calls are derived when a console next opens the ledger (everything after
#: ``derived_through``, which a version 1 file does not have, is derived on open).
STEPS: dict[int, str] = {1: _V1, 2: _V2}


def schema_version(con: sqlite3.Connection) -> int | None:
    """The version a ledger file says it has; None for an empty file."""
    exists = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_meta'").fetchone()
    if exists is None:
        tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise ValueError("it is an SQLite database, but not a plano obs ledger")
        return None
    row = con.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise ValueError("its schema version is missing")
    return int(row[0])


def create(con: sqlite3.Connection, version: int = SCHEMA_VERSION) -> None:
    """Create the tables of ``version`` in an empty database (in the caller's transaction)."""
    for v in range(1, version + 1):
        _run(con, STEPS[v])
    con.execute("INSERT INTO ledger_meta VALUES ('schema_version', ?)", (str(version),))


def migrate(con: sqlite3.Connection, from_version: int) -> None:
    """Bring a ledger from ``from_version`` to SCHEMA_VERSION (in the caller's transaction)."""
    for v in range(from_version + 1, SCHEMA_VERSION + 1):
        _run(con, STEPS[v])
    con.execute("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION),))


def _run(con: sqlite3.Connection, script: str) -> None:
    # executescript() would commit the caller's transaction; statements one by one do not.
    for statement in statements(script):
        con.execute(statement)


def statements(script: str) -> list[str]:
    """The statements of a DDL script, without comment lines."""
    out = []
    for statement in script.split(";"):
        lines = [ln for ln in statement.splitlines() if not ln.lstrip().startswith("--")]
        if "".join(lines).strip():
            out.append("\n".join(lines))
    return out
