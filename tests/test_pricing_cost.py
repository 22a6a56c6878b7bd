"""Cost arithmetic against the embedded snapshot: the issue's reference cases and the rules."""

from __future__ import annotations

import math

import pytest

from plano_obs.model import LLMCall
from plano_obs.pricing import Catalog, PriceEntry, Pricer, Rates


def make_call(model: str | None, *, path: str | None = None, provider: str | None = None,
              prompt: int | None = None, completion: int | None = None,
              cached: int | None = None, cache_write: int | None = None,
              reasoning: int | None = None, gateway_cost: float | None = None,
              requested: str | None = None) -> LLMCall:
    return LLMCall(trace_id="t1", span_id="s1", parent_span_id=None, name="POST", service=None,
                   start_ns=0, end_ns=1, request_id="r1", model=model, model_requested=requested,
                   provider=provider, api_path=path, prompt_tokens=prompt,
                   completion_tokens=completion, cached_input_tokens=cached,
                   cache_creation_tokens=cache_write, reasoning_tokens=reasoning,
                   gateway_total_cost_usd=gateway_cost)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer()


@pytest.mark.parametrize(("call", "expected"), [
    (make_call("gpt-4o-mini", path="/v1/chat/completions", prompt=10_000, cached=4_000,
               completion=500), 0.00152),
    (make_call("claude-sonnet-4-20250514", path="/v1/messages", prompt=50, cached=10_000,
               cache_write=2_000, completion=500), 0.01815),
    (make_call("anthropic/claude-haiku-4-5-20251001", path="/v1/chat/completions",
               prompt=10_000, cached=8_000, completion=200), 0.0038),
    (make_call("gemini-2.5-pro", prompt=250_000, completion=1_000), 0.64),
    (make_call("digitalocean/openai-gpt-oss-120b", prompt=1_000, completion=1_000), 0.0008),
])
def test_reference_cases_match_the_issue(pricer: Pricer, call: LLMCall, expected: float) -> None:
    cost = pricer.price(call)
    assert cost.cost_usd == pytest.approx(expected, abs=1e-9)
    assert cost.source == "catalog"
    assert cost.pricing_source == "embedded snapshot"
    assert math.isclose(sum(line.cost_usd for line in cost.lines(call)), expected, abs_tol=1e-9)


def test_unknown_model_has_unknown_cost_not_zero(pricer: Pricer) -> None:
    cost = pricer.price(make_call("acme-llm-9", prompt=1_000, completion=1_000))
    assert cost.cost_usd is None
    assert cost.source is None
    assert cost.catalog_entry is None


def test_breakdown_names_each_kind_of_token(pricer: Pricer) -> None:
    call = make_call("claude-sonnet-4-20250514", path="/v1/messages", prompt=50,
                     cached=10_000, cache_write=2_000, completion=500)
    cost = pricer.price(call)
    assert [(line.kind, line.tokens, line.usd_per_million) for line in cost.lines(call)] == [
        ("input", 50, 3.0), ("cached_input", 10_000, 0.3), ("cache_write", 2_000, 3.75),
        ("output", 500, 15.0)]
    assert cost.catalog_entry == "anthropic/claude-sonnet-4-20250514"


def test_anthropic_cache_reads_are_not_subtracted_from_prompt(pricer: Pricer) -> None:
    messages = pricer.price(make_call("claude-sonnet-4-20250514", path="/v1/messages",
                                      prompt=1_000, cached=800, completion=0))
    chat = pricer.price(make_call("claude-sonnet-4-20250514", path="/v1/chat/completions",
                                  prompt=1_000, cached=800, completion=0))
    assert messages.cost_usd == pytest.approx((1_000 * 3.0 + 800 * 0.3) / 1e6)
    assert chat.cost_usd == pytest.approx((200 * 3.0 + 800 * 0.3) / 1e6)


def test_unknown_path_infers_exclusive_shape_from_impossible_counts(pricer: Pricer) -> None:
    call = make_call("gpt-4o-mini", prompt=100, cached=4_000, completion=0)
    cost = pricer.price(call)
    assert cost.lines(call)[0].tokens == 100  # 4,000 cached cannot be inside a prompt of 100


def test_unknown_path_with_anthropic_provider_is_exclusive(pricer: Pricer) -> None:
    call = make_call("claude-sonnet-4-20250514", provider="anthropic", prompt=1_000, cached=500,
                     completion=0)
    cost = pricer.price(call)
    assert cost.lines(call)[0].tokens == 1_000


def test_cache_reads_bill_at_input_rate_when_catalog_has_no_cache_rate() -> None:
    entry = PriceEntry("acme", "acme-1", Rates(2.0, 4.0))
    pricer = Pricer(Catalog((entry,), "test"))
    cost = pricer.price(make_call("acme-1", path="/v1/chat/completions", provider="acme",
                                  prompt=1_000, cached=600, completion=0))
    assert cost.cost_usd == pytest.approx(1_000 * 2.0 / 1e6)


def test_reasoning_tokens_are_never_added_on_top_of_completion(pricer: Pricer) -> None:
    with_reasoning = pricer.price(make_call("o3", prompt=0, completion=1_000, reasoning=800))
    without = pricer.price(make_call("o3", prompt=0, completion=1_000))
    assert with_reasoning.cost_usd == pytest.approx(without.cost_usd)


def test_reasoning_has_its_own_rate_when_the_catalog_gives_one() -> None:
    entry = PriceEntry("acme", "thinker", Rates(1.0, 2.0, reasoning=10.0))
    cost = Pricer(Catalog((entry,), "test")).price(
        make_call("thinker", provider="acme", prompt=0, completion=1_000, reasoning=400))
    assert cost.cost_usd == pytest.approx((600 * 2.0 + 400 * 10.0) / 1e6)


def test_context_tier_bills_whole_request_at_higher_rates(pricer: Pricer) -> None:
    below = pricer.price(make_call("gemini-2.5-pro", prompt=200_000, completion=1_000))
    assert below.cost_usd == pytest.approx((200_000 * 1.25 + 1_000 * 10) / 1e6)


def test_gateway_cost_is_displayed_and_drift_flagged(pricer: Pricer) -> None:
    catalog = pricer.price(make_call("gpt-4o-mini", path="/v1/chat/completions",
                                     prompt=10_000, cached=4_000, completion=500))
    assert catalog.cost_usd is not None
    close = pricer.price(make_call("gpt-4o-mini", path="/v1/chat/completions", prompt=10_000,
                                   cached=4_000, completion=500, gateway_cost=0.00155))
    assert (close.source, close.cost_usd, close.drift) == ("gateway", 0.00155, False)
    assert close.catalog_cost_usd == pytest.approx(0.00152)
    far = pricer.price(make_call("gpt-4o-mini", path="/v1/chat/completions", prompt=10_000,
                                 cached=4_000, completion=500, gateway_cost=0.002))
    assert far.drift is True
    assert far.gateway_cost_usd == 0.002


def test_gateway_cost_for_unknown_model_is_still_shown(pricer: Pricer) -> None:
    cost = pricer.price(make_call("acme-llm-9", prompt=10, completion=10, gateway_cost=0.01))
    assert (cost.cost_usd, cost.source, cost.catalog_cost_usd) == (0.01, "gateway", None)


def test_negative_token_counts_are_not_billed(pricer: Pricer) -> None:
    cost = pricer.price(make_call("gpt-4o-mini", prompt=-5, completion=100))
    assert cost.cost_usd == pytest.approx(100 * 0.6 / 1e6)


def test_call_without_usage_has_unknown_cost(pricer: Pricer) -> None:
    cost = pricer.price(make_call("gpt-4o-mini"))
    assert cost.cost_usd is None
    assert cost.catalog_entry == "openai/gpt-4o-mini"  # resolved, but nothing to bill


def test_alias_requested_prices_as_its_target(tmp_path) -> None:
    config = tmp_path / "plano_config.yaml"
    config.write_text("model_aliases:\n  smart-llm:\n    target: gpt-4o-mini\n")
    pricer = Pricer(plano_config=config)
    cost = pricer.price(make_call("smart-llm", prompt=1_000_000, completion=0))
    assert cost.catalog_entry == "openai/gpt-4o-mini"
    assert cost.cost_usd == pytest.approx(0.15)
    requested = pricer.price(make_call(None, requested="smart-llm", prompt=1_000_000))
    assert requested.cost_usd == pytest.approx(0.15)


def test_price_never_raises_on_odd_values(pricer: Pricer) -> None:
    call = make_call("gpt-4o-mini", prompt=10, completion=10, gateway_cost=float("nan"))
    assert pricer.price(call).source == "catalog"
