"""Name resolution and the user's pricing file and Plano config."""

from __future__ import annotations

import subprocess
import sys

import pytest

import plano_obs.pricing as pricing
from plano_obs.pricing import Catalog, PriceEntry, Pricer, PricingConfigError, Rates


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer()


@pytest.mark.parametrize(("name", "provider", "expected"), [
    ("gpt-4o-mini", None, "openai/gpt-4o-mini"),
    ("openai/gpt-4o", None, "openai/gpt-4o"),
    ("openai/gpt-4o", "plano(llm)", "openai/gpt-4o"),
    ("claude-4.6-sonnet", None, "anthropic/claude-sonnet-4-6"),
    ("claude-sonnet-4.6", None, "anthropic/claude-sonnet-4-6"),
    ("claude-sonnet-4@20250514", None, "anthropic/claude-sonnet-4-20250514"),
    ("claude-3-5-sonnet-latest", None, "anthropic/claude-3-5-sonnet-20241022"),
    ("gpt-4o-2024-08-06", None, "openai/gpt-4o-2024-08-06"),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", None, "anthropic/claude-sonnet-4-20250514"),
    ("do/openai-gpt-4o", None, "digitalocean/openai-gpt-4o"),
    ("anthropic-claude-haiku-4.5", "digitalocean", "digitalocean/anthropic-claude-haiku-4.5"),
    ("gpt-4-1", None, "openai/gpt-4.1"),
])
def test_gateway_spellings_resolve(pricer: Pricer, name: str, provider: str | None,
                                   expected: str) -> None:
    entry = pricer.resolve(name, provider)
    assert entry is not None and entry.key == expected


def test_dated_name_is_tried_before_the_undated_alias() -> None:
    catalog = Catalog((PriceEntry("openai", "gpt-x", Rates(1.0, 2.0)),
                       PriceEntry("openai", "gpt-x-2024-05-13", Rates(5.0, 15.0))), "test")
    pricer = Pricer(catalog)
    assert pricer.resolve("gpt-x-2024-05-13").rates.input == 5.0
    assert pricer.resolve("gpt-x-2025-01-01").rates.input == 1.0  # unknown date: the alias


def test_gateway_provider_beats_the_owner_and_owner_beats_resellers() -> None:
    catalog = Catalog((PriceEntry("aaa-reseller", "claude-foo-1", Rates(9.0, 9.0)),
                       PriceEntry("anthropic", "claude-foo-1", Rates(1.0, 2.0)),
                       PriceEntry("groq", "claude-foo-1", Rates(7.0, 7.0))), "test")
    pricer = Pricer(catalog)
    assert pricer.resolve("claude-foo-1").provider == "anthropic"
    assert pricer.resolve("claude-foo-1", "groq").provider == "groq"
    assert pricer.resolve("claude-foo-1", "azure").provider == "anthropic"


def test_gateway_provider_wins_when_no_first_party_entry() -> None:
    catalog = Catalog((PriceEntry("aaa-reseller", "llama-9", Rates(9.0, 9.0)),
                       PriceEntry("groq", "llama-9", Rates(1.0, 1.0))), "test")
    pricer = Pricer(catalog)
    assert pricer.resolve("llama-9", "groq").provider == "groq"
    assert pricer.resolution("llama-9").status == "ambiguous"
    assert pricer.resolution("llama-9", "cerebras").status == "ambiguous"


def test_digitalocean_prices_win_for_digitalocean_calls(pricer: Pricer) -> None:
    entry = pricer.resolve("claude-haiku-4.5", "digitalocean")
    assert entry is not None and entry.provider == "digitalocean"
    assert pricer.resolve("claude-haiku-4.5").provider == "anthropic"


def test_unknown_names_resolve_to_none_and_are_memoised(pricer: Pricer) -> None:
    assert pricer.resolve("acme-llm-9") is None
    resolver = pricer._state.resolver
    assert ("acme-llm-9", None) in resolver._memo


def test_zero_priced_catalog_entries_are_unknown() -> None:
    from plano_obs.pricing._catalog import parse_models_dev

    doc = {"p": {"models": {"paid": {"cost": {"input": 1, "output": 2}},
                            "zero": {"cost": {"input": 0, "output": 0}}}}}
    catalog = parse_models_dev(doc)
    assert [e.model for e in catalog.entries] == ["paid"]


def test_pricing_file_overrides_rates_aliases_and_free(tmp_path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(
        "models:\n"
        "  gpt-4o-mini: {input: 1.0, output: 2.0}\n"
        "  local/llama-home: {free: true, aliases: [home]}\n"
        "  acme-llm-9:\n"
        "    input: 3\n"
        "    output: 6\n"
        "    tiers: [{size: 1000, input: 30, output: 60}]\n"
        "aliases:\n"
        "  cheap: gpt-4o-mini\n")
    pricer = Pricer(pricing_file=f)
    assert pricer.resolve("gpt-4o-mini").rates.input == 1.0
    assert pricer.resolve("openai/gpt-4o-mini-2024-07-18").rates.input == 1.0
    assert pricer.resolve("cheap").rates.input == 1.0
    assert pricer.resolve("home").free
    assert pricer.resolve("acme-llm-9").source == "pricing file prices.yaml"
    assert pricer.info().overrides == 3


@pytest.mark.parametrize(("text", "fragment"), [
    ("models:\n  x: {input: 1}\n", "models.x"),
    ("models:\n  x: {input: -1, output: 1}\n", "models.x.input"),
    ("models:\n  x: {input: 0, output: 0}\n", "free: true"),
    ("models: [\n", "invalid YAML at line"),
    ("modles: {}\n", "modles"),
])
def test_bad_pricing_file_raises_one_line_error_naming_the_file(tmp_path, text: str,
                                                                fragment: str) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(text)
    with pytest.raises(PricingConfigError) as info:
        Pricer(pricing_file=f)
    message = str(info.value)
    assert str(f) in message and fragment in message and "\n" not in message


def test_missing_pricing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(PricingConfigError, match="file not found"):
        Pricer(pricing_file=tmp_path / "nope.json")


def test_plano_config_chooses_the_cost_source(tmp_path) -> None:
    f = tmp_path / "plano_config.yaml"
    f.write_text("model_metrics_sources:\n  - type: latency\n  - type: cost\n"
                 "    provider: digitalocean\n")
    assert Pricer(plano_config=f).cost_source.provider == "digitalocean"
    f.write_text("model_metrics_sources:\n  - type: cost\n    provider: acme\n")
    with pytest.raises(PricingConfigError, match="provider"):
        Pricer(plano_config=f)


def test_public_api_is_declared() -> None:
    for name in pricing.__all__:
        assert hasattr(pricing, name)
    assert {"Pricer", "PricingInfo", "PricingConfigError"} <= set(pricing.__all__)


def test_pricing_never_imports_textual() -> None:
    code = ("import sys, plano_obs.pricing, plano_obs.cli.pricing; "
            "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
