"""Fleet benchmark: receivers writing one PostgreSQL ledger, and a long window read from it.

Runs its own PostgreSQL (the server binaries of ``tests/pg_cluster.py``: initdb + pg_ctl, as
the ``postgres`` OS user when run as root), with durable defaults (fsync and synchronous
commit on), on this machine. Two parts:

``write``: the gateway's real LLM spans (``otlp_load.py``, 512 per request as its OTel SDK
sends them under load), each scenario in fresh processes and a fresh database, in one run so
that only ratios within it compare (this machine's speed drifts):

- ``naive``: ``naive_receiver.py``, the baseline receiver (keeps nothing);
- ``memory``: ``plano obs --plain --ledger none`` (what a call costs without the ledger);
- ``pg x1``: one ``plano obs receive`` writing PostgreSQL;
- ``pg x3``: three receivers writing one database at once, each sent its own spans as fast as
  they take them (their combined maximum), then every request of the first sent again to the
  second (an exporter retrying through a load balancer): the database must hold each call once.

For each: LLM calls per second (wall clock), receiver CPU µs per call, PostgreSQL server CPU
µs per call (every backend, from /proc), and lost or doubled calls (rows counted in the
database against the calls sent).

``window``: a 30-day window over ``--calls`` (10 million) calls: the calls of
``ledger_fill.py`` (the gateway's models, routes, errors and flags over 30 days) copied in with
COPY, their hour and day rows derived as receivers derive them, kept between runs in
``--keep-dir`` (filled once, reused). Then, as a console or ``plano obs export --window 30d``
starts: open the ledger, seed, build the whole rollup document of the window.

    .venv/bin/python benchmarks/fleet.py                  # both parts
    .venv/bin/python benchmarks/fleet.py --part write --spans 30000
    .venv/bin/python benchmarks/fleet.py --part window --calls 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import otlp_load  # noqa: E402
import psycopg  # noqa: E402
from _procs import cpu_s, free_port  # noqa: E402

from pg_cluster import PgCluster, find_bin_dir  # noqa: E402

WINDOW_TARGET_S = 2.0


def server_cpu_s(cluster: PgCluster) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its live backends and the ones
    that ended (counted in the postmaster's children time)."""
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    total = cpu_s(pid, children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # its parent is the postmaster: a live backend
            total += cpu_s(int(entry))
    return total


class Receiver:
    """A receiver process: ``plano obs receive`` or the naive baseline."""

    def __init__(self, ledger: str | None) -> None:
        self.port = free_port()
        if ledger is None:
            cmd = [sys.executable, str(HERE / "naive_receiver.py"), "--port", str(self.port),
                   "--count", str(10**12)]
        elif ledger == "none":  # the same receiver keeping nothing (receive needs a ledger)
            cmd = [sys.executable, "-m", "plano_obs", "obs", "--plain", "--offline", "--port",
                   str(self.port), "--no-http", "--ledger", "none"]
        else:
            cmd = [sys.executable, "-m", "plano_obs", "obs", "receive", "--offline", "--port",
                   str(self.port), "--no-http", "--ledger", ledger, "--retain", "none",
                   "--status-s", "3600"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"fleet benchmark: a receiver exited: "
                                 f"{self.proc.stderr.read() if self.proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"fleet benchmark: nothing listens on port {self.port}")

    def cpu_s(self) -> float:
        return cpu_s(self.proc.pid)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def workload(seed: int, spans: int) -> tuple[list[bytes], list[int]]:
    units, _, _ = otlp_load.prepare_units(seed, spans, cache_dir=None)
    return otlp_load.build_requests(units, 512), otlp_load.spans_per_request(spans, 512)


def send(port: int, w: tuple[list[bytes], list[int]]) -> dict:
    res = otlp_load.send(f"127.0.0.1:{port}", w[0], w[1], 2, rate=0, timeout=120,
                         progress=False)
    if res.get("fatal"):
        raise SystemExit(f"fleet benchmark: {res['fatal']}")
    return res


def rows(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM calls").fetchone()  # type: ignore[misc]
    return int(total), int(distinct)


def part_write(cluster: PgCluster, spans: int) -> bool:
    print(f"\n[write] otlp_load.py spans, {spans:,} per receiver, 512 per request, 2 in flight "
          f"per receiver; PostgreSQL {cluster.bin_dir.parent.name} with fsync and synchronous "
          f"commit on", flush=True)
    loads = [workload(11 + i, spans) for i in range(3)]
    ok = True

    made: list[str] = []

    def one(name: str, ledger: str | None) -> None:
        nonlocal ok
        url = cluster.create_database() if ledger == "pg" else None
        if url is not None:
            made.append(url)
        rx = Receiver(None if name == "naive" else (url or "none"))
        cpu0, srv0 = rx.cpu_s(), server_cpu_s(cluster)
        res = send(rx.port, loads[0])
        cpu, srv = rx.cpu_s() - cpu0, server_cpu_s(cluster) - srv0
        code = rx.stop()
        line = (f"  {name:<8} {spans / res['elapsed_s']:>9,.0f} LLM calls/s  receiver "
                f"{cpu / spans * 1e6:>6.1f} CPU µs/call")
        if url is not None:
            total, distinct = rows(url)
            bad = total != spans or distinct != spans
            ok = ok and not bad
            line += (f"  server {srv / spans * 1e6:>6.1f} CPU µs/call  rows {total:,} "
                     f"(lost {spans - distinct:,}, doubled {total - distinct:,})")
        line += f"  failed spans {res['failed_spans']}  exit {code}"
        ok = ok and res["failed_spans"] == 0 and (code == 0 or name == "naive")
        print(line, flush=True)

    one("naive", None)
    one("memory", "none")
    one("pg x1", "pg")

    url = cluster.create_database()
    made.append(url)
    rxs = [Receiver(url) for _ in range(3)]
    cpu0 = [r.cpu_s() for r in rxs]
    srv0 = server_cpu_s(cluster)
    results: list[dict] = [{}, {}, {}]

    def go(i: int) -> None:
        results[i] = send(rxs[i].port, loads[i])

    started = time.monotonic()
    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    cpu = sum(r.cpu_s() - c for r, c in zip(rxs, cpu0, strict=True))
    srv = server_cpu_s(cluster) - srv0
    retried = send(rxs[1].port, loads[0])  # the first receiver's spans, again, to another
    codes = [r.stop() for r in rxs]
    total, distinct = rows(url)
    n = 3 * spans
    failed = sum(r["failed_spans"] for r in results) + retried["failed_spans"]
    print(f"  pg x3    {n / wall:>9,.0f} LLM calls/s combined  receivers "
          f"{cpu / n * 1e6:>6.1f} CPU µs/call  server {srv / n * 1e6:>6.1f} CPU µs/call  "
          f"rows {total:,} of {n:,} after {spans:,} retried (lost {n - distinct:,}, doubled "
          f"{total - distinct:,})  failed spans {failed}  exits {codes}", flush=True)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        for made_url in made:  # the kept cluster keeps only the window's database
            conn.execute(f'DROP DATABASE "{made_url.rsplit("/", 1)[1]}"')
    return ok and total == distinct == n and failed == 0 and codes == [0, 0, 0]


def fill_window(url: str, n: int, days: float = 30) -> float:
    """COPY ``n`` generated calls in (raw rows, kept spans), deriving hour and day rows as
    receivers do; returns the seconds it took."""
    from ledger_fill import BATCH, Calls, price_and_derive

    from plano_obs.ledger import Ledger, Rollups
    from plano_obs.ledger import _rows as rows_of
    from plano_obs.pricing import Pricer

    started = time.monotonic()
    pricer = Pricer(offline=True)
    ledger = Ledger(url)
    rollups = Rollups(ledger)
    copy_sql = f"COPY calls ({', '.join(rows_of.CALL_COLUMNS)}) FROM STDIN"
    # Resumable: the calls are deterministic, and each batch records how far the fill got.
    end_ns = int(ledger.meta("bench_end_ns") or time.time_ns())
    done = int(ledger.meta("bench_progress") or 0)
    gen = Calls(3, end_ns - int(days * 86400e9), end_ns, n)
    for _ in range(done):
        gen.next()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO ledger_meta VALUES ('bench_end_ns', %s) ON CONFLICT (key) "
                     "DO NOTHING", (str(end_ns),))
        while done < n:
            batch = [gen.next() for _ in range(min(BATCH, n - done))]
            parts = price_and_derive(batch, pricer)
            table = [rows_of.call_row(c, ledger._kind_id, ledger._price_id) for c in batch]
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in table:
                    copy.write_row(row)
            ledger.write([], [c for c in batch if c.flagged or c.is_error])
            engine = ledger.engine
            rollups.apply(parts, engine.watermark(ledger.reader()))  # type: ignore[attr-defined]
            done += len(batch)
            conn.execute("INSERT INTO ledger_meta VALUES ('bench_progress', %s) ON CONFLICT "
                         "(key) DO UPDATE SET value = excluded.value", (str(done),))
            rate = done / (time.monotonic() - started)
            print(f"\r  filled {done:,} of {n:,} calls ({rate:,.0f}/s)", end="",
                  file=sys.stderr, flush=True)
        print(file=sys.stderr)
        conn.execute("INSERT INTO ledger_meta VALUES ('bench_filled', %s) ON CONFLICT (key) "
                     "DO UPDATE SET value = excluded.value", (str(n),))
        conn.execute("VACUUM ANALYZE")
    ledger.close()
    return time.monotonic() - started


def part_window(cluster: PgCluster, n: int) -> bool:
    from plano_obs.analytics import Analytics
    from plano_obs.ledger import Ledger, LedgerLink

    name = f"window_{n}"
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (name,)).fetchone()
    url = cluster.url(name)
    filled = None
    if exists:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT value FROM ledger_meta WHERE key = 'bench_filled'")
            filled = row.fetchone()
    if filled is None or int(filled[0]) != n:
        if not exists:
            cluster.create_database(name)
        print(f"\n[window] filling {n:,} calls over 30 days (once, resumable; kept for later "
              f"runs)",
              flush=True)
        took = fill_window(url, n)
        print(f"  filled in {took:,.0f} s", flush=True)
    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        last_ns = conn.execute("SELECT max(end_ns) FROM calls").fetchone()[0]  # type: ignore[index]
    now = last_ns / 1e9
    print(f"\n[window] a 30-day window over {n:,} calls (database {size / 2**30:.2f} GiB, "
          f"{size / n:,.0f} bytes per call with indexes and derived rows)", flush=True)
    times, cpus = [], []  # CPU: this process and the server, which is what an idle machine
    # would take; the wall clock also holds the wait for a core on a shared machine
    for i in range(3):
        started, cpu0, srv0 = time.monotonic(), time.process_time(), server_cpu_s(cluster)
        ledger = Ledger(url, readonly=True)
        link = LedgerLink(ledger, retain_s=None, clock=lambda: now)
        analytics = Analytics()
        link.attach(None, analytics, recent_calls=0, recent_keys=0, flagged=100, errors=100)
        opened = time.monotonic() - started
        doc = analytics.document("30d", now=now)
        took = time.monotonic() - started
        cpu = time.process_time() - cpu0
        srv = server_cpu_s(cluster) - srv0
        times.append(took)
        cpus.append(cpu + srv)
        ledger.close()
        print(f"  run {i + 1}: open and seed {opened:.2f} s, whole 30d document {took:.2f} s "
              f"wall, CPU {cpu:.2f} s here + {srv:.2f} s in the server "
              f"({doc.summary.requests:,} calls, {len(doc.models)} models, "
              f"{len(doc.sessions.top) if hasattr(doc.sessions, 'top') else '—'} sessions "
              f"listed)", flush=True)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "plano_obs", "obs", "export", "--ledger", url,
                          "--window", "30d"], capture_output=True, text=True, check=False)
    export_s = time.monotonic() - started
    requests = json.loads(out.stdout)["summary"]["requests"] if out.returncode == 0 else None
    print(f"  plano obs export --ledger postgresql://… --window 30d: {export_s:.2f} s wall "
          f"(a new Python process included; {requests:,} calls in the window)"
          if requests is not None else f"  export failed: {out.stderr.strip()}", flush=True)
    best = min(times)
    load = os.getloadavg()[0]
    print(f"  verdict: {best:.2f} s wall, {min(cpus):.2f} s CPU (best of 3; load average "
          f"{load:.1f} on {os.cpu_count()} cores) against {WINDOW_TARGET_S:.0f} s: "
          f"{'PASS' if best <= WINDOW_TARGET_S else 'FAIL'}", flush=True)
    return best <= WINDOW_TARGET_S


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("write", "window", "all"), default="all")
    p.add_argument("--spans", type=int, default=30_000, help="LLM spans per receiver (30,000)")
    p.add_argument("--calls", type=int, default=10_000_000,
                   help="calls in the window's ledger (10,000,000)")
    p.add_argument("--keep-dir", default="/var/tmp/plano-obs-bench-pg",
                   help="where the window's cluster is kept between runs")
    args = p.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("fleet benchmark: no PostgreSQL server binaries (set PLANO_OBS_PG_BIN)")
    ok = True
    cluster = PgCluster(bin_dir, Path(args.keep_dir)).init()
    cluster.durable = True
    cluster.start()
    try:
        if args.part in ("write", "all"):
            ok = part_write(cluster, args.spans) and ok
        if args.part in ("window", "all"):
            ok = part_window(cluster, args.calls) and ok
    finally:
        cluster.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
