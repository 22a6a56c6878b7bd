"""The versioned what-if result: pydantic models and their JSON Schema.

Unknown is ``None`` (``null`` in JSON), never 0. Field names carry their units. The document
holds no wall-clock time, so the same inputs give byte-identical JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from plano_obs.analytics.document import PricingSummary

__all__ = [
    "LATENCY_OUTCOMES",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "CallReplay",
    "Estimate",
    "LatencyTotals",
    "QualityEvidence",
    "RouteQuality",
    "RuleBreakdown",
    "Totals",
    "WhatIfResult",
    "WhatIfWindow",
    "json_schema",
]

SCHEMA_VERSION = 1

#: What happened to one call in the replay.
Outcome = Literal["unmatched", "kept", "on target", "moved", "unpriceable", "no usage"]
LatencyOutcome = Literal["unchanged", "projected", "no target history", "failed call",
                         "unknown"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
LATENCY_OUTCOMES: tuple[str, ...] = get_args(LatencyOutcome)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Estimate(_Model):
    """A point estimate with its 95% bootstrap confidence interval."""

    value: float | None = Field(description="the estimate over the calls in the window")
    ci_low: float | None = Field(description="2.5th percentile of the bootstrap replicates")
    ci_high: float | None = Field(description="97.5th percentile of the bootstrap replicates")


class WhatIfWindow(_Model):
    """The time range replayed (calls by their end time)."""

    name: str = Field(description="e.g. 7d, 24h, all, or 'custom' for --since/--until")
    start: datetime | None = Field(description="first instant covered; null for 'all'")
    end: datetime


class LatencyTotals(_Model):
    """Latency before and after, in ms (p50/p95: the smallest latency at or above that share)."""

    baseline_p50_ms: float | None
    baseline_p95_ms: float | None
    projected_p50_ms: Estimate
    projected_p95_ms: Estimate
    known: int = Field(description="calls that reported a latency")
    projected: int = Field(description="moved calls given the target's latency distribution")
    unprojected: int = Field(
        description="moved calls whose target has no latency history in the window: kept")
    failed_kept: int = Field(description="moved calls that failed: their own latency kept")


class Totals(_Model):
    """Headline numbers of the replay."""

    calls: int = Field(description="calls in the window")
    matched: int = Field(description="calls some rule matched (kept ones included)")
    moved: int = Field(description="calls projected on another model")
    kept: int = Field(description="calls a 'keep' rule matched, or already on their target")
    unpriceable: int = Field(
        description="matched calls whose target has no price: counted unchanged")
    no_usage: int = Field(
        description="matched calls without token counts: cannot be projected, counted unchanged")
    failed_moved: int = Field(
        description="moved calls that failed: projected as failed at the target's price")
    baseline_unpriced: int = Field(
        description="calls with no known cost of their own: left out of every cost total")
    priced_calls: int = Field(description="calls in the cost totals")
    baseline_cost_usd: float | None = Field(description="what the priced calls cost")
    projected_cost_usd: float | None = Field(description="what they would have cost")
    savings_usd: Estimate = Field(description="baseline minus projected; negative = costs more")
    savings_pct: Estimate = Field(description="savings as % of the baseline cost")
    latency: LatencyTotals


class RuleBreakdown(_Model):
    """What one rule did."""

    rule: str
    priority: int
    match: str = Field(description="its conditions in words")
    action: str = Field(description="'to MODEL [via PROVIDER]' or 'keep'")
    target_model: str | None
    target_provider: str | None
    target_priced: bool | None = Field(description="the target has a price; null for 'keep'")
    target_price_entry: str | None = Field(description="the catalog entry that prices it")
    target_unpriced_because: str | None = Field(
        description="why the catalog has no price for the target (unpriced or ambiguous)")
    matched: int
    moved: int
    unpriceable: int
    no_usage: int
    failed_moved: int
    baseline_cost_usd: float | None = Field(description="over its priced matched calls")
    projected_cost_usd: float | None
    savings_usd: float | None
    savings_pct: float | None


class QualityEvidence(_Model):
    """A model's quality signals on one route in the window."""

    calls: int
    flagged: int
    flagged_rate: float | None = Field(description="flagged / calls, 0..1")
    analysed: int = Field(description="calls that carried a signal analysis")
    quality_score_p10: float | None
    quality_score_p50: float | None
    quality_score_p90: float | None
    by_quality: dict[str, int] = Field(description="quality -> calls, worst first")


class RouteQuality(_Model):
    """Evidence, not a verdict: the source and the target model side by side on one route."""

    route: str | None = Field(description="null: direct calls (no route)")
    source_model: str | None
    target_model: str
    moved: int = Field(description="calls of this route and source moved to the target")
    source: QualityEvidence
    target: QualityEvidence | None = Field(description="null: no history of the target here")
    note: str = Field(description="'no history' or a comparison in words")


class CallReplay(_Model):
    """One call: which rule matched and what it cost, before and after."""

    trace_id: str
    span_id: str
    request_id: str
    at: datetime = Field(description="end of the call")
    route: str | None
    model_requested: str | None
    model: str | None
    provider: str | None
    session_id: str | None
    failed: bool
    rule: str | None = Field(description="the first rule that matched")
    outcome: Outcome
    target_model: str | None
    target_provider: str | None
    target_price_entry: str | None
    target_api_shape: Literal["openai", "anthropic"] | None = Field(
        description="usage shape of the target's API: how its tokens are counted and billed")
    input_tokens: int | None = Field(description="uncached input tokens")
    cached_input_tokens: int | None = Field(description="input tokens read from a cache")
    cache_write_tokens: int | None = Field(description="input tokens written to a cache")
    output_tokens: int | None
    baseline_cost_usd: float | None
    baseline_source: str | None = Field(description="'gateway' or 'catalog'; null: unknown")
    projected_cost_usd: float | None
    latency_ms: float | None
    projected_latency_ms: float | None = Field(
        description="moved calls: the target's median latency in the window")
    latency_outcome: LatencyOutcome


class WhatIfResult(_Model):
    """``plano obs whatif`` output, schema version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="plano obs whatif")

    schema_version: Literal[1] = 1
    window: WhatIfWindow
    source: str = Field(description="where the calls came from")
    pricing: PricingSummary
    seed: int
    iterations: int = Field(description="bootstrap replicates behind each interval")
    confidence: float = Field(0.95, description="coverage of the intervals")
    interval_method: str = Field(description="how the intervals were computed, in words")
    rules: list[RuleBreakdown] = Field(description="one per rule, sorted by rule name")
    totals: Totals
    quality: list[RouteQuality] = Field(
        description="per route, source and target model: flagged rate and quality scores")
    caveats: list[str] = Field(description="what to keep in mind, in words")
    calls: list[CallReplay] | None = Field(
        None, description="per call, when asked for (--calls); null otherwise")


def json_schema() -> str:
    """The JSON Schema of the what-if result, as indented JSON."""
    return json.dumps(WhatIfResult.model_json_schema(), indent=2)
