"""``plano obs export`` end to end: files in, JSON out, gates, bad input, listening."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from plano_obs.cli.export import add_export_arguments, run_export

from otlp_fixtures import llm_attrs, otlp_json_line, request, send, span, wait_listening


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_export_arguments(p)
    return p.parse_args(list(argv))


def traffic() -> list[ExportTraceServiceRequest]:
    return [
        request(span(llm_attrs(**{"plano.route.name": "code generation"}))),
        request(span(llm_attrs(**{"plano.route.name": "code generation",
                                  "llm.duration_ms": 3000}))),
        request(span(llm_attrs(**{"http.status_code": 503, "llm.model": "claude-sonnet-4",
                                  "llm.provider": "anthropic"}))),
    ]


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    f = tmp_path / "traces.json"
    lines = [otlp_json_line(r) for r in traffic()]
    f.write_text("\n".join([lines[0], "{not json", lines[1], "", "[1, 2]", lines[2]]) + "\n")
    return f


def test_from_file_exports_every_call_and_counts_bad_lines(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_export(parse("--from", str(recorded), "--offline")) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["schema_version"] == 1
    assert set(doc) >= {"generated_at", "window", "source", "pricing", "summary", "models",
                        "routes", "sessions", "errors", "signals"}
    assert doc["summary"]["requests"] == 3 and doc["summary"]["errors_5xx"] == 1
    assert {m["model"]: m["requests"] for m in doc["models"]} == {
        "gpt-4o-mini-2024-07-18": 2, "claude-sonnet-4": 1}
    assert {r["route"]: r["requests"] for r in doc["routes"]} == {"code generation": 2, None: 1}
    assert doc["errors"]["most_recent"]["status_code"] == 503
    assert "skipped 2 bad lines" in err and f"{recorded}:2:" in err


def test_gate_failure_exits_3_and_names_the_threshold(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "report.json"
    code = run_export(parse("--from", str(recorded), "-o", str(out_file), "--offline",
                            "--fail-on", "p95_latency_ms>1000", "--fail-on", "requests<1"))
    assert code == 3
    err = capsys.readouterr().err
    assert "gate failed: p95_latency_ms>1000" in err and "requests<1" not in err
    assert json.loads(out_file.read_text())["summary"]["latency_ms"]["max"] == 3000


def test_cost_drift_gate_reads_the_gateways_reported_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # gpt-4o-mini at $0.15/$0.60 per 1M: 1,000 + 200 tokens list at $0.00027; the gateway says
    # 30% more on each of 25 calls.
    f = tmp_path / "costs.json"
    f.write_text("\n".join(otlp_json_line(request(span(llm_attrs(**{
        "llm.usage.total_cost_usd": 0.00027 * 1.3})))) for _ in range(25)) + "\n")
    out_file = tmp_path / "report.json"
    code = run_export(parse("--from", str(f), "-o", str(out_file), "--offline",
                            "--fail-on", "cost_drift_pct>15"))
    assert code == 3
    assert "gate failed: cost_drift_pct>15" in capsys.readouterr().err
    doc = json.loads(out_file.read_text())
    (model,) = doc["cost_accuracy"]["models"]
    assert (model["pricing_entry"], model["basis"], model["compared_calls"]) == (
        "openai/gpt-4o-mini", "reported", 25)
    assert model["ratio"] == pytest.approx(1.3) and model["drift"] is True
    assert doc["models"][0]["pricing_entry"] == "openai/gpt-4o-mini"


@pytest.mark.parametrize("argv, fragment", [
    (["--from", "x.json", "--window", "2m"], "unknown --window '2m'"),
    (["--from", "x.json", "--fail-on", "p95>1"], "bad --fail-on"),
    (["--from", "/nonexistent/traces.json", "--offline"], "cannot read /nonexistent"),
    ([], "choose one input"),
    (["--listen", "--duration", "soon"], "bad --duration"),
])
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_export(parse(*argv)) == 2
    out, err = capsys.readouterr()
    assert out == "" and fragment in err and err.count("\n") == 1


def test_schema_is_published(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_export(parse("--schema")) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"schema_version", "summary", "models", "routes"} <= set(schema["properties"])


def test_export_never_imports_textual() -> None:
    code = ("import sys, plano_obs.cli.export, plano_obs.analytics; "
            "assert not any(m.startswith(('textual', 'plano_obs.tui')) for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_listen_collects_until_count_then_writes(
    free_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "live.json"
    args = parse("--listen", "--port", str(free_port), "--http-port", "0", "--offline",
                 "--count", "3", "--duration", "20s", "-o", str(out_file))
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(run_export(args)))
    t.start()
    wait_listening(free_port)
    for req in traffic():
        send(free_port, req)
    t.join(timeout=20)
    assert result == [0]
    doc = json.loads(out_file.read_text())
    assert doc["summary"]["requests"] == 3
    assert doc["source"].startswith(f"otlp-grpc://127.0.0.1:{free_port}, otlp-http://127.0.0.1:")
    assert "listening on" in capsys.readouterr().err


def test_busy_port_is_one_line_and_exit_2(
    free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port))
        s.listen()
        assert run_export(parse("--listen", "--port", str(free_port), "--http-port", "0",
                                "--offline")) == 2
    err = capsys.readouterr().err
    assert "already in use" in err and err.count("\n") == 1
