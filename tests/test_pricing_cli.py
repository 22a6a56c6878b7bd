"""``plano obs pricing`` and the snapshot build script."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plano_obs.cli.pricing import add_pricing_arguments, run_pricing

REPO = Path(__file__).resolve().parent.parent


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
        ) -> tuple[int, str, str]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parser = argparse.ArgumentParser()
    add_pricing_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_pricing(parser.parse_args(["--offline", *argv]), out, err)
    return code, out.getvalue(), err.getvalue()


def test_prints_resolved_entry_rates_and_source(monkeypatch, tmp_path) -> None:
    code, out, _ = run(["anthropic/claude-haiku-4-5-20251001"], monkeypatch, tmp_path)
    assert code == 0
    assert "anthropic/claude-haiku-4-5-20251001 -> anthropic/claude-haiku-4-5-20251001" in out
    assert "input $1, output $5, cache read $0.1, cache write $1.25 per 1M tokens" in out
    assert "source: embedded snapshot" in out


def test_unknown_model_says_so_and_exits_1(monkeypatch, tmp_path) -> None:
    code, out, _ = run(["gpt-4o-mini", "acme-llm-9"], monkeypatch, tmp_path)
    assert code == 1
    assert "acme-llm-9: no price (cost unknown)" in out


def test_prints_why_the_entry_won_and_where_a_borrowed_tier_comes_from(monkeypatch,
                                                                      tmp_path) -> None:
    code, out, _ = run(["claude-sonnet-4-20250514"], monkeypatch, tmp_path)
    assert code == 0
    assert "why: anthropic is the model's owner" in out
    assert "above 200,000 tokens of context: input $6, output $22.5" in out
    assert "openrouter/anthropic/claude-sonnet-4" in out  # where the tier came from


def test_ambiguous_name_says_so_and_exits_1(monkeypatch, tmp_path) -> None:
    code, out, _ = run(["gpt-oss-120b"], monkeypatch, tmp_path)
    assert code == 1
    assert out.startswith("gpt-oss-120b: ambiguous, no price (cost unknown): not listed by openai")
    code, out, _ = run(["gpt-oss-120b", "--provider", "groq"], monkeypatch, tmp_path)
    assert code == 0 and "gpt-oss-120b -> groq/openai/gpt-oss-120b" in out


def test_explain_lists_every_candidate_and_why_one_won(monkeypatch, tmp_path) -> None:
    code, out, _ = run(["qwen/qwen3-32b", "--provider", "groq", "--explain"], monkeypatch,
                       tmp_path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "qwen/qwen3-32b sent through groq"
    assert "namespace qwen (a model family, not a provider)" in lines[1]
    assert "1. groq (the gateway's provider), 2. alibaba (the model's owner)" in out
    used = [line for line in lines if line.startswith("    * ")]
    assert len(used) == 1 and "groq/qwen/qwen3-32b" in used[0]
    assert re.search(r"alibaba/qwen3-32b .*not used: groq comes first", out)
    assert re.search(r"openrouter/qwen/qwen3-32b .*not used: the call did not go through "
                     r"openrouter", out)


def test_explain_of_an_unknown_name_says_nothing_matched(monkeypatch, tmp_path) -> None:
    code, out, _ = run(["gpt-4o-v9", "--explain"], monkeypatch, tmp_path)
    assert code == 1
    assert "names tried: gpt-4o-v9\n" in out
    assert "-> unpriced, no price: no catalog entry has this name" in out
    assert "candidates: none" in out


def test_list_prints_catalog_summary(monkeypatch, tmp_path) -> None:
    code, out, _ = run(["--list"], monkeypatch, tmp_path)
    assert code == 0
    assert "source:  embedded snapshot" in out
    assert re.search(r"models:\s+[\d,]+ priced", out)
    assert re.search(r"providers: \d+", out)


def test_bad_pricing_file_exits_2_with_one_line(monkeypatch, tmp_path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{")
    code, _, err = run(["--pricing-file", str(bad), "gpt-4o"], monkeypatch, tmp_path)
    assert code == 2
    assert err.count("\n") == 1 and str(bad) in err


def test_snapshot_script_builds_a_small_loadable_snapshot(tmp_path) -> None:
    source = tmp_path / "api.json"
    source.write_text(json.dumps({
        "openai": {"id": "openai", "models": {
            "gpt-x": {"id": "gpt-x", "name": "GPT X", "limit": {"context": 1},
                      "cost": {"input": 1, "output": 2, "cache_read": 0.5}},
            "nocost": {"id": "nocost"},
            "zero": {"id": "zero", "cost": {"input": 0, "output": 0}}}},
        "google": {"id": "google", "models": {
            "g": {"id": "g", "cost": {"input": 1, "output": 2,
                                      "context_over_200k": {"input": 2, "output": 4}}}}}}))
    out = tmp_path / "snap.json.gz"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_pricing_snapshot.py"),
                    str(source), "--output", str(out)], check=True, capture_output=True)
    payload = json.loads(gzip.decompress(out.read_bytes()))
    assert payload["providers"] == {
        "google": {"models": {"g": {"cost": {"input": 1, "output": 2, "tiers": [
            {"tier": {"type": "context", "size": 200000}, "input": 2, "output": 4}]}}}},
        "openai": {"models": {"gpt-x": {"cost": {"input": 1, "output": 2,
                                                 "cache_read": 0.5}}}}}


def test_shipped_snapshot_is_small() -> None:
    snapshot = REPO / "plano_obs" / "pricing" / "snapshot.json.gz"
    assert snapshot.stat().st_size < 100 * 1024
