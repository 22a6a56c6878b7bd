"""The what-if replay: rules, cost in the target's usage shape, latency, quality, intervals."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from plano_obs.model import LLMCall
from plano_obs.replay import ReplayError, RulesError, parse_rules, replay, single_rule
from plano_obs.replay._bootstrap import (
    quantile_replicates,
    sum_intervals,
    sum_replicates,
    weighted_quantile,
)

from replay_fixtures import call, pricer, window

P = pricer()


def rules(*specs: dict, aliases: dict | None = None):
    return parse_rules({"rules": list(specs), **({"aliases": aliases} if aliases else {})})


def run(calls: list[LLMCall], rule_set, *, seed: int = 1, iterations: int = 200, **kw):
    return replay(calls, rule_set, P, window=kw.pop("window", window()), seed=seed,
                  iterations=iterations, include_calls=True, **kw)


def by_request(result) -> dict[str, object]:
    return {c.request_id: c for c in result.calls}


TO_SMALL = {"name": "code to small", "match": {"route": "code generation"}, "to": "gpt-small"}


# -- determinism ------------------------------------------------------------------------------

def mixed_traffic(n: int = 300, seed: int = 3) -> list[LLMCall]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        route = rnd.choice(["code generation", "chat", None])
        model = rnd.choice(["gpt-big", "gpt-small", "claude-fast"])
        out.append(call(
            P, at_s=i // 3, route=route, model=model,  # calls ending together, too
            provider="anthropic" if model.startswith("claude") else "openai",
            prompt_tokens=rnd.randint(100, 6000), completion_tokens=rnd.randint(10, 900),
            cached_input_tokens=rnd.choice([None, 0, 64]),
            duration_ms=rnd.lognormvariate(6.5, 0.6),
            status_code=rnd.choice([200] * 19 + [503]), flagged=rnd.random() < 0.1,
            quality_score=rnd.uniform(0, 100)))
    return out


def test_same_inputs_and_seed_give_byte_identical_json():
    calls = mixed_traffic()
    rule_set = rules(TO_SMALL, {"name": "chat to claude", "match": {"route": "chat"},
                                "to": "claude-fast"})
    first = run(calls, rule_set, seed=42).model_dump_json()
    again = run(list(calls), rule_set, seed=42).model_dump_json()
    assert first == again
    seed_42 = run(calls, rule_set, seed=42).totals.savings_usd
    seed_43 = run(calls, rule_set, seed=43).totals.savings_usd
    assert seed_43.value == seed_42.value and seed_43.ci_low != seed_42.ci_low


def test_rule_order_in_the_file_and_call_order_do_not_matter():
    calls = mixed_traffic()
    a = {"name": "a", "priority": 1, "match": {"route": "chat"}, "to": "gpt-small"}
    b = {"name": "b", "priority": 1, "match": {"model": "gpt-big"}, "to": "claude-fast"}
    c = {"name": "c", "priority": 5, "match": {"input_tokens": "< 1000"}, "keep": True}
    shuffled = list(calls)
    random.Random(9).shuffle(shuffled)
    one = run(calls, rules(a, b, c)).model_dump_json()
    assert run(shuffled, rules(c, b, a)).model_dump_json() == one


def test_highest_priority_wins_then_rule_name():
    calls = [call(P, model="gpt-big", route="chat")]
    result = run(calls, rules(
        {"name": "zeta", "priority": 2, "match": {"route": "chat"}, "to": "gpt-small"},
        {"name": "alpha", "priority": 2, "match": {"model": "gpt-big"}, "to": "claude-fast"},
        {"name": "low", "priority": 1, "match": {}, "to": "o-think"}))
    assert result.calls[0].rule == "alpha"
    assert [r.rule for r in result.rules] == ["alpha", "low", "zeta"]  # sorted by name
    assert [r.matched for r in result.rules] == [1, 0, 0]


# -- cost -------------------------------------------------------------------------------------

def test_openai_shape_cached_prompt_is_not_billed_twice_on_an_anthropic_target():
    # OpenAI-shape prompt_tokens include the 8,000 cached ones: 2,000 are uncached.
    c = call(P, prompt_tokens=10_000, cached_input_tokens=8_000, completion_tokens=100)
    result = run([c], rules({"name": "r", "match": {}, "to": "claude-fast"}))
    replayed = result.calls[0]
    assert replayed.target_api_shape == "anthropic"
    assert (replayed.input_tokens, replayed.cached_input_tokens) == (2_000, 8_000)
    assert replayed.projected_cost_usd == pytest.approx((2_000 * 2 + 8_000 * 0.2 + 100 * 4) / 1e6)
    assert replayed.baseline_cost_usd == pytest.approx((2_000 * 10 + 8_000 * 5 + 100 * 30) / 1e6)


def test_anthropic_shape_cache_writes_are_plain_input_on_an_openai_target():
    # Anthropic-shape prompt_tokens (2,000) leave out cache reads (8,000) and writes (1,000).
    c = call(P, model="claude-fast", provider="anthropic", api_path="/v1/messages",
             prompt_tokens=2_000, cached_input_tokens=8_000, cache_creation_tokens=1_000,
             completion_tokens=100)
    assert c.cost.cost_usd == pytest.approx((2_000 * 2 + 8_000 * 0.2 + 1_000 * 2.5 + 100 * 4) / 1e6)
    result = run([c], rules({"name": "r", "match": {}, "to": "gpt-small"}))
    replayed = result.calls[0]
    assert replayed.target_api_shape == "openai"
    assert (replayed.input_tokens, replayed.cached_input_tokens,
            replayed.cache_write_tokens) == (3_000, 8_000, 0)
    assert replayed.projected_cost_usd == pytest.approx((3_000 * 1 + 8_000 * 0.5 + 100 * 2) / 1e6)


def test_projected_costs_equal_the_pricer_on_the_same_usage_in_the_target_shape():
    rnd = random.Random(5)
    calls = []
    for _ in range(400):
        anthropic = rnd.random() < 0.5
        calls.append(call(
            P, model="claude-fast" if anthropic else "gpt-big",
            provider="anthropic" if anthropic else "openai",
            api_path=rnd.choice(["/v1/messages", "/v1/chat/completions", None]),
            prompt_tokens=rnd.choice([None, -5, 0, rnd.randint(1, 400_000)]),
            completion_tokens=rnd.choice([None, rnd.randint(0, 20_000)]),
            cached_input_tokens=rnd.choice([None, 0, rnd.randint(1, 300_000)]),
            cache_creation_tokens=rnd.choice([None, 0, rnd.randint(1, 50_000)]),
            reasoning_tokens=rnd.choice([None, rnd.randint(0, 30_000)])))
    for target in ("claude-wide", "o-think", "gpt-small", "claude-fast"):
        # o-think is no known family: without its provider the catalog cannot tell who sells it.
        to = {"model": target, "provider": "openai"} if target == "o-think" else target
        result = run(calls, rules({"name": "r", "match": {}, "to": to}), iterations=1)
        for original, replayed in zip(sorted(calls, key=lambda c: c.end_ns), result.calls,
                                      strict=True):
            if replayed.outcome != "moved":
                assert replayed.outcome in ("no usage", "on target")
                continue
            anthropic = replayed.target_api_shape == "anthropic"
            synthetic = call(
                model=target, provider="anthropic" if anthropic else "openai",
                api_path="/v1/messages" if anthropic else "/v1/chat/completions",
                prompt_tokens=replayed.input_tokens + (
                    0 if anthropic else replayed.cached_input_tokens),
                cached_input_tokens=replayed.cached_input_tokens,
                cache_creation_tokens=replayed.cache_write_tokens if anthropic else None,
                completion_tokens=replayed.output_tokens,
                reasoning_tokens=original.reasoning_tokens)
            assert replayed.projected_cost_usd == P.price(synthetic).cost_usd, (target, original)


def test_a_target_without_a_price_leaves_calls_unchanged_and_counted():
    calls = [call(P, prompt_tokens=5_000), call(P, route="chat")]
    result = run(calls, rules({"name": "r", "match": {"route": "code generation"},
                               "to": "mystery-model-9"}))
    t = result.totals
    assert (t.matched, t.moved, t.unpriceable) == (1, 0, 1)
    assert t.savings_usd.value == 0.0 and t.projected_cost_usd == t.baseline_cost_usd
    assert result.calls[0].outcome == "unpriceable"
    assert result.calls[0].projected_cost_usd == result.calls[0].baseline_cost_usd
    assert result.rules[0].target_priced is False
    assert any("mystery-model-9" in c and "unpriceable" in c for c in result.caveats)


def test_a_costlier_target_shows_negative_savings():
    calls = [call(P, model="gpt-small", at_s=i) for i in range(5)]
    result = run(calls, rules({"name": "up", "match": {}, "to": "gpt-big"}))
    assert result.totals.savings_usd.value < 0
    assert result.totals.savings_pct.value < 0
    assert result.totals.savings_usd.ci_high < 0


def test_calls_without_a_known_cost_stay_out_of_the_totals():
    unpriced = call(P, model="homegrown-llm", provider="local")
    assert unpriced.cost.cost_usd is None
    result = run([call(P), unpriced], rules(TO_SMALL))
    t = result.totals
    assert (t.calls, t.priced_calls, t.baseline_unpriced) == (2, 1, 1)
    assert t.baseline_cost_usd == pytest.approx(call(P).cost.cost_usd)
    assert by_request(result)[unpriced.request_id].baseline_cost_usd is None
    assert any("no known cost" in c for c in result.caveats)


def test_failed_calls_are_projected_as_failed_at_the_target_price():
    failed = call(P, status_code=500, prompt_tokens=400, completion_tokens=0,
                  duration_ms=50.0)
    result = run([failed, call(P, model="gpt-small", route="chat")], rules(TO_SMALL))
    replayed = by_request(result)[failed.request_id]
    assert replayed.failed and replayed.outcome == "moved"
    assert replayed.projected_cost_usd == pytest.approx(400 * 1.0 / 1e6)
    assert replayed.latency_outcome == "failed call" and replayed.projected_latency_ms == 50.0
    assert result.totals.failed_moved == 1
    assert any("projected as failed" in c for c in result.caveats)


def test_calls_without_token_counts_cannot_move():
    bare = call(P, prompt_tokens=None, completion_tokens=None, gateway_total_cost_usd=0.02)
    bare.cost = P.price(bare)
    result = run([bare], rules(TO_SMALL))
    assert result.calls[0].outcome == "no usage"
    assert result.totals.no_usage == 1 and result.totals.savings_usd.value == 0.0


def test_calls_already_on_the_target_are_kept_whatever_its_spelling():
    on_it = call(P, model="openai/gpt-small-2025-01-01")
    result = run([on_it], rules(TO_SMALL))
    assert result.calls[0].outcome == "on target"
    assert result.totals.kept == 1 and result.totals.moved == 0


def test_keep_rules_and_aliases():
    calls = [call(P, model_requested="smart-llm", route=None, at_s=1),
             call(P, session_id="vip-7", at_s=2), call(P, at_s=3)]
    result = run(calls, rules(
        TO_SMALL, {"name": "vip stays", "priority": 9, "match": {"session": "vip-*"},
                   "keep": True}, aliases={"smart-llm": "claude-fast"}))
    outcomes = [(c.rule, c.outcome) for c in result.calls]
    assert outcomes == [("alias smart-llm", "moved"), ("vip stays", "kept"),
                        ("code to small", "moved")]


def test_token_size_conditions_use_the_whole_prompt_in_any_shape():
    small = call(P, model="claude-fast", provider="anthropic", api_path="/v1/messages",
                 prompt_tokens=100, cached_input_tokens=9_000, at_s=1)
    result = run([small], rules({"name": "short prompts", "match": {"input_tokens": "<= 1000"},
                                 "to": "gpt-small"}))
    assert result.calls[0].rule is None  # 9,100 input tokens in all


# -- latency and quality ----------------------------------------------------------------------

def test_moved_calls_take_the_target_latency_distribution():
    slow = [call(P, at_s=i, duration_ms=4000.0) for i in range(10)]
    fast = [call(P, model="gpt-small", route="chat", at_s=100 + i, duration_ms=200.0 + i)
            for i in range(10)]
    result = run(slow + fast, rules(TO_SMALL))
    lat = result.totals.latency
    assert lat.baseline_p95_ms == 4000.0
    assert lat.projected == 10
    assert lat.projected_p95_ms.value == 209.0
    assert all(c.projected_latency_ms == 204.0 for c in result.calls if c.outcome == "moved")
    assert any(c.startswith("thin latency history: gpt-small (10)") for c in result.caveats)


def test_a_target_without_history_keeps_its_calls_latency_and_says_so():
    result = run([call(P, duration_ms=900.0)], rules(TO_SMALL))
    lat = result.totals.latency
    assert (lat.projected, lat.unprojected) == (0, 1)
    assert lat.projected_p50_ms.value == 900.0
    assert result.calls[0].latency_outcome == "no target history"
    assert any("no latency history" in c for c in result.caveats)


def test_quality_evidence_is_side_by_side_per_route():
    source = [call(P, at_s=i, flagged=i < 2, quality_score=40.0) for i in range(10)]
    target_here = [call(P, model="gpt-small", at_s=50 + i, flagged=i < 5, quality_score=80.0)
                   for i in range(10)]
    elsewhere = [call(P, model="claude-fast", provider="anthropic", route="chat", at_s=80)]
    result = run(source + target_here + elsewhere, rules(
        TO_SMALL, {"name": "chat to big", "match": {"route": "chat"}, "to": "gpt-big"}))
    code, chat = result.quality[1], result.quality[0]
    assert (code.route, code.source_model, code.target_model) == (
        "code generation", "gpt-big", "gpt-small")
    assert code.source.flagged_rate == 0.2 and code.target.flagged_rate == 0.5
    assert code.source.quality_score_p50 == 40.0 and code.target.quality_score_p50 == 80.0
    assert (chat.route, chat.target, chat.note) == ("chat", None, "no history")


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(iterations=0), "iterations must be at least 1"),
    (dict(seed=-1), "seed must be"),
    (dict(window=window("custom", start_s=50, end_s=10)), "inverted window"),
    (dict(window=window("custom", start_s=10, end_s=10)), "empty window"),
    (dict(window=window("custom", start_s=500, end_s=900)), "no calls in the window"),
])
def test_unusable_inputs_are_one_line_errors(kwargs, message):
    with pytest.raises(ReplayError, match=message) as info:
        run([call(P)], rules(TO_SMALL), **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("spec", "message"), [
    ({"rules": [{"name": "x", "match": {"rout": "a"}, "to": "m"}]},
     "rule 'x': match.rout: unknown field"),
    ({"rules": [{"name": "x", "match": {}}]}, "rule 'x': give exactly one action"),
    ({"rules": [{"name": "x", "to": "m", "keep": True}]}, "give exactly one action"),
    ({"rules": [{"name": "x", "to": "m"}, {"name": "x", "keep": True}]}, "unique; repeated: x"),
    ({"rules": [{"name": "x", "match": {"input_tokens": "about 5"}, "to": "m"}]},
     "expected a condition such as '<= 8000'"),
    ({"rule": []}, "unknown top-level key 'rule'"),
    ({}, "no rules"),
])
def test_bad_rules_are_one_line_errors(spec, message):
    with pytest.raises(RulesError, match=message) as info:
        parse_rules(spec)
    assert "\n" not in str(info.value)


def test_model_patterns_ignore_spelling_and_dates_but_not_other_models():
    rule_set = rules({"name": "r", "match": {"model": "gpt-big"}, "to": "gpt-small"})
    calls = [call(P, model="openai/gpt-big-2024-08-06", at_s=1), call(P, model="GPT.big", at_s=2),
             call(P, model="gpt-big-mini", at_s=3)]
    assert [c.rule for c in run(calls, rule_set).calls] == ["r", "r", None]
    globbed = rules({"name": "g", "match": {"model": "gpt-*"}, "to": "claude-fast"})
    assert [c.rule for c in run(calls, globbed).calls] == ["g", "g", "g"]


def test_single_rule_builds_the_console_question():
    rule_set = single_rule("gpt-small", route="code generation")
    result = run([call(P), call(P, route="chat")], rule_set)
    assert result.totals.moved == 1
    assert result.rules[0].rule == "route code generation to gpt-small"


# -- the bootstrap ----------------------------------------------------------------------------

def test_block_resampling_has_the_bootstrap_mean_and_variance():
    rng = np.random.default_rng(0)
    values = rng.lognormal(0, 1, 20_000)  # more than one block, with a partial last one
    reps = sum_replicates([values], 400, np.random.default_rng(1))[:, 0]
    expected_sd = math.sqrt(len(values) * values.var())
    assert abs(reps.mean() - values.sum()) < 4 * expected_sd / math.sqrt(400)
    assert reps.std() == pytest.approx(expected_sd, rel=0.12)


def test_quantile_replicates_match_brute_force_resampling():
    rng = np.random.default_rng(2)
    values = np.sort(rng.exponential(100, 300))
    fast = quantile_replicates([values], lambda c: (np.ones(c.shape), np.ones(len(c), bool)),
                               0.9, 4000, np.random.default_rng(3))
    brute = np.array([weighted_quantile([np.sort(rng.choice(values, len(values)))], [1.0], 0.9)
                      for _ in range(4000)])
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert np.quantile(fast, q) == pytest.approx(np.quantile(brute, q), rel=0.03)


def test_ninety_five_percent_intervals_cover_the_truth_about_95_percent_of_the_time():
    # Route "code generation" (half the calls, gpt-big) moves to gpt-small, which serves "chat".
    # Tokens are uniform, so the expected cost per call is known exactly; latencies exponential.
    n, trials = 300, 220
    expected_savings = 0.5 * (1000 * 9 + 100 * 28) / 1e6
    expected_baseline = 0.5 * (1000 * 10 + 100 * 30) / 1e6 + 0.5 * (1000 * 1 + 100 * 2) / 1e6
    truth = {"usd": n * expected_savings, "pct": 100 * expected_savings / expected_baseline,
             "p95": 500.0 * math.log(20)}
    covered = {k: 0 for k in truth}
    rule_set = rules(TO_SMALL)
    for trial in range(trials):
        rnd = random.Random(trial)
        calls = []
        for i in range(n):
            moved = rnd.random() < 0.5
            calls.append(call(
                P, at_s=i, route="code generation" if moved else "chat",
                model="gpt-big" if moved else "gpt-small",
                prompt_tokens=rnd.randint(500, 1500), completion_tokens=rnd.randint(50, 150),
                duration_ms=rnd.expovariate(1 / (2000.0 if moved else 500.0))))
        t = replay(calls, rule_set, P, window=window(), seed=trial, iterations=300).totals
        for key, est in (("usd", t.savings_usd), ("pct", t.savings_pct),
                         ("p95", t.latency.projected_p95_ms)):
            covered[key] += est.ci_low <= truth[key] <= est.ci_high
    for key, hits in covered.items():
        assert 0.88 <= hits / trials <= 0.99, (key, hits / trials)


def test_bag_of_little_bootstraps_covers_sums_and_ratios_about_95_percent_of_the_time():
    # The large-sample path, forced onto 5,000 rows with subsamples of 166: the truth of the
    # sum is n * E[delta]; of the ratio, E[delta] / E[baseline].
    n, trials = 5_000, 200
    covered = [0, 0]
    for trial in range(trials):
        rng = np.random.default_rng(trial)
        baseline = rng.lognormal(-6, 1, n)  # E = exp(-5.5)
        delta = baseline * rng.uniform(0, 0.6, n)  # E = 0.3 * exp(-5.5)
        (usd, pct), method = sum_intervals(
            [baseline, delta], [lambda s: s[..., 1], lambda s: 100 * s[..., 1] / s[..., 0]],
            300, np.random.default_rng(10_000 + trial), exact_rows=0, min_subsample=0)
        covered[0] += usd[0] <= n * 0.3 * math.exp(-5.5) <= usd[1]
        covered[1] += pct[0] <= 30.0 <= pct[1]
    assert method.startswith("bag of little bootstraps: 3 subsamples of 166 calls")
    assert 0.88 <= covered[0] / trials <= 0.99, covered
    assert 0.88 <= covered[1] / trials <= 0.99, covered


def test_a_target_the_catalog_cannot_attribute_is_unpriceable_and_says_why():
    # o-think is no known family and the rule names no provider: the catalog will not guess.
    result = run([call(P)], rules({"name": "r", "match": {}, "to": "o-think"}))
    breakdown = result.rules[0]
    assert breakdown.target_priced is False and breakdown.unpriceable == 1
    assert breakdown.target_unpriced_because.startswith("ambiguous: ")
    assert any("o-think (ambiguous: " in c for c in result.caveats)
    named = run([call(P)], rules({"name": "r", "match": {},
                                  "to": {"model": "o-think", "provider": "openai"}}))
    assert named.totals.moved == 1


def test_a_call_without_an_http_status_fails_by_its_span_status():
    silent = call(P, status_code=None, span_status="error", at_s=1)
    fine = call(P, status_code=None, span_status="ok", at_s=2)
    result = run([silent, fine], rules(TO_SMALL))
    assert [c.failed for c in result.calls] == [True, False]
    assert result.totals.failed_moved == 1


def test_rules_sending_a_route_to_the_same_model_share_one_quality_entry():
    calls = [call(P, at_s=1, model_requested="smart-llm"), call(P, at_s=2),
             call(P, model="gpt-small", at_s=3)]
    result = run(calls, rules(TO_SMALL, {"name": "a", "priority": 5,
                                         "match": {"requested_model": "smart-llm"},
                                         "to": "openai/gpt-small"}))
    assert result.totals.moved == 2
    assert [(q.route, q.source_model, q.target_model, q.moved) for q in result.quality] == [
        ("code generation", "gpt-big", "openai/gpt-small", 2)]
