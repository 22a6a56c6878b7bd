"""The ``plano`` command's edges: bad flags in our words, NDJSON, counts, demo to any receiver."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from plano_obs.cli import main
from plano_obs.ingest.receiver import Receiver
from plano_obs.ingest.store import Store

from otlp_fixtures import llm_attrs, request, send, span, wait_listening

#: What argparse and pydantic say in their own words; none of it may reach the user.
LIBRARY_PHRASES = re.compile(
    r"usage:|error:|Input should|invalid int value|invalid float value|invalid choice|"
    r"choose from|Value error|Traceback|unrecognized arguments|expected one argument|"
    r"the following arguments are required|validation error")


@pytest.mark.parametrize("argv, env, fragment", [
    (["obs", "--window", "3h"], {}, "plano obs: unknown --window '3h'; use one of all, 1m"),
    (["obs", "export", "--listen", "--window", "3h"], {},
     "plano obs export: unknown --window '3h'; use one of all, 1m, 5m, 15m, 1h"),
    (["obs", "--port", "abc"], {}, "plano obs: bad --port 'abc': expected a whole number"),
    (["obs", "--port", "99999"], {}, "bad --port (or PLANO_OBS_PORT) 99999: must be at most 65535"),
    (["obs", "--max-message-mb", "0"], {}, "bad --max-message-mb (or PLANO_OBS_MAX_MESSAGE_MB) "
                                           "0: must be more than 0"),
    (["obs", "--plain"], {"PLANO_OBS_CAPACITY": "5"}, "PLANO_OBS_CAPACITY) '5': must be at least"),
    (["obs", "--plain"], {"PLANO_OBS_PORT": "http"}, "'http': expected a whole number"),
    (["obs", "--bogus"], {}, "plano obs: unknown argument --bogus (see plano obs --help)"),
    (["obs", "pricing", "--frobnicate"], {}, "plano obs pricing: unknown argument --frobnicate"),
    (["obs", "export", "--listen", "--count", "x"], {}, "bad --count 'x': expected a whole number"),
    (["obs", "export", "--listen", "--count", "0"], {}, "bad --count 0: must be at least 1"),
    (["obs", "export", "--listen", "--duration"], {}, "--duration needs a value"),
    (["obs", "export", "--listen", "--every", "soon"], {}, "bad --every 'soon'"),
    (["obs", "--plain=yes"], {}, "--plain takes no value"),
    (["obs", "demo"], {}, "plano obs demo: missing --target"),
    (["obs", "demo", "--target", "localhost"], {}, "bad --target 'localhost': expected HOST:PORT"),
    (["obs", "demo", "--target", "127.0.0.1:1", "--demo-rate", "0"], {},
     "bad --demo-rate (or PLANO_OBS_DEMO_RATE) 0: must be at least 1"),
    (["nope"], {}, "plano: unknown COMMAND 'nope'; use one of obs"),
])
def test_a_bad_flag_is_one_line_in_our_words_and_exit_2(
    argv: list[str], env: dict[str, str], fragment: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert fragment in err
    assert not LIBRARY_PHRASES.search(err), err


def test_python_m_reports_a_bad_window_the_same_way() -> None:
    done = subprocess.run([sys.executable, "-m", "plano_obs", "--window", "3h"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("plano obs: unknown --window '3h'")
    assert done.stderr.count("\n") == 1


def _send_when_listening(port: int, req: ExportTraceServiceRequest) -> None:
    wait_listening(port, deadline_s=15)
    send(port, req)


def test_every_to_stdout_writes_one_compact_document_per_line(
    free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = threading.Thread(
        target=_send_when_listening, args=(free_port, request(span(llm_attrs())))
    )
    sender.start()
    code = main(["obs", "export", "--listen", "--port", str(free_port), "--http-port", "0",
                 "--offline", "--every", "200ms", "--duration", "1500ms"])
    sender.join(timeout=20)
    assert code == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) >= 3  # several periodic documents, then the final one
    docs = [json.loads(line) for line in lines]
    assert all(d["schema_version"] == 1 for d in docs)
    assert docs[-1]["summary"]["requests"] == 1
    assert err.splitlines()[-1] == (
        "plano obs export: wrote 1 call (window all) to stdout; 1 call received")


def test_count_stops_once_at_least_n_calls_arrived_and_says_what_went_where(
    free_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "live.json"
    three_calls = request(span(llm_attrs()), span(llm_attrs()), span(llm_attrs()))
    sender = threading.Thread(target=_send_when_listening, args=(free_port, three_calls))
    sender.start()
    code = main(["obs", "export", "--listen", "--port", str(free_port), "--http-port", "0",
                 "--offline", "--count", "2", "--duration", "20s", "-o", str(out_file)])
    sender.join(timeout=20)
    assert code == 0
    assert json.loads(out_file.read_text())["summary"]["requests"] == 3
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f"plano obs export: wrote 3 calls (window all) to {out_file}; 3 calls received"


@pytest.mark.parametrize("content", ["", "{not json\n[1, 2]\n{\"a\": 1}\n"])
def test_export_from_a_file_with_no_valid_line_exits_2(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "traces.jsonl"
    f.write_text(content)
    assert main(["obs", "export", "--from", str(f), "--offline"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"plano obs export: no OTLP/JSON line to read in {f}")


def test_pricing_list_all_shows_every_provider_and_every_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["obs", "pricing", "--offline", "--list"]) == 0
    short = capsys.readouterr().out
    assert "more (--all lists them)" in short
    assert main(["obs", "pricing", "--offline", "--list", "--all"]) == 0
    out = capsys.readouterr().out
    assert "more (--all" not in out
    providers = int(re.search(r"^providers: (\d+)$", out, re.M).group(1))  # type: ignore[union-attr]
    provider_rows = re.findall(r"^  (\S+) +\d+$", out, re.M)
    assert len(provider_rows) == providers > 15
    priced = int(re.search(r"^priced models: ([\d,]+)$", out, re.M)  # type: ignore[union-attr]
                 .group(1).replace(",", ""))
    model_rows = [line for line in out.splitlines() if line.startswith("  ") and "/" in line]
    assert len(model_rows) == priced > 1000
    assert ("  anthropic/claude-haiku-4-5-20251001  input $1, output $5, cache read $0.1, "
            "cache write $1.25 per 1M tokens") in model_rows
    assert main(["obs", "pricing", "--offline", "--list", "--all", "--provider", "anthropic"]) == 0
    only = [line for line in capsys.readouterr().out.splitlines() if "/" in line]
    assert only and all(line.startswith("  anthropic/") for line in only)


def test_a_failed_catalog_fetch_is_reported_once(free_port: int, tmp_path: Path) -> None:
    config = tmp_path / "plano_config.yaml"
    config.write_text("model_metrics_sources:\n  - type: cost\n    provider: models.dev\n"
                      f"    url: http://127.0.0.1:{free_port}/api.json\n")
    done = subprocess.run(
        [sys.executable, "-m", "plano_obs", "pricing", "--refresh", "--config", str(config),
         "gpt-4o"],
        capture_output=True, text=True, timeout=60,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "refresh failed" in line]
    assert len(warnings) == 1, done.stderr
    assert done.stderr.count("\n") == 1
    assert "gpt-4o -> openai/gpt-4o" in done.stdout


def test_demo_sends_its_traffic_to_any_receiver(capsys: pytest.CaptureFixture[str]) -> None:
    store = Store()
    receiver = Receiver(store, "127.0.0.1", 0)
    receiver.start()
    try:
        code = main(["obs", "demo", "--target", f"127.0.0.1:{receiver.port}",
                     "--demo-rate", "600", "--backfill-minutes", "1", "--duration", "1s"])
        assert code == 0
        err = capsys.readouterr().err
        m = re.search(r"^plano obs demo: sent ([\d,]+) calls to 127\.0\.0\.1:\d+$", err, re.M)
        assert m, err
        sent = int(m.group(1).replace(",", ""))
        deadline = time.monotonic() + 10
        while store.stats().calls < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.stats().calls == sent > 300  # a minute of history at 600/min, then live
    finally:
        receiver.stop(grace=0)


def test_demo_to_a_port_nobody_listens_on_exits_2(
    free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["obs", "demo", "--target", f"127.0.0.1:{free_port}", "--backfill-minutes", "1",
                 "--duration", "500ms"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"nothing reached 127.0.0.1:{free_port}" in err.splitlines()[-1]
