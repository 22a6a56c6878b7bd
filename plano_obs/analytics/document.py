"""The analytics document: versioned pydantic models the console renders and export writes.

Unknown is ``None`` (``null`` in JSON), never 0. Field names carry their units.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "CategoryCount",
    "CostAccuracy",
    "CostAccuracyRow",
    "ErrorEntry",
    "ErrorsRollup",
    "ExportDocument",
    "FlaggedCall",
    "FlaggedCategory",
    "ModelRollup",
    "Percentiles",
    "PricingSummary",
    "RouteRollup",
    "SessionRollup",
    "SignalsRollup",
    "Summary",
    "TrendPoint",
    "WindowInfo",
    "json_schema",
]

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Percentiles(_Model):
    """Percentiles of a duration in ms (from a sketch with at most 1% relative error)."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = Field(None, description="exact maximum")
    count: int = Field(0, description="calls that reported this duration")


class WindowInfo(_Model):
    """The time range the rollups cover."""

    name: str = Field(
        description="all, 1m, 5m, 15m, 1h, 24h, 7d, 30d, or range (--since/--until)")
    start: datetime | None = Field(description="first instant covered; null for 'all' when empty")
    end: datetime


class PricingSummary(_Model):
    """Where the prices came from."""

    source: str | None = None
    fetched_at: datetime | None = None
    models: int | None = Field(None, description="models in the pricing catalog")


class Summary(_Model):
    """Headline numbers of the window."""

    requests: int
    errors: int
    errors_4xx: int
    errors_5xx: int
    errors_other: int = Field(description="failed calls without an HTTP status of 400+")
    error_rate: float | None = Field(description="errors / requests, 0..1; null without requests")
    rejected_spans: int | None = Field(description="spans that could not be decoded (since start)")
    evicted_calls: int | None = Field(description="calls dropped from the held list (since start)")
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_creation_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: float | None = Field(description="sum over priced calls; null when none was priced")
    priced_requests: int
    unpriced_requests: int = Field(description="calls without a cost, for either reason "
                                                "below or because their model has no price")
    no_usage_requests: int = Field(
        0, description="calls without a cost because they reported no token usage (most "
                       "failed calls); counted in unpriced_requests too")
    ambiguous_requests: int = Field(
        0, description="calls whose model name the catalog lists, but not for the call's "
                       "provider or the model's owner, or at several prices: no catalog price "
                       "(`plano obs pricing NAME --explain`)")
    latency_ms: Percentiles
    ttft_ms: Percentiles
    tokens_per_second: float | None = Field(
        description="completion tokens over generation time (duration minus TTFT)")
    sessions: int = Field(description="distinct sessions")
    current_session: str | None = Field(description="session of the most recent call")
    flagged: int
    first_call_at: datetime | None = None
    last_call_at: datetime | None = None


class ModelRollup(_Model):
    """One resolved model (with its provider)."""

    model: str | None
    provider: str | None
    requests: int
    share_pct: float | None
    errors: int
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_creation_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: float | None
    priced_requests: int
    unpriced_requests: int
    ambiguous_requests: int = Field(0, description="calls whose name matched no single entry")
    pricing_entry: str | None = Field(
        None, description="the catalog entry (provider/model id) that priced most of these "
                          "calls; null when none was priced from the catalog")
    latency_ms: Percentiles
    ttft_ms: Percentiles
    tokens_per_second: float | None
    flagged: int


class RouteRollup(_Model):
    """One routing preference; ``route`` null (``direct``) is traffic that named a model."""

    route: str | None
    direct: bool = Field(description="calls without a route: the client named the model")
    requests: int
    share_pct: float | None = Field(description="% of routed calls; null for direct traffic")
    share_of_all_pct: float | None = Field(description="% of every call")
    errors: int
    cost_usd: float | None
    priced_requests: int
    unpriced_requests: int
    latency_ms: Percentiles
    flagged: int


class SessionRollup(_Model):
    """One session (``x-model-affinity``), newest first."""

    session_id: str
    turns: int
    models: list[str] = Field(description="resolved models used, most used first")
    cost_usd: float | None
    priced_requests: int
    unpriced_requests: int
    errors: int
    flagged: int
    first_seen: datetime | None = Field(description="the session's first call since start")
    last_seen: datetime | None = Field(description="the session's latest call")


class ErrorEntry(_Model):
    """One failed call."""

    status_code: int | None
    reason: str | None = Field(description="HTTP reason phrase, e.g. 'Too Many Requests'")
    model: str | None
    provider: str | None
    route: str | None
    request_id: str
    trace_id: str
    span_id: str
    session_id: str | None
    at: datetime
    error_type: str | None
    error_message: str | None


class ErrorsRollup(_Model):
    """Failures: the most recent ones and where they come from."""

    total: int
    errors_4xx: int
    errors_5xx: int
    errors_other: int
    error_rate: float | None
    by_status: dict[str, int] = Field(description="HTTP status (or 'none') -> errors")
    by_model: dict[str, int] = Field(description="resolved model (or 'unknown') -> errors")
    most_recent: ErrorEntry | None
    recent: list[ErrorEntry] = Field(description="newest first, bounded")


class CategoryCount(_Model):
    """How often one signal category fired."""

    calls: int = Field(description="calls where the category fired")
    instances: int = Field(description="detected instances, summed")


class FlaggedCategory(_Model):
    """A signal category that fired on one call."""

    name: str = Field(description="layer.category, e.g. interaction.disengagement")
    count: int
    severity: int | None = Field(description="0 none, 1 = 1-2, 2 = 3-4, 3 = 5+")


class FlaggedCall(_Model):
    """One flagged call, in triage order (worst quality, then severity, then cost)."""

    trace_id: str
    span_id: str
    request_id: str
    model: str | None
    provider: str | None
    route: str | None
    session_id: str | None
    quality: str | None
    quality_score: float | None
    turn_count: int | None
    max_severity: int | None
    categories: list[FlaggedCategory]
    leaf_types: list[str] = Field(description="layer.category.leaf of each detected instance")
    cost_usd: float | None
    status_code: int | None
    at: datetime = Field(description="end of the call")


class SignalsRollup(_Model):
    """The gateway's agentic signals."""

    flagged: int
    analysed: int = Field(description="calls that carried a signal analysis")
    by_quality: dict[str, int] = Field(description="quality -> calls, worst first")
    by_category: dict[str, CategoryCount] = Field(description="layer.category -> counts")
    by_layer: dict[str, int] = Field(description="layer -> detected instances")
    by_type: dict[str, int] = Field(description="layer.category.leaf -> detected instances")
    flagged_calls: list[FlaggedCall] = Field(description="ranked for triage, bounded")


class CostAccuracyRow(_Model):
    """Measured spend against list price for one provider, or one model of one provider."""

    provider: str | None
    model: str | None = Field(description="null on a provider's row")
    pricing_entry: str | None = Field(
        description="the catalog entry (provider/model id) whose list price is compared; null "
                    "on a provider's row or when the model has no catalog price")
    basis: Literal["reported", "derived"] = Field(
        description="reported: the gateway's own cost (an independent figure); derived: "
                    "computed from the same list price, 1.0 by construction, never flagged")
    calls: int = Field(description="calls with a cost of either kind")
    reported_calls: int = Field(description="calls that carried the gateway's cost")
    compared_calls: int = Field(
        description="reported calls that also have a catalog price: the ratio's sample")
    cost_usd: float | None = Field(
        description="reported (or, when derived, catalog) cost of the calls")
    list_cost_usd: float | None = Field(
        description="the catalog cost of the compared calls at list price (cache reads, "
                    "writes and context tiers included)")
    effective_input_usd_per_m: float | None = Field(
        description="reported input cost per million input tokens, cache discounts included; "
                    "null when derived or when the gateway reports no input cost")
    effective_output_usd_per_m: float | None = Field(
        description="reported output cost per million output tokens; null when derived")
    list_input_usd_per_m: float | None = Field(description="the entry's list input rate")
    list_output_usd_per_m: float | None = Field(description="the entry's list output rate")
    ratio: float | None = Field(
        description="measured / list cost of the same calls; null without a comparison")
    input_ratio: float | None = Field(description="the same, input cost only")
    output_ratio: float | None = Field(description="the same, output cost only")
    drift_pct: float | None = Field(
        description="(ratio - 1) x 100 of whichever of ratio, input_ratio, output_ratio is "
                    "furthest from 1; null unless reported with enough compared calls")
    drift: bool = Field(
        description="reported, at least min_calls compared, and |drift_pct| > threshold_pct")


class CostAccuracy(_Model):
    """The gateway's reported cost beside the catalog's list price, per provider and model."""

    threshold_pct: float = Field(description="drift is flagged beyond this many percent")
    min_calls: int = Field(description="compared calls a row needs before drift is flagged")
    max_drift_pct: float | None = Field(
        description="the largest |drift_pct| of any row; null when no row is reported with "
                    "enough compared calls (the --fail-on metric cost_drift_pct)")
    providers: list[CostAccuracyRow] = Field(description="most calls first")
    models: list[CostAccuracyRow] = Field(description="most calls first")


class ExportDocument(_Model):
    """``plano obs export`` output, schema version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="plano obs export")

    schema_version: Literal[1] = 1
    generated_at: datetime
    window: WindowInfo
    source: str = Field(description="where the calls came from: listen address or files")
    pricing: PricingSummary
    summary: Summary
    models: list[ModelRollup] = Field(description="most requests first")
    routes: list[RouteRollup] = Field(description="most requests first; direct traffic included")
    sessions: list[SessionRollup] = Field(description="most recently seen first, bounded")
    sessions_truncated: bool = Field(
        False, description="more sessions than listed (see summary.sessions)")
    errors: ErrorsRollup
    signals: SignalsRollup
    cost_accuracy: CostAccuracy | None = Field(
        None, description="measured spend against list price per provider and model")


class TrendPoint(_Model):
    """One minute of traffic for the console's trend charts."""

    start: datetime
    requests: int
    errors: int
    p95_latency_ms: float | None
    cost_usd: float | None


def json_schema() -> str:
    """The JSON Schema of the export document, as indented JSON."""
    return json.dumps(ExportDocument.model_json_schema(), indent=2)
