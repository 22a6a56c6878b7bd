"""The embedded ledger: one SQLite file in WAL mode, written before the exporter is answered.

WAL lets any number of readers (a second console, ``plano obs export --ledger``) read a
consistent snapshot while one process writes, and a committed transaction survives a killed
process. ``synchronous=NORMAL`` skips the fsync at each commit: a power cut may lose the last
commits, a crash of the process never does.

Every failure the file can have (full disk, read-only, locked, corrupt, written by a newer
version) surfaces as a ``LedgerError`` with a one-line message; callers switch to memory-only
mode instead of failing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plano_obs.ledger import _rows, _schema
from plano_obs.ledger._rows import CALL_FROM, CALL_SELECT, FAILED, FLAGGED
from plano_obs.model import LLMCall, SpanRecord

__all__ = ["Ledger", "LedgerError", "LedgerInfo", "open_for_reading"]

_BUSY_TIMEOUT_MS = 5_000
#: The condition of the partial index ``calls_kept`` (a query must say it to use the index).
_KEPT_WHERE = "c.flags & 3 != 0"
#: How far apart the end times of one trace's LLM calls are looked for around a kept one.
_TRACE_SPREAD_NS = 3600 * 10**9
_INSERT_CALL = (f"INSERT INTO calls ({', '.join(_rows.CALL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_rows.CALL_COLUMNS))})")
_INSERT_SPAN = (f"INSERT INTO spans ({', '.join(_rows.SPAN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_rows.SPAN_COLUMNS))})")


class LedgerError(RuntimeError):
    """The ledger cannot be used; the message is one line for the user."""


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


def describe(e: BaseException, path: str | Path) -> str:
    """One line saying why the ledger at ``path`` failed."""
    name = getattr(e, "sqlite_errorname", "") or ""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, LedgerError):
        return str(e)
    if name == "SQLITE_FULL" or "disk is full" in text or getattr(e, "errno", None) == 28:
        why = "the disk is full"
    elif name.startswith("SQLITE_READONLY") or "readonly" in text or isinstance(
            e, PermissionError):
        why = "it is read-only"
    elif name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED") or "locked" in text:
        why = "another process holds a lock on it"
    elif name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or \
            "not a database" in text:
        why = "it is damaged or not a ledger"
    elif name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        why = "it cannot be opened: its directory is missing or read-only, or no permission"
    elif name.startswith("SQLITE_IOERR") or isinstance(e, OSError):
        why = f"a read or write failed ({text})"
    else:
        why = text
    return f"ledger {path}: {why}"


class Ledger:
    """A ledger file: raw LLM calls, the span trees of flagged and failed calls, derived rows."""

    def __init__(self, path: str | Path, *, readonly: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.clock = clock
        self._lock = threading.RLock()  # the write connection and the caches below
        self._local = threading.local()  # one read connection per thread
        self._readers: list[sqlite3.Connection] = []
        self._kinds: dict[tuple[Any, ...], int] = {}
        self._prices: dict[tuple[Any, ...], int] = {}
        self._closed = False
        self._writer_lock: Any = None
        try:
            if not readonly:
                self._take_writer_lock()
            self._con = self._connect(write=not readonly)
            if not readonly:
                self._open_for_writing()
            else:
                self._check_readable()
            self._load_names()
        except (sqlite3.Error, OSError) as e:
            self._release_writer_lock()
            raise LedgerError(describe(e, self.path)) from None
        except LedgerError:
            self._release_writer_lock()
            raise

    # -- opening ------------------------------------------------------------------------------

    def _take_writer_lock(self) -> None:
        """One writing process per file: derived rows follow that process's own calls."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(str(self.path) + ".lock", "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise LedgerError(
                f"ledger {self.path}: another plano obs (pid {pid}) is writing it; give this "
                f"one its own --ledger, or --ledger none") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._writer_lock = f

    def _release_writer_lock(self) -> None:
        f, self._writer_lock = self._writer_lock, None
        if f is not None:
            f.close()  # closing the file drops the lock

    def _connect(self, *, write: bool) -> sqlite3.Connection:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                  timeout=_BUSY_TIMEOUT_MS / 1000)
        else:
            if not self.path.exists():
                raise LedgerError(f"ledger {self.path}: no such file")
            con = self._read_connection()
        con.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        return con

    def _read_connection(self) -> sqlite3.Connection:
        uri = f"file:{self.path}?mode=ro"
        con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                              timeout=_BUSY_TIMEOUT_MS / 1000)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL file in a read-only directory: nobody can be writing it, so read it as an
            # unchanging file (no shared-memory index needed).
            con.close()
            con = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                                  check_same_thread=False)
        return con

    def _open_for_writing(self) -> None:
        con = self._con
        if con.execute("PRAGMA page_count").fetchone()[0] == 0:
            # Pages freed by pruning go back to the file system (only settable when empty).
            con.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise LedgerError(f"ledger {self.path}: cannot use WAL mode ({mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(con)
            if version is None:
                _schema.create(con)
                con.execute("INSERT INTO ledger_meta VALUES ('created_ns', ?)",
                            (str(int(self.clock() * 1e9)),))
            elif version < _schema.SCHEMA_VERSION:
                _schema.migrate(con, version)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _check_readable(self) -> None:
        version = self._version(self._con)
        if version is None:
            raise LedgerError(f"ledger {self.path}: empty, not a ledger yet")
        if version < _schema.SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path}: schema version {version} is older than this plano obs "
                f"({_schema.SCHEMA_VERSION}); open it once with the console (or `plano obs "
                f"ledger info`) to upgrade it")

    def _version(self, con: sqlite3.Connection) -> int | None:
        try:
            version = _schema.schema_version(con)
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
            f"SELECT id, {cols} FROM call_kinds")}
        self._prices = {tuple(r[1:]): r[0] for r in con.execute(
            "SELECT id, cost_source, catalog_entry, pricing_source FROM prices")}

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (readers never block the writer in WAL mode)."""
        con = getattr(self._local, "con", None)
        if con is None:
            if self._closed:
                raise LedgerError(f"ledger {self.path}: closed")
            try:
                con = self._read_connection()
                con.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            except sqlite3.Error as e:
                raise LedgerError(describe(e, self.path)) from None
            self._local.con = con
            with self._lock:
                self._readers.append(con)
        return con

    def close(self) -> None:
        """Close every connection; a clean close also checkpoints the WAL into the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for con in [*self._readers, self._con]:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._release_writer_lock()

    # -- writing ------------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held while writing; whoever combines a write with other state takes it first."""
        return self._lock

    def write(self, calls: Sequence[LLMCall], spans: Sequence[SpanRecord | LLMCall] = ()) -> int:
        """Add calls and spans of kept traces in one transaction; returns the last call id.

        An LLMCall among ``spans`` is stored as its span (attributes and signal events).
        """
        with self._lock:
            con = self._con
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    rows = [_rows.call_row(c, self._kind_id, self._price_id) for c in calls]
                    cur = con.executemany(_INSERT_CALL, rows)
                    if spans:
                        con.executemany(_INSERT_SPAN, [
                            _rows.llm_span_row(s) if isinstance(s, LLMCall) else _rows.span_row(s)
                            for s in spans])
                    last = con.execute("SELECT max(id) FROM calls").fetchone()[0] if rows else 0
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    self._load_names()  # names the rolled-back transaction added are gone
                    raise
            except sqlite3.Error as e:
                raise LedgerError(describe(e, self.path)) from None
            del cur
            return int(last or 0)

    def _kind_id(self, call: LLMCall) -> int:
        key = _rows.kind_key(call)
        kid = self._kinds.get(key)
        if kid is None:
            cur = self._con.execute(
                f"INSERT INTO call_kinds ({', '.join(_rows.KIND_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(key))})", key)
            kid = self._kinds[key] = int(cur.lastrowid or 0)
        return kid

    def _price_id(self, key: tuple[str | None, str | None, str | None]) -> int:
        pid = self._prices.get(key)
        if pid is None:
            cur = self._con.execute(
                "INSERT INTO prices (cost_source, catalog_entry, pricing_source) VALUES (?, ?, ?)",
                key)
            pid = self._prices[key] = int(cur.lastrowid or 0)
        return pid

    # -- reading ------------------------------------------------------------------------------

    def _select_calls(self, where: str, args: Iterable[Any] = (), order: str = "c.id DESC",
                      limit: int | None = None) -> list[Any]:
        sql = f"SELECT {CALL_SELECT} FROM {CALL_FROM} WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._read(lambda con: con.execute(sql, tuple(args)).fetchall())

    def _read(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            return work(self.reader())
        except sqlite3.Error as e:
            raise LedgerError(describe(e, self.path)) from None

    def recent_calls(self, limit: int) -> list[LLMCall]:
        """The newest calls by arrival, newest first."""
        return [_rows.call_of(r) for r in self._select_calls("1", limit=limit)]

    def calls_in(self, lo_ns: int | None = None, hi_ns: int | None = None, *,
                 after_id: int = 0, batch: int = 5_000) -> Iterator[tuple[int, LLMCall]]:
        """(id, call) of every call ending in ``[lo_ns, hi_ns)`` with id > ``after_id``, in
        end-time order, read in batches (never the whole table at once)."""
        lo = -(2**63) if lo_ns is None else lo_ns
        hi = 2**63 - 1 if hi_ns is None else hi_ns
        last_end, last_id = lo, -1
        while True:
            rows = self._select_calls(
                "(c.end_ns > ? OR (c.end_ns = ? AND c.id > ?)) AND c.end_ns < ? AND c.id > ?",
                (last_end, last_end, last_id, hi, after_id), order="c.end_ns, c.id",
                limit=batch) if last_id >= 0 else self._select_calls(
                "c.end_ns >= ? AND c.end_ns < ? AND c.id > ?", (lo, hi, after_id),
                order="c.end_ns, c.id", limit=batch)
            for r in rows:
                yield r[0], _rows.call_of(r)
            if len(rows) < batch:
                return
            last_end, last_id = rows[-1][1], rows[-1][0]

    def calls_after(self, after_id: int, batch: int = 5_000) -> Iterator[tuple[int, LLMCall]]:
        """(id, call) of every call with id > ``after_id``, in id order."""
        last = after_id
        while True:
            rows = self._select_calls("c.id > ?", (last,), order="c.id", limit=batch)
            for r in rows:
                yield r[0], _rows.call_of(r)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def kept_calls(self, flags: int, limit: int, *, max_id: int | None = None,
                   lo_ns: int | None = None, hi_ns: int | None = None) -> list[LLMCall]:
        """The newest calls with any of ``flags`` (FLAGGED, FAILED), newest first; at most
        ``max_id``, ending in ``[lo_ns, hi_ns)`` when given."""
        where, args = f"c.flags & {int(flags)} != 0", []
        for clause, value in (("c.id <= ?", max_id), ("c.end_ns >= ?", lo_ns),
                              ("c.end_ns < ?", hi_ns)):
            if value is not None:
                where += f" AND {clause}"
                args.append(value)
        return [_rows.call_of(r) for r in self._select_calls(where, args, limit=limit)]

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
        return [_rows.call_of(r) for r in reversed(rows)], int(total)

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
            con.execute("BEGIN")
        except sqlite3.Error as e:
            raise LedgerError(describe(e, self.path)) from None
        try:
            yield
        finally:
            if con.in_transaction:
                con.execute("COMMIT")

    def begin_snapshot(self) -> None:
        """Pin this thread's reads to the file as it is now, until ``close``."""
        con = self.reader()
        if not con.in_transaction:
            try:
                con.execute("BEGIN")
                con.execute("SELECT 1 FROM ledger_meta LIMIT 1").fetchall()
            except sqlite3.Error as e:
                raise LedgerError(describe(e, self.path)) from None

    def get_call(self, trace_id: str, span_id: str) -> LLMCall | None:
        """One call by its ids, with its span's attributes and signal events when kept."""
        ids = (_rows.id_bytes(trace_id), _rows.id_bytes(span_id))
        # Flagged and failed calls (the ones drilled into after a restart) through the partial
        # index; any other call not held in memory costs a scan of the table.
        rows = self._select_calls(f"{_KEPT_WHERE} AND c.trace_id = ? AND c.span_id = ?", ids,
                                  limit=1) or self._select_calls(
            "c.trace_id = ? AND c.span_id = ?", ids, limit=1)
        if not rows:
            return None
        span = self._read(lambda con: con.execute(
            "SELECT attributes, events FROM spans WHERE trace_id = ? AND span_id = ? AND is_llm",
            (_rows.id_bytes(trace_id), _rows.id_bytes(span_id))).fetchone())
        if span is None:
            return _rows.call_of(rows[0])
        attributes = json.loads(span[0]) if span[0] else {}
        return _rows.call_of(rows[0], _rows.signal_events(span[1]), attributes)

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
            ends = [r[1] for r in kept]
            rows = self._select_calls("c.end_ns >= ? AND c.end_ns <= ? AND c.trace_id = ?",
                                      (min(ends) - _TRACE_SPREAD_NS, max(ends) + _TRACE_SPREAD_NS,
                                       tid), order="c.start_ns, c.id")
        else:
            rows = self._select_calls("c.trace_id = ?", (tid,), order="c.start_ns, c.id")
        return [_rows.call_of(r) for r in rows]

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
        """The file and its write-ahead log, in bytes."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(str(self.path) + suffix)
            except OSError:
                pass
        return total

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
        """The id of the newest call (0 when empty)."""
        row = self._read(lambda con: con.execute("SELECT max(id) FROM calls").fetchone())
        return int(row[0] or 0)

    def last_reprice(self) -> tuple[int, str, int, int, int] | None:
        """(when, price source, calls, total before, total after) of the latest reprice."""
        return self._read(lambda con: con.execute(
            "SELECT at_ns, pricing_source, calls, before_nano, after_nano FROM reprices "
            "ORDER BY at_ns DESC LIMIT 1").fetchone())

    def used_bytes(self) -> int:
        """Bytes the ledger's pages hold (free pages left by pruning not counted)."""
        def used(con: sqlite3.Connection) -> int:
            pages = con.execute("PRAGMA page_count").fetchone()[0]
            free = con.execute("PRAGMA freelist_count").fetchone()[0]
            size = con.execute("PRAGMA page_size").fetchone()[0]
            return int((pages - free) * size)
        return int(self._read(used))

    def meta_sum(self, table: str, column: str) -> int:
        """The sum of a column of a log table (``prunes``, ``reprices``)."""
        row = self._read(lambda con: con.execute(
            f"SELECT coalesce(sum({column}), 0) FROM {table}").fetchone())
        return int(row[0])

    def reclaim(self, pages: int = 10_000) -> None:
        """Give free pages back to the file system, a bounded number at a time."""
        with self._lock:
            try:
                self._con.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
            except sqlite3.Error as e:
                raise LedgerError(describe(e, self.path)) from None

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
    writer's lock, briefly)."""
    try:
        return Ledger(path, readonly=True)
    except LedgerError as e:
        if "is older than this plano obs" not in str(e):
            raise
    Ledger(path).close()  # migrates forward
    return Ledger(path, readonly=True)
