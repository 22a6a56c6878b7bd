"""Cost accuracy: the gateway's reported cost beside the catalog's list price, per provider and
model, through the real pricer and analytics."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from plano_obs.analytics import Analytics, ExportDocument
from plano_obs.analytics.document import CostAccuracyRow
from plano_obs.export.gates import check_gates, parse_gate
from plano_obs.model import LLMCall
from plano_obs.pricing import Pricer

T0 = 1_800_000_000  # unix seconds, on a minute
_ids = count()


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer()


def call(pricer: Pricer, at: float, *, model: str = "gpt-4o", provider: str = "openai",
         prompt: int = 10_000, completion: int = 1_000, cached: int | None = None,
         markup: float | None = None, input_markup: float | None = None,
         output_markup: float | None = None, **fields: Any) -> LLMCall:
    """A priced call; ``markup`` makes the gateway report that multiple of the catalog cost
    (``input_markup``/``output_markup`` report the two parts separately)."""
    n = next(_ids)
    c = LLMCall(trace_id=f"{n:032x}", span_id=f"{n:016x}", parent_span_id=None,
                name="POST /v1/chat/completions", service="plano(llm)",
                start_ns=int(at * 1e9) - 1, end_ns=int(at * 1e9), request_id=f"r{n}",
                model=model, provider=provider, api_path="/v1/chat/completions",
                prompt_tokens=prompt, completion_tokens=completion, cached_input_tokens=cached,
                **fields)
    listed = pricer.price(c)
    if listed.catalog_cost_usd is not None and (markup or input_markup or output_markup):
        output = listed.catalog_output_cost_usd or 0.0
        inp = listed.catalog_cost_usd - output
        if markup is not None:
            c.gateway_total_cost_usd = listed.catalog_cost_usd * markup
        else:
            c.gateway_input_cost_usd = inp * (input_markup or 1.0)
            c.gateway_output_cost_usd = output * (output_markup or 1.0)
    c.cost = pricer.price(c)
    return c


def row(rows: list[CostAccuracyRow], provider: str, model: str | None = None
        ) -> CostAccuracyRow:
    return next(r for r in rows if r.provider == provider and r.model == model)


def test_gateway_cost_25_percent_over_list_is_drift(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(25):
        a.add(call(pricer, T0 + i, markup=1.25))
    acc = a.cost_accuracy(now=T0 + 30)
    m = row(acc.models, "openai", "gpt-4o")
    assert (m.basis, m.calls, m.reported_calls, m.compared_calls) == ("reported", 25, 25, 25)
    assert m.pricing_entry == "openai/gpt-4o"
    assert (m.list_input_usd_per_m, m.list_output_usd_per_m) == (2.5, 10.0)
    assert m.ratio == pytest.approx(1.25) and m.drift_pct == pytest.approx(25.0)
    assert m.drift
    p = row(acc.providers, "openai")
    assert p.drift and p.model is None and p.pricing_entry is None
    assert acc.max_drift_pct == pytest.approx(25.0)


def test_too_few_calls_are_never_flagged(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(19):
        a.add(call(pricer, T0 + i, markup=2.0))
    m = row(a.cost_accuracy(now=T0 + 30).models, "openai", "gpt-4o")
    assert m.ratio == pytest.approx(2.0)
    assert m.drift_pct is None and not m.drift


def test_calls_without_a_gateway_cost_are_derived_and_never_flagged(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(50):
        a.add(call(pricer, T0 + i, prompt=1_000 + i, completion=100))
    m = row(a.cost_accuracy(now=T0 + 60).models, "openai", "gpt-4o")
    assert (m.basis, m.reported_calls, m.compared_calls) == ("derived", 0, 0)
    assert m.ratio == 1.0 and m.drift_pct is None and not m.drift
    assert m.effective_input_usd_per_m is None  # nothing was measured
    assert (m.list_input_usd_per_m, m.list_output_usd_per_m) == (2.5, 10.0)


def test_cache_reads_at_their_own_rate_are_not_drift(pricer: Pricer) -> None:
    # Half of each prompt read from the cache at $1.25/M: the gateway's cost is right, its
    # effective input price is below the $2.50 list price, and the ratio stays 1.0.
    a = Analytics()
    for i in range(30):
        a.add(call(pricer, T0 + i, prompt=10_000, cached=5_000, input_markup=1.0,
                   output_markup=1.0))
    m = row(a.cost_accuracy(now=T0 + 60).models, "openai", "gpt-4o")
    assert m.ratio == pytest.approx(1.0) and m.drift_pct == pytest.approx(0.0)
    assert not m.drift
    assert m.effective_input_usd_per_m == pytest.approx(1.875)
    assert m.list_input_usd_per_m == 2.5


def test_input_and_output_are_compared_apart(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(20):
        a.add(call(pricer, T0 + i, input_markup=1.0, output_markup=1.3))
    m = row(a.cost_accuracy(now=T0 + 60).models, "openai", "gpt-4o")
    assert m.input_ratio == pytest.approx(1.0) and m.output_ratio == pytest.approx(1.3)
    assert 1.0 < m.ratio < 1.3
    assert m.drift_pct == pytest.approx(30.0) and m.drift
    assert m.effective_input_usd_per_m == pytest.approx(2.5)
    assert m.effective_output_usd_per_m == pytest.approx(13.0)


def test_reported_cost_of_a_model_without_a_price_has_no_ratio(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(25):
        c = call(pricer, T0 + i, model="acme-llm-9", provider="acme")
        c.gateway_total_cost_usd = 0.01
        c.cost = pricer.price(c)
        a.add(c)
    m = row(a.cost_accuracy(now=T0 + 60).models, "acme", "acme-llm-9")
    assert (m.basis, m.reported_calls, m.compared_calls) == ("reported", 25, 0)
    assert m.cost_usd == pytest.approx(0.25)
    assert m.pricing_entry is None and m.list_input_usd_per_m is None
    assert m.ratio is None and m.drift_pct is None and not m.drift


def test_drift_leaves_the_window_with_its_calls(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(25):
        a.add(call(pricer, T0 + i, markup=1.5))
    for i in range(25):
        a.add(call(pricer, T0 + 400 + i, markup=1.0))
    recent = row(a.cost_accuracy("5m", now=T0 + 430).models, "openai", "gpt-4o")
    assert recent.calls == 25 and recent.ratio == pytest.approx(1.0) and not recent.drift
    everything = row(a.cost_accuracy("all", now=T0 + 430).models, "openai", "gpt-4o")
    assert everything.calls == 50 and everything.ratio == pytest.approx(1.25)


def test_providers_sum_their_models(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(10):
        a.add(call(pricer, T0 + i, markup=1.0))
        a.add(call(pricer, T0 + i, model="gpt-4o-mini", markup=1.0))
        a.add(call(pricer, T0 + i, model="claude-haiku-4-5", provider="anthropic"))
    acc = a.cost_accuracy(now=T0 + 60)
    assert [(r.provider, r.calls, r.basis) for r in acc.providers] == [
        ("openai", 20, "reported"), ("anthropic", 10, "derived")]
    assert row(acc.models, "openai", "gpt-4o-mini").pricing_entry == "openai/gpt-4o-mini"


def test_export_document_carries_the_section_and_the_gate_reads_it(pricer: Pricer) -> None:
    a = Analytics()
    for i in range(25):
        a.add(call(pricer, T0 + i, markup=1.2))
    doc = a.document(now=T0 + 60)
    again = ExportDocument.model_validate_json(doc.model_dump_json())
    assert again.cost_accuracy is not None and again.cost_accuracy.max_drift_pct == 20.0
    assert doc.models[0].pricing_entry == "openai/gpt-4o"
    broke, held = check_gates(doc, [parse_gate("cost_drift_pct>15"),
                                    parse_gate("cost_drift_pct>25")])
    assert broke.broken and "cost_drift_pct = 20" in broke.message
    assert not held.broken


def test_the_gate_fails_when_nothing_could_be_compared(pricer: Pricer) -> None:
    a = Analytics()
    a.add(call(pricer, T0))
    (result,) = check_gates(a.document(now=T0 + 60), [parse_gate("cost_drift_pct>15")])
    assert result.broken and result.value is None
    assert "20 calls with both a gateway-reported cost and a catalog price" in result.message


def test_ambiguous_calls_are_counted_and_never_cost_zero(pricer: Pricer) -> None:
    a = Analytics()
    a.add(call(pricer, T0, model="gpt-oss-120b", provider="plano(llm)"))
    a.add(call(pricer, T0 + 1, model="gpt-oss-120b", provider="groq"))
    doc = a.document(now=T0 + 60)
    assert doc.summary.ambiguous_requests == 1 and doc.summary.unpriced_requests == 1
    by_provider = {m.provider: m for m in doc.models}
    assert by_provider["plano(llm)"].cost_usd is None
    assert by_provider["plano(llm)"].ambiguous_requests == 1
    assert by_provider["plano(llm)"].pricing_entry is None
    assert by_provider["groq"].pricing_entry == "groq/openai/gpt-oss-120b"


def test_schema_describes_the_cost_accuracy_section(tmp_path: Path) -> None:
    from plano_obs.analytics import json_schema

    schema = json.loads(json_schema())
    assert "cost_accuracy" in schema["properties"]
    row_props = schema["$defs"]["CostAccuracyRow"]["properties"]
    assert {"basis", "ratio", "drift_pct", "drift", "effective_input_usd_per_m",
            "list_input_usd_per_m", "pricing_entry"} <= set(row_props)
    assert "pricing_entry" in schema["$defs"]["ModelRollup"]["properties"]
