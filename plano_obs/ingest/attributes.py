"""Which span attribute feeds which ``LLMCall`` field, of what kind, in which fallback order.

The one table every decode path reads (OTLP/gRPC, OTLP/JSON, the tests' reference reading). A new
attribute is one line here. Values come from the gateway's own keys first, then the OpenTelemetry
GenAI conventions; fallbacks that are not attributes (the span name, ``service.name``, the span's
times and status) are applied by ``decode`` after these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plano_obs.ingest._values import (
    as_bool,
    as_cost,
    as_duration,
    as_status,
    as_str,
    as_tokens,
)

__all__ = ["CALL_ATTRIBUTES", "KIND_OF_KEY", "MODEL_KEYS", "CallAttribute", "Kind"]

#: Converts one attribute's value (None when absent) to its field's type; raises ``Bad``.
Kind = Callable[[Any, str], Any]


@dataclass(frozen=True, slots=True)
class CallAttribute:
    """One ``LLMCall`` field and the attribute keys that feed it, the first present one winning."""

    field: str
    keys: tuple[str, ...]
    kind: Kind


def _a(field: str, kind: Kind, *keys: str) -> CallAttribute:
    return CallAttribute(field, keys, kind)


CALL_ATTRIBUTES: tuple[CallAttribute, ...] = (
    _a("request_id", as_str, "request_id", "http.request_id"),
    _a("model", as_str, "llm.model", "gen_ai.response.model", "gen_ai.request.model"),
    _a("model_requested", as_str, "model.requested", "gen_ai.request.model"),
    _a("provider", as_str, "llm.provider", "gen_ai.provider.name", "gen_ai.system"),
    _a("route", as_str, "plano.route.name"),
    _a("session_id", as_str, "plano.session_id", "gen_ai.conversation.id"),
    _a("is_streaming", as_bool, "llm.is_streaming"),
    _a("status_code", as_status, "http.status_code", "http.response.status_code"),
    _a("duration_ms", as_duration, "llm.duration_ms"),
    _a("ttft_ms", as_duration, "llm.time_to_first_token"),
    _a("prompt_tokens", as_tokens, "llm.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
    _a("completion_tokens", as_tokens,
       "llm.usage.completion_tokens", "gen_ai.usage.output_tokens"),
    _a("total_tokens", as_tokens, "llm.usage.total_tokens"),
    _a("cached_input_tokens", as_tokens,
       "llm.usage.cached_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
    _a("cache_creation_tokens", as_tokens,
       "llm.usage.cache_creation_tokens", "gen_ai.usage.cache_creation.input_tokens"),
    _a("reasoning_tokens", as_tokens, "llm.usage.reasoning_tokens"),
    _a("gateway_input_cost_usd", as_cost, "llm.usage.input_cost_usd"),
    _a("gateway_output_cost_usd", as_cost, "llm.usage.output_cost_usd"),
    _a("gateway_total_cost_usd", as_cost, "llm.usage.total_cost_usd"),
    _a("error_type", as_str, "error.type"),
    _a("error_message", as_str, "error.message", "exception.message"),
    _a("routing_strategy", as_str, "routing.strategy"),
    _a("selection_reason", as_str, "routing.selection_reason"),
)

#: Every key the table reads, with its kind. Each one present is checked, winner or not: a junk
#: value in any of them rejects the span rather than hide behind a fallback.
KIND_OF_KEY: dict[str, Kind] = {}
for _attr in CALL_ATTRIBUTES:
    for _key in _attr.keys:
        if KIND_OF_KEY.setdefault(_key, _attr.kind) is not _attr.kind:
            raise ImportError(f"{_key} is given two kinds in CALL_ATTRIBUTES")

#: A span carrying any of these (with a value) is an LLM call.
MODEL_KEYS: tuple[str, ...] = ("llm.model", "gen_ai.request.model", "gen_ai.response.model")
