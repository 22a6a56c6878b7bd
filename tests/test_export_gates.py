"""``--fail-on`` expressions and the atomic writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_analytics_rollups import T0, make_call

from plano_obs.analytics import Analytics
from plano_obs.export.gates import GateError, check_gates, parse_gate
from plano_obs.files import write_atomic


def doc_with(*calls):  # type: ignore[no-untyped-def]
    a = Analytics()
    for c in calls:
        a.add(c)
    return a.document(now=T0 + 60)


def test_parses_metric_operator_and_number() -> None:
    g = parse_gate(" p95_latency_ms >= 2e3 ")
    assert (g.metric, g.op, g.threshold) == ("p95_latency_ms", ">=", 2000.0)
    assert parse_gate("error_rate>0.05").op == ">"


@pytest.mark.parametrize("text", ["p95_latency_ms=>2000", "latency>1", "cost_usd>", "x"])
def test_bad_expressions_say_what_is_expected(text: str) -> None:
    with pytest.raises(GateError) as e:
        parse_gate(text)
    assert "\n" not in str(e.value) and text in str(e.value)


def test_a_gate_breaks_when_its_condition_holds() -> None:
    doc = doc_with(make_call(T0, duration_ms=3000, cost_usd=2.0),
                   make_call(T0 + 1, duration_ms=100, status_code=500, cost_usd=0.0))
    results = check_gates(doc, [parse_gate("cost_usd>1.5"), parse_gate("error_rate>0.6"),
                                parse_gate("requests==2"), parse_gate("errors<1")])
    assert [r.broken for r in results] == [True, False, True, False]
    assert "cost_usd = 2" in results[0].message


def test_an_unknown_metric_value_breaks_the_gate_instead_of_passing() -> None:
    doc = doc_with(make_call(T0, duration_ms=100))  # no TTFT, no price
    results = check_gates(doc, [parse_gate("p95_ttft_ms>500"), parse_gate("cost_usd>1")])
    assert all(r.broken for r in results)
    assert "unknown" in results[0].message


def test_atomic_write_replaces_the_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, '{"new": true}\n')
    assert target.read_text() == '{"new": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
