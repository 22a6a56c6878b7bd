"""The data model shared by ingest, pricing, analytics, export and the TUI.

Every optional field is ``None`` when the span did not say: unknown is never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "API_PATHS",
    "FLAG_MARKER",
    "OTLP_TRACE_EXPORT_METHOD",
    "WINDOWS",
    "WINDOW_SECONDS",
    "CallCost",
    "CostLine",
    "DecodeResult",
    "LLMCall",
    "Rejection",
    "SignalEvent",
    "Signals",
    "SpanRecord",
    "SIGNAL_CATEGORIES",
    "QUALITY_ORDER",
    "prompt_is_exclusive",
]

API_PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/responses")

_INCLUSIVE_PATHS = frozenset({"/v1/chat/completions", "/v1/responses"})
_EXCLUSIVE_PATH = "/v1/messages"
_EXCLUSIVE_PROVIDERS = frozenset({"anthropic"})

#: The gRPC method an OTLP trace exporter calls.
OTLP_TRACE_EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

#: What the gateway appends to the name of a span whose call it flagged with signals.
FLAG_MARKER = "\N{TRIANGULAR FLAG ON POST}"

#: Time windows by name, in the order the console cycles through them; "all" means every call
#: held (since start, or all the ledger holds). Up to an hour they are made of 10-second
#: buckets, longer ones of whole hours.
WINDOW_SECONDS: dict[str, int | None] = {"all": None, "1m": 60, "5m": 300, "15m": 900,
                                         "1h": 3600, "24h": 86_400, "7d": 7 * 86_400,
                                         "30d": 30 * 86_400}
WINDOWS = tuple(WINDOW_SECONDS)

#: layer.category -> its leaf types, as the gateway names them.
SIGNAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "interaction.misalignment": ("correction", "rephrase", "clarification"),
    "interaction.stagnation": ("dragging", "repetition"),
    "interaction.disengagement": ("escalation", "quit", "negative_stance"),
    "interaction.satisfaction": ("gratitude", "confirmation", "success"),
    "execution.failure": (
        "invalid_args",
        "bad_query",
        "tool_not_found",
        "auth_misuse",
        "state_error",
    ),
    "execution.loops": ("retry", "parameter_drift", "oscillation"),
    "environment.exhaustion": (
        "api_error",
        "timeout",
        "rate_limit",
        "network",
        "malformed_response",
        "context_overflow",
    ),
}

#: Worst first: the triage order of signal quality.
QUALITY_ORDER: tuple[str, ...] = ("severe", "poor", "neutral", "good", "excellent")


@dataclass(slots=True)
class SignalEvent:
    """One detected signal instance (a ``signal.*`` span event)."""

    name: str
    type: str | None
    time_ns: int | None = None
    message_index: int | None = None
    confidence: float | None = None
    snippet: str | None = None
    metadata: str | None = None  # the raw JSON string, verbatim (bounded)

    @property
    def leaf_type(self) -> str:
        """The dotted type this instance counts as: ``type``, else the name without
        ``signal.``."""
        return self.type or self.name.removeprefix("signal.")


@dataclass(slots=True)
class Signals:
    """The gateway's agentic-signal analysis of one LLM call."""

    quality: str | None = None  # lower-cased: excellent|good|neutral|poor|severe
    quality_score: float | None = None
    turn_count: int | None = None
    efficiency_score: float | None = None
    #: "layer.category" -> (count, severity); only categories with count > 0.
    categories: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    events: list[SignalEvent] = field(default_factory=list)


@dataclass(slots=True)
class CostLine:
    """One line of a cost breakdown: tokens of one kind times their rate."""

    kind: str  # input | cached_input | cache_write | output | ...
    tokens: int
    usd_per_million: float
    cost_usd: float


@dataclass(slots=True)
class CallCost:
    """The price of one call, with where it came from."""

    cost_usd: float | None  # the displayed cost; None = unknown
    source: str | None  # "gateway" | "catalog" | None
    catalog_cost_usd: float | None = None
    gateway_cost_usd: float | None = None
    drift: bool = False  # gateway and catalog differ by more than 5%
    catalog_entry: str | None = None  # e.g. "anthropic/claude-sonnet-4-20250514"
    pricing_source: str | None = None  # e.g. "embedded snapshot", "models.dev"
    #: The rates that priced the call (anything with ``lines(call)``); None when unpriced.
    rates: Any = field(default=None, repr=False, compare=False)
    #: The catalog lists the name, but not for this call's provider or the model's owner, or at
    #: several prices: no catalog price rather than a guess (``plano obs pricing NAME --explain``).
    ambiguous: bool = False
    catalog_output_cost_usd: float | None = None  # the output (and reasoning) part of catalog_cost

    def lines(self, call: LLMCall) -> list[CostLine]:
        """The breakdown of ``call``'s cost, line by line (computed on demand)."""
        return [] if self.rates is None else self.rates.lines(call)


@dataclass(slots=True)
class SpanRecord:
    """Any span of a trace, kept for the drilldown tree."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str | None
    start_ns: int
    end_ns: int
    status: str  # "unset" | "ok" | "error"
    status_message: str | None = None
    #: Read-only here: a context span shares one empty mapping until its ``raw`` is decoded.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: Sequence[tuple[int, str, Mapping[str, Any]]] = field(default_factory=list)
    is_llm: bool = False  # the span is an LLM call (its LLMCall has the details)
    #: A context span's serialized form; the store decodes attributes from it on demand.
    raw: bytes | None = field(default=None, repr=False)

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6


@dataclass(slots=True)
class LLMCall:
    """One LLM call: the span that carries ``llm.model`` (or GenAI model attributes)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str | None
    start_ns: int
    end_ns: int
    request_id: str  # falls back to the span id
    model: str | None = None  # the model that ran (resolved)
    model_requested: str | None = None
    provider: str | None = None  # llm.provider, else gen_ai provider, else service.name
    api_path: str | None = None  # one of API_PATHS, parsed from the span name
    route: str | None = None
    session_id: str | None = None
    is_streaming: bool | None = None
    status_code: int | None = None
    duration_ms: float | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    gateway_input_cost_usd: float | None = None
    gateway_output_cost_usd: float | None = None
    gateway_total_cost_usd: float | None = None
    span_status: str = "unset"  # "unset" | "ok" | "error"
    span_status_message: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    routing_strategy: str | None = None
    selection_reason: str | None = None
    flagged: bool = False  # the gateway appended 🚩 to the span name
    signals: Signals | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # every attribute, verbatim
    cost: CallCost | None = None  # set by pricing at ingest

    @property
    def key(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)

    @property
    def is_error(self) -> bool:
        """An HTTP status of 400 or more, or a span status of error."""
        if self.status_code is not None:
            return self.status_code >= 400
        return self.span_status == "error"

    @property
    def cost_usd(self) -> float | None:
        return self.cost.cost_usd if self.cost is not None else None


@dataclass(slots=True)
class Rejection:
    """A span that could not be decoded, and why."""

    trace_id: str
    span_id: str
    reason: str


@dataclass(slots=True)
class DecodeResult:
    """What one ``ExportTraceServiceRequest`` decoded into."""

    calls: list[LLMCall] = field(default_factory=list)  # the LLM-call spans
    spans: list[SpanRecord] = field(default_factory=list)  # every other decoded span (context)
    rejected: list[Rejection] = field(default_factory=list)


def prompt_is_exclusive(call: LLMCall) -> bool:
    """Whether ``prompt_tokens`` leaves out cache reads and writes (Anthropic usage shape).

    The API path decides; without one, an Anthropic provider or more cached tokens than
    prompt tokens (impossible in the OpenAI shape) mean exclusive.
    """
    path = call.api_path
    if path == _EXCLUSIVE_PATH:
        return True
    if path in _INCLUSIVE_PATHS:
        return False
    if call.provider is not None and call.provider.lower() in _EXCLUSIVE_PROVIDERS:
        return True
    cached = call.cached_input_tokens or 0
    return cached > 0 and cached > (call.prompt_tokens or 0)
