"""``plano obs whatif`` end to end: OTLP/JSON files in, a summary or JSON out, gates, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plano_obs.cli import main

from otlp_fixtures import T0, llm_attrs, otlp_json_line, request, span

RULES = """\
rules:
  - name: code to mini
    match: {route: code generation}
    to: gpt-4o-mini
  - name: keep vip
    priority: 10
    match: {session: "vip-*"}
    keep: true
"""


def traffic_file(tmp_path: Path, minutes: int = 30) -> Path:
    lines = []
    for i in range(minutes):
        route = "code generation" if i % 2 == 0 else "chat"
        model = "gpt-4o-2024-08-06" if route == "code generation" else "gpt-4o-mini-2024-07-18"
        attrs = llm_attrs(**{"plano.route.name": route, "llm.model": model,
                             "request_id": f"req-{i}", "llm.duration_ms": 800 + 10 * i})
        if i == 4:
            attrs["plano.session_id"] = "vip-1"
        lines.append(otlp_json_line(request(span(attrs, start_ns=T0 + i * 60 * 10**9))))
    lines.append("not json at all")
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    return rules, traffic_file(tmp_path)


def whatif(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["obs", "whatif", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_names_totals_intervals_rules_and_caveats(files, capsys):
    rules, traces = files
    code, out, err = whatif(capsys, str(rules), "--from", str(traces), "--iterations", "200")
    assert code == 0
    assert "skipped 1 bad line" in err
    assert "what if: 30 calls" in out
    assert "savings" in out and "95% CI" in out
    assert "code to mini" in out and "keep vip" in out
    assert "small sample: 30 calls" in out


def test_json_is_byte_identical_for_the_same_seed_and_has_every_call(files, capsys):
    rules, traces = files
    argv = (str(rules), "--from", str(traces), "--json", "--calls", "--seed", "5",
            "--iterations", "100")
    _, first, _ = whatif(capsys, *argv)
    _, second, _ = whatif(capsys, *argv)
    assert first == second
    doc = json.loads(first)
    assert doc["schema_version"] == 1 and doc["seed"] == 5 and doc["iterations"] == 100
    assert len(doc["calls"]) == 30
    assert doc["totals"]["moved"] == 14  # 15 code-generation calls, one of them a VIP's
    assert [r["rule"] for r in doc["rules"]] == ["code to mini", "keep vip"]
    assert doc["totals"]["savings_usd"]["value"] > 0


def test_window_keeps_the_last_stretch_of_the_recording(files, capsys):
    rules, traces = files
    _, out, _ = whatif(capsys, str(rules), "--from", str(traces), "--window", "10m", "--json")
    doc = json.loads(out)
    assert doc["window"]["name"] == "10m"
    assert doc["totals"]["calls"] == 11  # minutes 19..29, both ends included


def test_gates_exit_3_and_name_the_broken_threshold(files, capsys):
    rules, traces = files
    code, _, err = whatif(capsys, str(rules), "--from", str(traces), "--fail-on",
                          "savings_pct<99", "--fail-on", "moved<1", "--iterations", "50")
    assert code == 3
    assert "gate failed: savings_pct<99: broke" in err
    assert "moved<1" not in err


def test_output_file_is_written_beside_the_summary(files, capsys, tmp_path):
    rules, traces = files
    target = tmp_path / "whatif.json"
    code, out, _ = whatif(capsys, str(rules), "--from", str(traces), "-o", str(target),
                          "--iterations", "50")
    assert code == 0 and "what if:" in out
    assert json.loads(target.read_text())["totals"]["calls"] == 30


@pytest.mark.parametrize(("extra", "message"), [
    (["--iterations", "0"], "iterations must be at least 1"),
    (["--since", "2030-01-01T00:00Z"], "inverted window"),
    (["--until", "2020-01-01"], "no calls in the window"),
    (["--window", "7d", "--since", "1h"], "give --window or --since, not both"),
    (["--window", "soon"], "bad --window 'soon'"),
    (["--fail-on", "savings>1"], "unknown metric 'savings'"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, extra, message):
    rules, traces = files
    code, out, err = whatif(capsys, str(rules), "--from", str(traces), *extra)
    assert code == 2 and out == ""
    line = [x for x in err.splitlines() if not x.startswith("plano obs whatif: skipped")]
    assert len(line) == 1 and message in line[0], err


def test_bad_rules_files_are_one_line_and_exit_2(tmp_path, capsys):
    traces = traffic_file(tmp_path)
    for text, message in [("rules: [{name: a, to: m, kep: true}]", "unknown field"),
                          ("rules: [{name: a", "line 1"),
                          ("", "the file is empty")]:
        rules = tmp_path / "bad.yaml"
        rules.write_text(text)
        code, _, err = whatif(capsys, str(rules), "--from", str(traces))
        assert code == 2 and message in err.splitlines()[-1], err
    code, _, err = whatif(capsys, str(tmp_path / "missing.yaml"), "--from", str(traces))
    assert code == 2 and "cannot read" in err


def test_schema_is_printed_and_a_real_process_exits_2_on_no_input(tmp_path):
    out = subprocess.run([sys.executable, "-m", "plano_obs", "obs", "whatif", "--schema"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["title"] == "plano obs whatif"
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    # A data directory of its own: other tests' consoles write the shared one's ledger.
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "plano_obs", "obs", "whatif", str(rules)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    # Without --from it reads the console's ledger; the tests' data directory has none.
    assert done.stderr.startswith("plano obs whatif: no ledger at ")
    assert "--from FILE..." in done.stderr and len(done.stderr.splitlines()) == 1


def test_the_plano_command_loads_numpy_only_when_a_replay_runs():
    code = ("import sys, plano_obs.cli; plano_obs.cli.build_parser(); "
            "print('numpy' in sys.modules, 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_one_rule_from_flags(files, capsys):
    _, traces = files
    code, out, _ = whatif(capsys, "--from", str(traces), "--to", "gpt-4o-mini", "--route",
                          "code generation", "--json", "--iterations", "50")
    doc = json.loads(out)
    assert code == 0
    assert doc["rules"][0]["rule"] == "route code generation to gpt-4o-mini"
    assert doc["totals"]["moved"] == 15
    code, _, err = whatif(capsys, str(files[0]), "--from", str(traces), "--to", "gpt-4o-mini")
    assert code == 2 and "not both" in err
    code, _, err = whatif(capsys, "--from", str(traces), "--route", "chat")
    assert code == 2 and "go with --to MODEL" in err


def test_a_recording_without_llm_calls_is_a_one_line_error(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    code, _, err = whatif(capsys, str(rules), "--from", str(empty))
    assert code == 2 and err.strip() == f"plano obs whatif: no LLM calls in {empty}"


def test_span_text_in_the_summary_cannot_restyle_the_terminal(tmp_path, capsys):
    route = "code\x1b[31mred[/bold]"
    attrs = llm_attrs(**{"plano.route.name": route})
    traces = tmp_path / "t.jsonl"
    traces.write_text(otlp_json_line(request(span(attrs))) + "\n")
    code, out, _ = whatif(capsys, "--from", str(traces), "--to", "gpt-4o", "--route", route,
                          "--iterations", "20")
    assert code == 0
    assert "\x1b" not in out and "code\\x1b[31mred[/bold]" in out


def test_the_summary_shows_the_busiest_quality_entries_and_counts_the_rest():
    from plano_obs.replay import parse_rules, replay
    from plano_obs.replay.summary import summary_text

    from replay_fixtures import call, pricer, window

    p = pricer()
    calls = [call(p, route=f"route {i:02d}", at_s=i * 100 + k)
             for i in range(20) for k in range(1 + i)]
    rules = parse_rules({"rules": [{"name": "all", "match": {}, "to": "gpt-small"}]})
    text = summary_text(replay(calls, rules, p, window=window(), seed=1, iterations=20))
    shown = [line for line in text.splitlines() if line.startswith("  route route ")]
    assert len(shown) == 15 and shown[0].startswith("  route route 19: gpt-big -> gpt-small")
    assert "  … and 5 more (--json lists them all)" in text


def ledger_of(tmp_path: Path, traces: Path) -> Path:
    """A real ledger file holding the calls of ``traces``, priced as the receiver prices them."""
    from plano_obs.cli.whatif import read_calls
    from plano_obs.ledger import Ledger
    from plano_obs.pricing import Pricer

    calls, _ = read_calls([str(traces)], Pricer(offline=True))
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    try:
        ledger.write(calls[:10])  # two requests, as a receiver writes them
        ledger.write(calls[10:])
    finally:
        ledger.close()
    return path


def _without_source(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "source"}


@pytest.mark.parametrize("extra", [[], ["--window", "10m"], ["--since", "20m", "--until", "5m"]])
def test_a_ledger_replays_to_the_same_result_as_the_files_it_was_written_from(
        files, capsys, tmp_path, extra):
    rules, traces = files
    ledger = ledger_of(tmp_path, traces)
    argv = [str(rules), "--json", "--calls", "--seed", "3", "--iterations", "100", *extra]
    code, from_files, _ = whatif(capsys, *argv, "--from", str(traces))
    assert code == 0
    code, from_ledger, err = whatif(capsys, *argv, "--ledger", str(ledger))
    assert code == 0 and err == ""
    files_doc, ledger_doc = json.loads(from_files), json.loads(from_ledger)
    assert ledger_doc["source"] == f"ledger: {ledger}"
    assert _without_source(ledger_doc) == _without_source(files_doc)
    assert ledger_doc["totals"]["calls"] == {(): 30, ("--window", "10m"): 11}.get(
        tuple(extra), ledger_doc["totals"]["calls"])


def test_the_console_ledger_is_the_default_and_PLANO_OBS_LEDGER_moves_it(
        files, capsys, tmp_path, monkeypatch):
    rules, traces = files
    ledger = ledger_of(tmp_path, traces)
    data_home = tmp_path / "data"
    (data_home / "plano-obs").mkdir(parents=True)
    ledger.rename(data_home / "plano-obs" / "ledger.sqlite")
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv("PLANO_OBS_LEDGER", raising=False)
    code, out, _ = whatif(capsys, str(rules), "--json", "--iterations", "20")
    assert code == 0 and json.loads(out)["totals"]["calls"] == 30
    assert json.loads(out)["source"] == f"ledger: {data_home / 'plano-obs' / 'ledger.sqlite'}"
    monkeypatch.setenv("PLANO_OBS_LEDGER", str(tmp_path / "elsewhere.sqlite"))
    code, _, err = whatif(capsys, str(rules), "--iterations", "20")
    assert code == 2 and f"no ledger at {tmp_path / 'elsewhere.sqlite'}" in err
    monkeypatch.setenv("PLANO_OBS_LEDGER", "none")
    code, _, err = whatif(capsys, str(rules))
    assert code == 2 and err.strip() == (
        "plano obs whatif: --ledger none: give the calls to replay with --from FILE...")


def test_a_ledger_that_cannot_be_read_is_one_line_and_exit_2(files, capsys, tmp_path):
    rules, traces = files
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database" * 200)
    code, out, err = whatif(capsys, str(rules), "--ledger", str(damaged))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "damaged or not a ledger" in err
    code, _, err = whatif(capsys, str(rules), "--ledger", str(ledger_of(tmp_path, traces)),
                          "--from", str(traces))
    assert code == 2 and "not both" in err
    from plano_obs.ledger import Ledger

    empty = tmp_path / "empty.sqlite"
    Ledger(empty).close()
    code, _, err = whatif(capsys, str(rules), "--ledger", str(empty))
    assert code == 2 and err.strip() == f"plano obs whatif: no LLM calls in the ledger {empty}"


def test_whatif_reads_a_ledger_while_a_console_process_writes_it(files, tmp_path, free_port):
    """A second process (a real receiver) holds the ledger open for writing; whatif reads it.

    The recording is older than the default retention: the console keeps it (--retain none).
    """
    import os
    import time

    rules, traces = files
    ledger = ledger_of(tmp_path, traces)
    env = {**os.environ, "PLANO_OBS_LEDGER": str(ledger)}
    console = subprocess.Popen(
        [sys.executable, "-m", "plano_obs", "obs", "--plain", "--offline", "--no-http",
         "--port", str(free_port), "--retain", "none"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        lock = Path(str(ledger) + ".lock")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and console.poll() is None and not (
                lock.exists() and lock.read_text().strip() == str(console.pid)):
            time.sleep(0.05)
        assert console.poll() is None and lock.read_text().strip() == str(console.pid)
        done = subprocess.run([sys.executable, "-m", "plano_obs", "obs", "whatif", str(rules),
                               "--json", "--iterations", "20"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["totals"]["calls"] == 30
    finally:
        console.terminate()
        console.communicate(timeout=30)
