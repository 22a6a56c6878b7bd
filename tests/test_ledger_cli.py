"""``plano obs ledger info|prune|rebuild|reprice`` and ``plano obs export --ledger``."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plano_obs.cli import main
from plano_obs.cli._args import parse_instant
from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.runtime import Runtime
from plano_obs.settings import Settings

HOUR_NS = 3600 * 10**9
NOW = 1_760_000_000.0


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A ledger of 48 hours of demo traffic (one call every 6 minutes) up to about now."""
    path = tmp_path / "ledger.sqlite"
    rt = Runtime(Settings(offline=True, ledger=str(path), retain="none"))
    rt.open_ledger()
    demo = DemoTraffic(2, flag_rate=0.1, error_rate=0.1)
    end = time.time_ns() // HOUR_NS * HOUR_NS - HOUR_NS
    for i in range(480):
        rt.store.ingest(decode_request(demo.request([demo.trace(end - i * HOUR_NS // 10)])))
    assert rt.ledger is not None
    rt.ledger.stop()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def info(capsys: pytest.CaptureFixture[str], ledger: Path) -> dict[str, str]:
    code, out, _ = run(capsys, "obs", "ledger", "info", "--ledger", str(ledger))
    assert code == 0
    return dict(line.split(None, 1) for line in out.splitlines())


def test_info_says_path_size_calls_span_and_schema(ledger: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    fields = info(capsys, ledger)
    assert fields["ledger"] == str(ledger) and fields["calls"] == "480"
    assert "bytes per call" in fields["size"] and fields["schema"] == "version 2"
    assert fields["derived"] == "every call" and fields["pruned"] == "0 calls"
    assert fields["from"].endswith("UTC") and fields["to"].endswith("UTC")


def test_prune_before_a_date_removes_older_calls_and_says_how_many(ledger: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    con = sqlite3.connect(ledger)
    (first,) = con.execute("SELECT min(end_ns) FROM calls").fetchone()
    con.close()
    cut = datetime.fromtimestamp((first + 24 * HOUR_NS) / 1e9, UTC)
    code, out, _ = run(capsys, "obs", "ledger", "prune", "--ledger", str(ledger), "--before",
                       cut.isoformat())
    assert code == 0 and out.startswith("pruned ")
    pruned = int(out.split()[1].replace(",", ""))
    assert 235 <= pruned <= 245  # a day at ten calls an hour
    fields = info(capsys, ledger)
    assert fields["calls"] == str(480 - pruned)
    assert fields["pruned"].startswith(f"{pruned} calls, last ")
    code, out, _ = run(capsys, "obs", "export", "--ledger", str(ledger))
    assert json.loads(out)["summary"]["requests"] == 480 - pruned


def test_rebuild_derives_the_same_rows_again(ledger: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, before, _ = run(capsys, "obs", "export", "--ledger", str(ledger), "--window", "7d")
    con = sqlite3.connect(ledger)
    con.execute("DELETE FROM rollups WHERE period_s = 86400")  # damage the derived rows
    con.commit()
    con.close()
    code, out, _ = run(capsys, "obs", "ledger", "rebuild", "--ledger", str(ledger))
    assert code == 0 and "from 480 calls" in out
    code, after, _ = run(capsys, "obs", "export", "--ledger", str(ledger), "--window", "7d")
    strip = lambda text: {k: v for k, v in json.loads(text).items()  # noqa: E731
                          if k not in ("generated_at", "window")}
    assert strip(after) == strip(before)


def test_reprice_with_new_rates_shows_the_change_and_keeps_the_source(
        ledger: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "obs", "export", "--ledger", str(ledger))
    before = json.loads(out)["summary"]["cost_usd"]
    rates = tmp_path / "rates.yaml"
    rates.write_text("models:\n  gpt-4o-mini: {input: 100, output: 100}\n")
    code, out, err = run(capsys, "obs", "ledger", "reprice", "--ledger", str(ledger),
                         "--offline", "--pricing-file", str(rates))
    assert code == 0, err
    assert "repriced 480 calls" in out and "gpt-4o-mini" in out
    after = json.loads(run(capsys, "obs", "export", "--ledger", str(ledger))[1])
    assert after["summary"]["cost_usd"] > before
    assert "pricing file" in after["pricing"]["source"]
    assert info(capsys, ledger)["repriced"].endswith(
        f"480 calls, ${before:,.6f} -> ${after['summary']['cost_usd']:,.6f}")


def test_export_since_and_until_narrow_the_ledger_to_a_range(ledger: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    con = sqlite3.connect(ledger)
    ends = sorted(e for (e,) in con.execute("SELECT end_ns FROM calls"))
    con.close()
    # mid-hour edges (raw calls at both ends), in the microseconds ISO times have
    since = datetime.fromtimestamp(ends[100] // 1000 / 1e6, UTC).isoformat()
    until = datetime.fromtimestamp((ends[300] // 1000 + 1) / 1e6, UTC).isoformat()
    lo, hi = (parse_instant(t, "", now=0) for t in (since, until))
    code, out, err = run(capsys, "obs", "export", "--ledger", str(ledger), "--since", since,
                         "--until", until)
    assert code == 0, err
    doc = json.loads(out)
    want = sum(1 for e in ends if lo <= e < hi)
    assert doc["summary"]["requests"] == want and doc["window"]["name"] == "range"
    recent = sum(1 for e in ends if e >= time.time_ns() - 12 * HOUR_NS)
    code, out, _ = run(capsys, "obs", "export", "--ledger", str(ledger), "--since", "12h")
    assert abs(json.loads(out)["summary"]["requests"] - recent) <= 1 and recent > 90


@pytest.mark.parametrize("argv, message", [
    (["obs", "export", "--ledger", "{ledger}", "--window", "7d", "--since", "1d"],
     "either --window or --since"),
    (["obs", "export", "--ledger", "{ledger}", "--since", "yesterday"], "bad --since"),
    (["obs", "export", "--ledger", "{ledger}", "--since", "1h", "--until", "2h"],
     "is not before"),
    (["obs", "export", "--ledger", "{missing}"], "no such file"),
    (["obs", "ledger", "prune", "--ledger", "{ledger}"], "needs --before"),
    (["obs", "ledger", "info", "--ledger", "{missing}"], "no ledger at"),
])
def test_bad_input_is_one_line_and_exit_2(ledger: Path, tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                          argv: list[str], message: str) -> None:
    args = [a.format(ledger=ledger, missing=tmp_path / "missing.sqlite") for a in argv]
    code, out, err = run(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""


def test_maintenance_refuses_while_a_console_writes_the_ledger(ledger: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime(Settings(offline=True, ledger=str(ledger)))
    rt.open_ledger()
    try:
        code, _, err = run(capsys, "obs", "ledger", "rebuild", "--ledger", str(ledger))
        assert code == 2 and "another plano obs" in err
        assert info(capsys, ledger)["calls"] == "480"  # reading is fine
    finally:
        assert rt.ledger is not None
        rt.ledger.stop()
