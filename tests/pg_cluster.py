"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp dir, on
a free 127.0.0.1 port, run as a non-root OS user when started by root (initdb refuses root).

Server binaries: $PLANO_OBS_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's
postgresql-NN package), else the directory of ``pg_ctl`` on PATH.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PgCluster", "find_bin_dir"]

SUPERUSER, PASSWORD = "plano", "s3cret-pw"


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are, or None."""
    env = os.environ.get("PLANO_OBS_PG_BIN")
    candidates = [Path(env)] if env else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=lambda p: int(Path(p).parent.name), reverse=True)
                   if Path(p).parent.name.isdigit()]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One cluster; ``url()`` names a database in it."""

    def __init__(self, bin_dir: Path, root: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.port = _free_port()
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="plano-obs-pg-"))
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            try:
                pw = pwd.getpwnam(self._user)
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' OS user to run "
                                   "initdb as") from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        self._dbs = 0

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._user is not None:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({out.returncode}): {out.stderr.strip()} "
                               f"{log[-2000:]}")

    def init(self) -> PgCluster:
        """initdb: a superuser with a password over TCP (scram), trust on the socket."""
        if (self.data / "PG_VERSION").exists():
            return self  # kept from an earlier run (a benchmark reusing its data)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._user is not None:
            pw = pwd.getpwnam(self._user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                  "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        return self

    #: Tests trade durability for speed; a benchmark measuring writes keeps the defaults.
    durable = False

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.root} -c max_connections=200")
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def remove(self) -> None:
        """Stop if running and delete everything."""
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres", *, user: str = SUPERUSER,
            password: str | None = PASSWORD) -> str:
        """A postgresql:// URL for ``db``."""
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        if name is None:
            self._dbs += 1
            name = f"t{os.getpid()}_{self._dbs}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self, timeout_s: float = 30) -> None:
        """Until the server accepts connections."""
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@contextlib.contextmanager
def running_cluster() -> Iterator[PgCluster]:
    """A started cluster, removed afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    cluster = PgCluster(bin_dir).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
