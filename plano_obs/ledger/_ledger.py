"""The ledger: raw LLM calls, the span trees of flagged and failed calls, derived rows.

One class for both engines: an embedded SQLite file (``_sqlite``, the default) or a
PostgreSQL database many receivers write (``_postgres``, chosen by a ``postgresql://`` URL).
What differs between them (connecting, types, inserting a span twice, who may write, the
order calls become final in) lives in the engine; rows, derived rows, pruning and repricing
are written once, here and in the modules beside it.

Every failure of the ledger (full disk, read-only, locked, corrupt, written by a newer
version, a database that refuses or went away) surfaces as a ``LedgerError`` with a one-line
message that never holds a password.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from plano_obs.ledger import _rows, _schema
from plano_obs.ledger._rows import CALL_FROM, CALL_SELECT, FAILED, FLAGGED
from plano_obs.ledger._sqlite import SqliteEngine, describe
from plano_obs.locations import is_database_url
from plano_obs.model import LLMCall, SpanRecord

__all__ = ["Engine", "Ledger", "LedgerError", "LedgerInfo", "SharedEngine", "describe",
           "open_for_reading"]

#: The condition of the partial index ``calls_kept`` (a query must say it to use the index).
_KEPT_WHERE = "c.flags & 3 != 0"
#: How far apart the end times of one trace's LLM calls are looked for around a kept one.
_TRACE_SPREAD_NS = 3600 * 10**9


class LedgerError(RuntimeError):
    """The ledger cannot be used; the message is one line for the user."""


class Engine(Protocol):
    """What differs between the embedded file and a shared database."""

    name: str
    #: Many processes write (dedup and derived rows are the database's business).
    shared: bool
    #: The column that orders calls by when they became final ("every call up to N").
    position: str
    begin_write: str
    begin_snapshot: str
    errors: tuple[type[BaseException], ...]
    #: The location as it may be shown (no password).
    label: str

    def open(self, *, readonly: bool) -> None: ...

    def connect(self, *, write: bool) -> Any: ...

    def close(self) -> None: ...

    def version(self, con: Any) -> int | None: ...

    def prepare(self, con: Any, created_ns: int, check: Callable[[Any], int | None]) -> None: ...

    def insert(self, con: Any, table: str, columns: tuple[str, ...],
               rows: Sequence[Sequence[Any]]) -> int: ...

    def size_bytes(self, con: Any) -> int: ...

    def used_bytes(self, con: Any) -> int: ...

    def reclaim(self, con: Any) -> None: ...

    def describe(self, e: BaseException) -> str: ...


class SharedEngine(Engine, Protocol):
    """An engine many processes write at once: derived rows follow a watermark."""

    derive_lock_id: int

    def watermark(self, con: Any) -> int: ...

    def try_derive_lock(self, con: Any) -> bool: ...

    def try_deriver_lock(self, con: Any) -> bool: ...

    def release_deriver_lock(self, con: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class LedgerInfo:
    """What a ledger holds: for the header and ``plano obs ledger info``."""

    path: str
    size_bytes: int
    calls: int
    first_ns: int | None
    last_ns: int | None
    schema_version: int
    pruned_calls: int = 0
    last_prune_ns: int | None = None


def engine_for(location: str | Path) -> Engine:
    """The engine a ``--ledger`` value selects: a PostgreSQL URL, else a file path."""
    if is_database_url(location):
        from plano_obs.ledger._postgres import PostgresEngine

        return PostgresEngine(str(location))
    return SqliteEngine(location)


class Ledger:
    """A ledger: raw LLM calls, the span trees of flagged and failed calls, derived rows."""

    def __init__(self, path: str | Path, *, readonly: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine: Engine = engine_for(path)
        #: Where it is, as given (a URL with its password): to open it again, never to show.
        self.location = path
        #: Where it is, as it may be shown (a database URL without its password).
        self.path: Any = self.engine.label if self.engine.shared else Path(path)
        self.readonly = readonly
        self.clock = clock
        self._lock = threading.RLock()  # the write connection and the caches below
        self._local = threading.local()  # one read connection per thread
        self._readers: list[Any] = []
        self._kinds: dict[tuple[Any, ...], int] = {}
        self._prices: dict[tuple[Any, ...], int] = {}
        self._closed = False
        engine = self.engine
        try:
            engine.open(readonly=readonly)
            self._con = engine.connect(write=not readonly)
            if not readonly:
                engine.prepare(self._con, int(self.clock() * 1e9), self._version)
            else:
                self._check_readable()
            self._load_names()
        except engine.errors as e:
            engine.close()
            raise LedgerError(engine.describe(e)) from None
        except LedgerError:
            engine.close()
            raise

    @property
    def shared(self) -> bool:
        """Whether many processes write this ledger (a PostgreSQL database)."""
        return self.engine.shared

    @property
    def shared_engine(self) -> SharedEngine:
        """The engine of a shared database (only when ``shared``)."""
        if not self.engine.shared:
            raise TypeError("not a shared ledger")
        return self.engine  # type: ignore[return-value]

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions the engine raises (each becomes a ``LedgerError``)."""
        return self.engine.errors

    def error(self, e: BaseException) -> LedgerError:
        """The one-line ``LedgerError`` of an engine's exception."""
        return LedgerError(self.engine.describe(e))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """The write connection inside one transaction (committed at the end, rolled back on
        an error); the ledger's lock is held throughout."""
        with self._lock:
            con = self._con
            try:
                con.execute(self.engine.begin_write)
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
            except self.engine.errors as e:
                raise self.error(e) from None

    # -- opening ------------------------------------------------------------------------------

    def _check_readable(self) -> None:
        version = self._version(self._con)
        if version is None:
            raise LedgerError(f"ledger {self.path}: empty, not a ledger yet")
        if version < _schema.SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path}: schema version {version} is older than this plano obs "
                f"({_schema.SCHEMA_VERSION}); open it once with the console (or `plano obs "
                f"ledger info`) to upgrade it")

    def _version(self, con: Any) -> int | None:
        try:
            version = self.engine.version(con)
        except ValueError as e:
            raise LedgerError(f"ledger {self.path}: {e}") from None
        if version is not None and version > _schema.SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path}: written by a newer plano obs (schema version {version}, "
                f"this one reads up to {_schema.SCHEMA_VERSION}); upgrade plano obs or choose "
                f"another --ledger")
        return version

    def _load_names(self) -> None:
        con = self._con
        cols = ", ".join(_rows.KIND_COLUMNS)
        self._kinds = {tuple(r[1:]): r[0] for r in con.execute(
            f"SELECT id, {cols} FROM call_kinds").fetchall()}
        self._prices = {tuple(r[1:]): r[0] for r in con.execute(
            "SELECT id, cost_source, catalog_entry, pricing_source FROM prices").fetchall()}

    def reader(self) -> Any:
        """This thread's read connection (readers never block the writer)."""
        con = getattr(self._local, "con", None)
        if con is None:
            if self._closed:
                raise LedgerError(f"ledger {self.path}: closed")
            try:
                con = self.engine.connect(write=False)
            except self.engine.errors as e:
                raise self.error(e) from None
            self._local.con = con
            with self._lock:
                self._readers.append(con)
        return con

    def close(self) -> None:
        """Close every connection; a clean close of a file also checkpoints its WAL."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for con in [*self._readers, self._con]:
                try:
                    con.close()
                except self.engine.errors:
                    pass
            self.engine.close()

    # -- writing ------------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held while writing; whoever combines a write with other state takes it first."""
        return self._lock

    def write(self, calls: Sequence[LLMCall], spans: Sequence[SpanRecord | LLMCall] = ()) -> int:
        """Add calls and spans of kept traces in one transaction; returns how many calls were
        new (a shared database already holding a span leaves it alone).

        An LLMCall among ``spans`` is stored as its span (attributes and signal events).
        ``last_written`` is then the id of the newest call. A shared database's connection
        that broke (the server restarted) is replaced once, and the write done again: it is
        idempotent there (a span already stored is left alone).
        """
        try:
            return self._write(calls, spans)
        except LedgerError:
            if not self.engine.shared or not getattr(self._con, "reconnects", False):
                raise
        return self._write(calls, spans)

    def _write(self, calls: Sequence[LLMCall], spans: Sequence[SpanRecord | LLMCall]) -> int:
        with self._lock:
            con = self._con
            try:
                con.execute(self.engine.begin_write)
                try:
                    rows = [_rows.call_row(c, self._kind_id, self._price_id) for c in calls]
                    added = 0
                    if rows:
                        added = self.engine.insert(con, "calls", _rows.CALL_COLUMNS, rows)
                    if spans:
                        self.engine.insert(con, "spans", _rows.SPAN_COLUMNS, [
                            _rows.llm_span_row(s) if isinstance(s, LLMCall) else _rows.span_row(s)
                            for s in spans])
                    last = 0
                    if rows and not self.engine.shared:
                        last = con.execute("SELECT max(id) FROM calls").fetchone()[0]
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    self._kinds.clear()  # names the rolled-back transaction added are gone
                    self._prices.clear()
                    raise
            except self.engine.errors as e:
                raise self.error(e) from None
            if last:
                self.last_written = int(last)
            if added < 0:  # a driver that cannot count: every row was new
                added = len(rows)
            return int(added)

    last_written = 0

    def _kind_id(self, call: LLMCall) -> int:
        key = _rows.kind_key(call)
        kid = self._kinds.get(key)
        if kid is None:
            if not self._kinds:
                self._load_names()
                kid = self._kinds.get(key)
        if kid is None:
            kid = self._kinds[key] = int(self._con.execute(
                f"INSERT INTO call_kinds ({', '.join(_rows.KIND_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(key))}) RETURNING id", key).fetchone()[0])
        return kid

    def _price_id(self, key: tuple[str | None, str | None, str | None]) -> int:
        pid = self._prices.get(key)
        if pid is None:
            if not self._prices:
                self._load_names()
                pid = self._prices.get(key)
        if pid is None:
            pid = self._prices[key] = int(self._con.execute(
                "INSERT INTO prices (cost_source, catalog_entry, pricing_source) "
                "VALUES (?, ?, ?) RETURNING id", key).fetchone()[0])
        return pid

    # -- reading ------------------------------------------------------------------------------

    def _select_calls(self, where: str, args: Iterable[Any] = (), order: str = "c.id DESC",
                      limit: int | None = None) -> list[Any]:
        """Rows of (position, CALL_SELECT...): ``row[1:]`` is what ``call_of`` reads."""
        sql = (f"SELECT {self.engine.position}, {CALL_SELECT} FROM {CALL_FROM} WHERE {where} "
               f"ORDER BY {order}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._read(lambda con: con.execute(sql, tuple(args)).fetchall())

    def _read(self, work: Callable[[Any], Any]) -> Any:
        try:
            return work(self.reader())
        except self.engine.errors as e:
            raise self.error(e) from None

    def recent_calls(self, limit: int, *, through: int | None = None) -> list[LLMCall]:
        """The newest calls by arrival, newest first (at most position ``through``)."""
        where, args = "1 = 1", []
        if through is not None:
            where, args = f"{self.engine.position} <= ?", [through]
        return [_rows.call_of(r[1:]) for r in self._select_calls(where, args, limit=limit)]

    def calls_in(self, lo_ns: int | None = None, hi_ns: int | None = None, *,
                 batch: int = 5_000) -> Iterator[tuple[int, LLMCall]]:
        """(position, call) of every call ending in ``[lo_ns, hi_ns)``, in end-time order, read
        in batches (never the whole table at once)."""
        lo = -(2**63) if lo_ns is None else lo_ns
        hi = 2**63 - 1 if hi_ns is None else hi_ns
        last_end, last_id = lo, -1
        while True:
            rows = self._select_calls(
                "(c.end_ns > ? OR (c.end_ns = ? AND c.id > ?)) AND c.end_ns < ?",
                (last_end, last_end, last_id, hi), order="c.end_ns, c.id",
                limit=batch) if last_id >= 0 else self._select_calls(
                "c.end_ns >= ? AND c.end_ns < ?", (lo, hi), order="c.end_ns, c.id",
                limit=batch)
            for r in rows:
                yield r[0], _rows.call_of(r[1:])
            if len(rows) < batch:
                return
            last_end, last_id = rows[-1][2], rows[-1][1]

    def calls_after(self, after: int, batch: int = 5_000, *,
                    through: int | None = None) -> Iterator[tuple[int, LLMCall]]:
        """(position, call) of every call with a position above ``after`` (and at most
        ``through``), in position order."""
        pos = self.engine.position
        upto = "" if through is None else f" AND {pos} <= {int(through)}"
        if pos == "c.id":
            last = after
            while True:
                rows = self._select_calls(f"c.id > ?{upto}", (last,), order="c.id",
                                          limit=batch)
                for r in rows:
                    yield r[0], _rows.call_of(r[1:])
                if len(rows) < batch:
                    return
                last = rows[-1][0]
        last_pos, last_id = after, None
        while True:
            if last_id is None:
                rows = self._select_calls(f"{pos} > ?{upto}", (last_pos,),
                                          order=f"{pos}, c.id", limit=batch)
            else:
                rows = self._select_calls(f"({pos}, c.id) > (?, ?){upto}", (last_pos, last_id),
                                          order=f"{pos}, c.id", limit=batch)
            for r in rows:
                yield r[0], _rows.call_of(r[1:])
            if len(rows) < batch:
                return
            last_pos, last_id = rows[-1][0], rows[-1][1]

    def kept_calls(self, flags: int, limit: int, *, max_id: int | None = None,
                   lo_ns: int | None = None, hi_ns: int | None = None) -> list[LLMCall]:
        """The newest calls with any of ``flags`` (FLAGGED, FAILED), newest first; at most
        ``max_id``, ending in ``[lo_ns, hi_ns)`` when given."""
        where, args = f"c.flags & {int(flags)} != 0", []
        for clause, value in ((f"{self.engine.position} <= ?", max_id), ("c.end_ns >= ?", lo_ns),
                              ("c.end_ns < ?", hi_ns)):
            if value is not None:
                where += f" AND {clause}"
                args.append(value)
        return [_rows.call_of(r[1:]) for r in self._select_calls(where, args, limit=limit)]

    def newest_calls_in(self, lo_ns: int | None, hi_ns: int | None,
                        limit: int) -> tuple[list[LLMCall], int]:
        """At most ``limit`` of the newest calls ending in ``[lo_ns, hi_ns)``, oldest first, and
        how many calls end there in all (one snapshot)."""
        lo = -(2**63) if lo_ns is None else lo_ns
        hi = 2**63 - 1 if hi_ns is None else hi_ns
        with self.snapshot():
            total = self._read(lambda con: con.execute(
                "SELECT count(*) FROM calls WHERE end_ns >= ? AND end_ns < ?",
                (lo, hi)).fetchone()[0])
            rows = self._select_calls("c.end_ns >= ? AND c.end_ns < ?", (lo, hi),
                                      order="c.end_ns DESC, c.id DESC", limit=limit)
        return [_rows.call_of(r[1:]) for r in reversed(rows)], int(total)

    def catalog_entries(self) -> set[str]:
        """The catalog entries the stored calls were priced from."""
        rows = self._read(lambda con: con.execute(
            "SELECT DISTINCT catalog_entry FROM prices WHERE catalog_entry IS NOT NULL"
        ).fetchall())
        return {r[0] for r in rows}

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read of this thread inside sees the file as it was when it began."""
        con = self.reader()
        if con.in_transaction:  # already inside one
            yield
            return
        try:
            con.execute(self.engine.begin_snapshot)
        except self.engine.errors as e:
            raise self.error(e) from None
        try:
            yield
        finally:
            if con.in_transaction:
                try:
                    con.execute("COMMIT")
                except self.engine.errors:
                    pass  # a connection that went away ended its transaction

    def begin_snapshot(self) -> None:
        """Pin this thread's reads to the file as it is now, until ``close``."""
        con = self.reader()
        if not con.in_transaction:
            try:
                con.execute(self.engine.begin_snapshot)
                con.execute("SELECT 1 FROM ledger_meta LIMIT 1").fetchall()
            except self.engine.errors as e:
                raise self.error(e) from None

    def get_call(self, trace_id: str, span_id: str) -> LLMCall | None:
        """One call by its ids, with its span's attributes and signal events when kept."""
        ids = (_rows.id_bytes(trace_id), _rows.id_bytes(span_id))
        # Flagged and failed calls (the ones drilled into after a restart) through the partial
        # index; any other call not held in memory costs a scan of the file's table.
        rows = self._select_calls(f"{_KEPT_WHERE} AND c.trace_id = ? AND c.span_id = ?", ids,
                                  limit=1) or self._select_calls(
            "c.trace_id = ? AND c.span_id = ?", ids, limit=1)
        if not rows:
            return None
        span = self._read(lambda con: con.execute(
            "SELECT attributes, events FROM spans WHERE trace_id = ? AND span_id = ? "
            "AND is_llm = 1",
            (_rows.id_bytes(trace_id), _rows.id_bytes(span_id))).fetchone())
        if span is None:
            return _rows.call_of(rows[0][1:])
        attributes = json.loads(span[0]) if span[0] else {}
        return _rows.call_of(rows[0][1:], _rows.signal_events(span[1]), attributes)

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """The stored spans of a trace (context spans still raw), in start order."""
        cols = ", ".join(_rows.SPAN_COLUMNS)
        rows = self._read(lambda con: con.execute(
            f"SELECT {cols} FROM spans WHERE trace_id = ? ORDER BY start_ns, id",
            (_rows.id_bytes(trace_id),)).fetchall())
        return [_rows.span_of(r) for r in rows]

    def trace_calls(self, trace_id: str) -> list[LLMCall]:
        """The calls of a trace, in start order."""
        tid = _rows.id_bytes(trace_id)
        kept = self._select_calls(f"{_KEPT_WHERE} AND c.trace_id = ?", (tid,))
        if kept:  # its other calls ended near it: read that stretch only
            ends = [r[2] for r in kept]  # rows are (position, id, end_ns, ...)
            rows = self._select_calls("c.end_ns >= ? AND c.end_ns <= ? AND c.trace_id = ?",
                                      (min(ends) - _TRACE_SPREAD_NS, max(ends) + _TRACE_SPREAD_NS,
                                       tid), order="c.start_ns, c.id")
        else:
            rows = self._select_calls("c.trace_id = ?", (tid,), order="c.start_ns, c.id")
        return [_rows.call_of(r[1:]) for r in rows]

    def span_keys(self, limit: int) -> list[str]:
        """trace id + span id of the newest calls (an exporter may still retry them)."""
        rows = self._read(lambda con: con.execute(
            "SELECT trace_id, span_id FROM calls ORDER BY id DESC LIMIT ?", (limit,)).fetchall())
        text = _rows.id_text
        return [(text(t) or "") + (text(s) or "") for t, s in reversed(rows)]

    def meta(self, key: str) -> str | None:
        """A value of ``ledger_meta``."""
        row = self._read(lambda con: con.execute(
            "SELECT value FROM ledger_meta WHERE key = ?", (key,)).fetchone())
        return None if row is None else str(row[0])

    def size_bytes(self) -> int:
        """The file and its write-ahead log (a database: its tables and indexes), in bytes."""
        if not self.engine.shared:
            return int(self.engine.size_bytes(None))
        return int(self._read(self.engine.size_bytes))

    def info(self) -> LedgerInfo:
        """Path, size, calls, time span, schema version and what was pruned."""
        from plano_obs.ledger._rollups import Rollups

        first, last = self.time_span()
        pruned = self._read(lambda con: con.execute(
            "SELECT coalesce(sum(calls), 0), max(at_ns) FROM prunes").fetchone())
        return LedgerInfo(str(self.path), self.size_bytes(), Rollups(self).calls_held(), first,
                          last, int(self.meta("schema_version") or 0), int(pruned[0]),
                          pruned[1])

    def pricing_sources(self) -> str | None:
        """The price sources the stored calls were priced from, joined."""
        rows = self._read(lambda con: con.execute(
            "SELECT DISTINCT pricing_source FROM prices WHERE pricing_source IS NOT NULL "
            "ORDER BY 1").fetchall())
        return "; ".join(r[0] for r in rows) or None

    def call_kinds(self) -> list[LLMCall]:
        """A call of each kind stored (model, requested model, provider, API path, ...), with
        no numbers: enough to ask a pricer what prices that kind."""
        cols = ", ".join(_rows.KIND_COLUMNS)
        rows = self._read(lambda con: con.execute(f"SELECT {cols} FROM call_kinds").fetchall())
        return [LLMCall(trace_id="", span_id="", parent_span_id=None, name=r[0], service=r[1],
                        start_ns=0, end_ns=0, request_id="", model=r[2], model_requested=r[3],
                        provider=r[4], api_path=r[5], prompt_tokens=1) for r in rows]

    def calls_from(self, first_id: int) -> int:
        """How many calls have an id of at least ``first_id``."""
        row = self._read(lambda con: con.execute(
            "SELECT count(*) FROM calls WHERE id >= ?", (first_id,)).fetchone())
        return int(row[0])

    def last_id(self) -> int:
        """The position of the newest call (0 when empty): its id in a file, its transaction
        in a shared database."""
        pos = self.engine.position.removeprefix("c.")
        row = self._read(lambda con: con.execute(f"SELECT max({pos}) FROM calls").fetchone())
        return int(row[0] or 0)

    def last_reprice(self) -> tuple[int, str, int, int, int] | None:
        """(when, price source, calls, total before, total after) of the latest reprice."""
        return self._read(lambda con: con.execute(
            "SELECT at_ns, pricing_source, calls, before_nano, after_nano FROM reprices "
            "ORDER BY at_ns DESC LIMIT 1").fetchone())

    def used_bytes(self) -> int:
        """Bytes the ledger's pages hold (free pages left by pruning not counted)."""
        return int(self._read(self.engine.used_bytes))

    def meta_sum(self, table: str, column: str) -> int:
        """The sum of a column of a log table (``prunes``, ``reprices``)."""
        row = self._read(lambda con: con.execute(
            f"SELECT coalesce(sum({column}), 0) FROM {table}").fetchone())
        return int(row[0])

    def reclaim(self, pages: int = 10_000) -> None:
        """Give free pages back to the file system, a bounded number at a time."""
        with self._lock:
            try:
                self.engine.reclaim(self._con)
            except self.engine.errors as e:
                raise self.error(e) from None

    def time_span(self) -> tuple[int | None, int | None]:
        """End time (ns) of the oldest and the newest call held."""
        # Two lookups at the ends of the index (min and max together would scan all of it).
        return self._read(lambda con: con.execute(
            "SELECT (SELECT min(end_ns) FROM calls), (SELECT max(end_ns) FROM calls)"
        ).fetchone())


def kept_flags(call: LLMCall) -> bool:
    """Whether a call's trace is kept in full (flagged or failed)."""
    return call.flagged or call.is_error


KEPT = FLAGGED | FAILED


def open_for_reading(path: str | Path) -> Ledger:
    """A ledger opened read-only, unless its schema needs upgrading first (which takes the
    writer's lock, briefly, or creates a database's tables)."""
    try:
        return Ledger(path, readonly=True)
    except LedgerError as e:
        if "is older than this plano obs" not in str(e) and not (
                is_database_url(path) and "empty, not a ledger yet" in str(e)):
            raise
    Ledger(path).close()  # migrates forward
    return Ledger(path, readonly=True)
