"""The embedded engine: one SQLite file in WAL mode, one writing process at a time.

WAL lets any number of readers (a second console, ``plano obs export --ledger``) read a
consistent snapshot while one process writes, and a committed transaction survives a killed
process. ``synchronous=NORMAL`` skips the fsync at each commit: a power cut may lose the last
commits, a crash of the process never does. With one writer, call ids are in commit order, so
"every call up to id N" is what derived rows hold.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from plano_obs.ledger import _schema

__all__ = ["SqliteEngine", "describe"]

_BUSY_TIMEOUT_MS = 5_000


class SqliteEngine:
    """A ledger file."""

    name = "sqlite"
    shared = False
    position = "c.id"
    begin_write = "BEGIN IMMEDIATE"
    begin_snapshot = "BEGIN"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.label = str(self.path)
        self._writer_lock: Any = None

    # -- connections ----------------------------------------------------------------------

    def open(self, *, readonly: bool) -> None:
        """Before connecting: a writer takes the file's lock."""
        if not readonly:
            self.take_writer_lock()

    def take_writer_lock(self) -> None:
        """One writing process per file: derived rows follow that process's own calls."""
        from plano_obs.ledger._ledger import LedgerError

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

    def release_writer_lock(self) -> None:
        """Let another process write the file."""
        f, self._writer_lock = self._writer_lock, None
        if f is not None:
            f.close()  # closing the file drops the lock

    def connect(self, *, write: bool) -> sqlite3.Connection:
        """The writer's connection, or a read-only one."""
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                  timeout=_BUSY_TIMEOUT_MS / 1000)
        else:
            if not self.path.exists():
                from plano_obs.ledger._ledger import LedgerError

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

    def close(self) -> None:
        """Drop the writer's lock."""
        self.release_writer_lock()

    # -- schema -----------------------------------------------------------------------------

    def version(self, con: sqlite3.Connection) -> int | None:
        """The schema version the file holds; None for an empty file."""
        return _schema.schema_version(con)

    def prepare(self, con: sqlite3.Connection, created_ns: int,
                version: Callable[[Any], int | None]) -> None:
        """WAL mode, then create or migrate the schema in one transaction."""
        if con.execute("PRAGMA page_count").fetchone()[0] == 0:
            # Pages freed by pruning go back to the file system (only settable when empty).
            con.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            from plano_obs.ledger._ledger import LedgerError

            raise LedgerError(f"ledger {self.path}: cannot use WAL mode ({mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("BEGIN IMMEDIATE")
        try:
            found = version(con)
            if found is None:
                _schema.create(con)
                con.execute("INSERT INTO ledger_meta VALUES ('created_ns', ?)",
                            (str(created_ns),))
            elif found < _schema.SCHEMA_VERSION:
                _schema.migrate(con, found)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # -- dialect ----------------------------------------------------------------------------

    def insert(self, con: sqlite3.Connection, table: str, columns: tuple[str, ...],
               rows: Sequence[Sequence[Any]]) -> int:
        """Insert rows (the store never hands the same span twice); returns how many."""
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        return con.executemany(sql, rows).rowcount

    def size_bytes(self, con: Any = None) -> int:
        """The file and its write-ahead log, in bytes."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(str(self.path) + suffix)
            except OSError:
                pass
        return total

    def used_bytes(self, con: sqlite3.Connection) -> int:
        """Bytes the file's pages hold (free pages left by pruning not counted)."""
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def reclaim(self, con: sqlite3.Connection, pages: int = 10_000) -> None:
        """Give free pages back to the file system, a bounded number at a time."""
        con.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()

    def describe(self, e: BaseException) -> str:
        """One line saying why the file failed."""
        return describe(e, self.path)


def describe(e: BaseException, path: str | Path) -> str:
    """One line saying why the ledger at ``path`` failed."""
    from plano_obs.ledger._ledger import LedgerError

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
