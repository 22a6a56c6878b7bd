"""The detail screen's cost section: which catalog entry priced the call, or why none did."""

from __future__ import annotations

import pytest
from rich.console import Console

from plano_obs.model import LLMCall
from plano_obs.pricing import Pricer
from plano_obs.tui.screens.detail import cost_view


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer()


def rendered(call: LLMCall) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(cost_view(call))
    return " ".join(console.export_text().split())


def priced(pricer: Pricer, model: str, provider: str | None, **fields: object) -> LLMCall:
    call = LLMCall(trace_id="t", span_id="s", parent_span_id=None, name="POST", service=None,
                   start_ns=0, end_ns=1, request_id="r", model=model, provider=provider,
                   api_path="/v1/messages", prompt_tokens=250_000, completion_tokens=1_000,
                   **fields)  # type: ignore[arg-type]
    call.cost = pricer.price(call)
    return call


def test_the_entry_that_priced_the_call_is_shown(pricer: Pricer) -> None:
    text = rendered(priced(pricer, "anthropic.claude-sonnet-4-20250514-v1:0", None))
    assert "priced as anthropic/claude-sonnet-4-20250514 (embedded snapshot)" in text
    # 250k tokens of context: the >200k rates, and where that tier was found.
    assert "$6.00" in text and "$22.50" in text
    assert ("billed at the rates above 200,000 tokens of context, as listed for the same "
            "model by digitalocean/") in text


def test_a_call_below_every_tier_says_nothing_about_tiers(pricer: Pricer) -> None:
    call = priced(pricer, "claude-sonnet-4-20250514", "anthropic")
    call.prompt_tokens = 1_000
    call.cost = pricer.price(call)
    assert "above" not in rendered(call)


def test_an_ambiguous_name_is_shown_as_such_never_as_zero(pricer: Pricer) -> None:
    text = rendered(priced(pricer, "gpt-oss-120b", "plano(llm)"))
    assert "No single catalog price for gpt-oss-120b" in text
    assert "plano obs pricing gpt-oss-120b --explain" in text
    assert "never as $0" in text and "$0.0" not in text


def test_an_ambiguous_name_with_a_gateway_cost_shows_both(pricer: Pricer) -> None:
    text = rendered(priced(pricer, "gpt-oss-120b", "cerebras-proxy",
                           gateway_total_cost_usd=0.0123))
    assert "source gateway" in text and "$0.0123" in text
    assert "No single catalog price for gpt-oss-120b" in text
    assert "plano obs pricing gpt-oss-120b --provider cerebras-proxy --explain" in text


def test_an_unknown_name_is_unknown(pricer: Pricer) -> None:
    text = rendered(priced(pricer, "acme-llm-9", "openai"))
    assert "No price known for acme-llm-9" in text and "No single" not in text


def test_every_cost_of_the_breakdown_has_the_same_decimals(pricer: Pricer) -> None:
    """$0.010320 beside $0.022446, never $0.01032: a dropped zero reads as a cut digit."""
    import re

    call = priced(pricer, "claude-sonnet-4-20250514", "anthropic", cached_input_tokens=3_186)
    call.prompt_tokens, call.completion_tokens = 7_482, 688
    call.cost = pricer.price(call)
    console = Console(width=160, record=True, color_system=None)
    console.print(cost_view(call))
    rows = [line.split() for line in console.export_text().splitlines()]
    costs = [row[-1] for row in rows if row and row[0] in ("input", "cache", "output", "total")]
    assert len(costs) == 4 and "$0.010320" in costs, costs
    assert len({len(c.split(".")[1]) for c in costs}) == 1, costs
    assert all(re.fullmatch(r"\$\d+\.\d+", c) for c in costs), costs
