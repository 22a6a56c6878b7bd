#!/usr/bin/env python3
# Copied unchanged from the shared benchmark kit's bench/otlp_load.py (the gateway's real span
# shape), so `make bench` runs on a fresh clone; refresh it from there rather than editing it.
"""Deterministic OTLP/gRPC load generator for brightstaff-style LLM spans.

Receiver-agnostic: it only speaks the standard OTLP trace service
(``opentelemetry.proto.collector.trace.v1.TraceService/Export``) to
``--target host:port``, so it can drive any OTLP/gRPC receiver (the anchor
``planoai obs`` collector, an OTel collector, a new implementation, ...).

What it sends
-------------
Each request is one ``ExportTraceServiceRequest`` with one ResourceSpans
(``service.name = "plano(llm)"``) and one ScopeSpans holding ``--batch`` LLM
spans shaped like the ones brightstaff emits (see
crates/brightstaff/src/tracing/constants.rs, handlers/llm/mod.rs,
streaming.rs, signals/otel.rs in katanemo/plano):

* ``llm.model``, ``llm.provider``, ``llm.is_streaming``, ``llm.duration_ms``,
  ``llm.time_to_first_token`` (streaming only), ``llm.usage.*`` token counts
  (absent on error spans), ``http.status_code`` (int), ``model.requested``,
  ``plano.session_id`` (~70%), ``plano.route.name`` (~85%),
  ``routing.strategy`` / ``routing.selection_reason`` (routed calls),
  ``request_id``, plus filler attributes brightstaff also sets
  (``component``, ``http.method``, ``http.path``, ``llm.temperature``,
  ``llm.user_message_preview``, ``llm.response_bytes``).
* 6 models (gpt-4o, gpt-4o-mini, claude-sonnet-4-20250514,
  claude-haiku-4-5-20251001, o4-mini [reasoning tokens], and one model that is
  deliberately absent from the price table, llama-3.3-70b-versatile).
* ~3% 4xx/5xx (``--error-rate``), ~2% flagged (``--flag-rate``): flagged spans
  carry ``signals.quality``, ``signals.quality_score``, ``signals.turn_count``,
  ``signals.efficiency_score``, ``signals.<layer>.<category>.count/.severity``,
  1-3 span events ``signal.<layer>.<category>.<leaf>`` (attributes
  ``signal.type``, ``signal.message_index``, ``signal.confidence``,
  ``signal.snippet``, ``signal.metadata``) and the span name ends in " 🚩".
* optional non-LLM "routing" spans (``--noise``) that a receiver must ignore.

Determinism
-----------
The span sequence depends only on ``--seed``, ``--spans`` and the
``--error-rate/--flag-rate/--noise`` knobs -- NOT on ``--batch`` or
``--concurrency`` (batching only groups the same sequence). Timestamps are
relative to a fixed base (2026-01-01T00:00:00Z, 20 ms apart) unless
``--base-time now`` is given.

All requests are generated and serialized *before* the clock starts, so the
measured phase is pure gRPC sending (use ``--cache-dir`` to reuse the
serialized requests across runs).

Output
------
Progress goes to stderr; the last stdout line is one JSON object::

  {"sent_spans": ..., "elapsed_s": ..., "spans_per_s": ..., "errors": ..., ...}

``--expect-out FILE`` writes the expected aggregates of the generated LLM spans
(per model, per route, errors, flagged, token sums, cost with the embedded
price table) so a receiver's export can be checked for "nothing lost";
``--no-send`` only generates (and caches / writes expectations).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import struct
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

GENERATOR_VERSION = 2
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
FIXED_BASE_TIME_S = 1767225600  # 2026-01-01T00:00:00Z
SPAN_SPACING_NS = 20_000_000  # 20 ms between consecutive span starts
SERVICE_NAME = "plano(llm)"


# --------------------------------------------------------------------------
# Workload model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    name: str
    provider: str
    weight: float
    stream_p: float
    prompt: tuple[int, int]
    completion: tuple[int, int]
    ttft_ms: tuple[int, int]
    tok_per_s: tuple[int, int]
    cache_read_p: float
    cache_write_p: float
    reasoning: bool


MODELS: list[ModelSpec] = [
    ModelSpec("gpt-4o", "openai", 0.28, 0.7, (200, 12000), (20, 1500), (250, 900), (40, 90), 0.35, 0.0, False),
    ModelSpec("gpt-4o-mini", "openai", 0.30, 0.6, (100, 8000), (10, 1200), (150, 500), (60, 140), 0.30, 0.0, False),
    ModelSpec("claude-sonnet-4-20250514", "anthropic", 0.20, 0.8, (500, 30000), (50, 3000), (600, 1800), (40, 80), 0.50, 0.15, False),
    ModelSpec("claude-haiku-4-5-20251001", "anthropic", 0.14, 0.7, (200, 15000), (20, 1500), (300, 900), (80, 160), 0.40, 0.10, False),
    ModelSpec("o4-mini", "openai", 0.05, 0.3, (200, 6000), (100, 2500), (1500, 6000), (60, 120), 0.20, 0.0, True),
    ModelSpec("llama-3.3-70b-versatile", "groq", 0.03, 0.5, (100, 4000), (20, 800), (100, 300), (200, 400), 0.0, 0.0, False),
]

# USD per *million* tokens: (input, output, cached_input). The last model in
# MODELS is intentionally unpriced. The anchor benchmark builds its
# PricingCatalog from this same table, so expected cost totals line up.
PRICE_TABLE_PER_MTOK: dict[str, tuple[float, float, float | None]] = {
    "gpt-4o": (2.5, 10.0, 1.25),
    "gpt-4o-mini": (0.15, 0.6, 0.075),
    "claude-sonnet-4": (3.0, 15.0, 0.3),
    "claude-haiku-4-5": (1.0, 5.0, 0.1),
    "o4-mini": (1.1, 4.4, 0.275),
}
# Which PRICE_TABLE key a model's calls are priced with (date suffix stripped,
# the same rule the anchor's pricing lookup applies).
MODEL_PRICE_KEY = {
    "gpt-4o": "gpt-4o",
    "gpt-4o-mini": "gpt-4o-mini",
    "claude-sonnet-4-20250514": "claude-sonnet-4",
    "claude-haiku-4-5-20251001": "claude-haiku-4-5",
    "o4-mini": "o4-mini",
}

ROUTES: list[tuple[str | None, float]] = [
    ("code_generation", 0.35),
    ("summarization", 0.18),
    ("general_qa", 0.20),
    ("debugging", 0.12),
    (None, 0.15),  # direct model call, no route
]

ERROR_CODES: list[tuple[int, float]] = [
    (400, 0.20), (401, 0.05), (404, 0.05), (429, 0.25),
    (500, 0.15), (502, 0.10), (503, 0.15), (504, 0.05),
]

SIGNAL_TYPES = [
    "interaction.misalignment.correction",
    "interaction.misalignment.rephrase",
    "interaction.misalignment.clarification",
    "interaction.stagnation.dragging",
    "interaction.stagnation.repetition",
    "interaction.disengagement.escalation",
    "interaction.disengagement.quit",
    "interaction.disengagement.negative_stance",
    "execution.failure.invalid_args",
    "execution.failure.tool_not_found",
    "execution.failure.state_error",
    "execution.loops.retry",
    "execution.loops.oscillation",
    "environment.exhaustion.api_error",
    "environment.exhaustion.rate_limit",
    "environment.exhaustion.timeout",
]
SIGNAL_SNIPPETS = [
    "no, that's not what I asked",
    "get me a human",
    "this still doesn't work",
    "you already said that",
    "tool 'search_flights' not found",
    "429 Too Many Requests",
    "let me rephrase: I need the total for last month",
    "",
]

PREVIEWS = [
    "Write a Python function that parses an ISO-8601 timestamp and returns the epoch seconds, handling timezones.",
    "Summarize the following meeting notes into five bullet points for the weekly status email.",
    "Why does my Rust borrow checker complain about a mutable borrow inside this loop?",
    "What is the capital of Australia and how many people live there?",
    "Refactor this React component to use hooks instead of a class component.",
    "Explain the difference between TCP and UDP like I'm five.",
    "Given this stack trace, what is the most likely root cause of the NullPointerException?",
    "Draft a polite reply declining the vendor's proposal but keeping the door open.",
]

ROUTE_REASONS = {
    "preference_aware": "matched route '{route}' (policy: {model})",
    "session_affinity": "session pinned to warm cache on {model}",
}


def _weighted(rng: random.Random, items, weights_cum, total):
    x = rng.random() * total
    for item, cw in zip(items, weights_cum):
        if x < cw:
            return item
    return items[-1]


def _cum(weights):
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out, acc


_MODEL_CUM, _MODEL_TOT = _cum([m.weight for m in MODELS])
_ROUTE_CUM, _ROUTE_TOT = _cum([w for _, w in ROUTES])
_ERR_CUM, _ERR_TOT = _cum([w for _, w in ERROR_CODES])


def _logu(rng: random.Random, lo: int, hi: int) -> int:
    return int(lo * (hi / lo) ** rng.random())


def _kv(key: str, value) -> common_pb2.KeyValue:
    if isinstance(value, bool):
        v = common_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = common_pb2.AnyValue(int_value=value)
    elif isinstance(value, float):
        v = common_pb2.AnyValue(double_value=value)
    else:
        v = common_pb2.AnyValue(string_value=str(value))
    return common_pb2.KeyValue(key=key, value=v)


def call_cost_usd(model: str, prompt: int, completion: int, cached: int) -> float | None:
    """Per-call cost with the same formula the anchor uses (rounded to 1e-6)."""
    key = MODEL_PRICE_KEY.get(model)
    if key is None:
        return None
    inp, out, cached_rate = PRICE_TABLE_PER_MTOK[key]
    inp, out = inp / 1e6, out / 1e6
    fresh = prompt
    cost_cached = 0.0
    if cached_rate is not None and cached:
        fresh = max(0, prompt - cached)
        cost_cached = cached * (cached_rate / 1e6)
    return round(fresh * inp + completion * out + cost_cached, 6)


class Expect:
    """Running expected aggregates over generated LLM spans."""

    TOKEN_FIELDS = (
        "prompt_tokens", "completion_tokens", "total_tokens",
        "cached_input_tokens", "cache_creation_tokens", "reasoning_tokens",
    )

    def __init__(self) -> None:
        self.count = 0
        self.noise_spans = 0
        self.per_model: dict[str, dict] = {}
        self.per_route: dict[str, dict] = {}
        self.no_route = 0
        self.errors_by_code: Counter = Counter()
        self.flagged = 0
        self.signal_events = 0
        self.signal_events_by_type: Counter = Counter()
        self.tokens = {f: 0 for f in self.TOKEN_FIELDS}
        self.sessions: set[str] = set()
        self.with_session = 0
        self.streaming = 0
        self.cost_usd = 0.0
        self.priced_calls = 0
        self.unpriced_calls = 0
        self.duration_ms_sum = 0
        self.first_request_id = None
        self.last_request_id = None
        self.first_start_ns = None
        self.last_start_ns = None

    def add(self, rec: dict) -> None:
        self.count += 1
        m = self.per_model.setdefault(
            rec["model"], {"count": 0, "errors": 0, "cost_usd": 0.0, **{f: 0 for f in self.TOKEN_FIELDS}}
        )
        m["count"] += 1
        for f in self.TOKEN_FIELDS:
            v = rec.get(f) or 0
            m[f] += v
            self.tokens[f] += v
        status = rec["status_code"]
        is_err = status >= 400
        if is_err:
            m["errors"] += 1
            self.errors_by_code[status] += 1
        route = rec.get("route")
        if route:
            r = self.per_route.setdefault(route, {"count": 0, "errors": 0})
            r["count"] += 1
            if is_err:
                r["errors"] += 1
        else:
            self.no_route += 1
        if rec.get("flagged"):
            self.flagged += 1
            for t in rec["signal_types"]:
                self.signal_events += 1
                self.signal_events_by_type[t] += 1
        sid = rec.get("session_id")
        if sid:
            self.with_session += 1
            self.sessions.add(sid)
        if rec["is_streaming"]:
            self.streaming += 1
        cost = rec.get("cost_usd")
        if cost is None:
            self.unpriced_calls += 1
        else:
            self.priced_calls += 1
            self.cost_usd += cost
            m["cost_usd"] += cost
        self.duration_ms_sum += rec["duration_ms"]
        if self.first_request_id is None:
            self.first_request_id = rec["request_id"]
            self.first_start_ns = rec["start_ns"]
        self.last_request_id = rec["request_id"]
        self.last_start_ns = rec["start_ns"]

    def to_json(self, meta: dict) -> dict:
        e4 = sum(n for c, n in self.errors_by_code.items() if 400 <= c < 500)
        e5 = sum(n for c, n in self.errors_by_code.items() if c >= 500)
        for m in self.per_model.values():
            m["cost_usd"] = round(m["cost_usd"], 6)
        return {
            "generator": {"name": "otlp_load.py", "version": GENERATOR_VERSION, **meta},
            "count": self.count,
            "noise_spans": self.noise_spans,
            "per_model": dict(sorted(self.per_model.items())),
            "per_route": dict(sorted(self.per_route.items())),
            "no_route": self.no_route,
            "errors": {
                "total": e4 + e5,
                "4xx": e4,
                "5xx": e5,
                "by_code": {str(k): v for k, v in sorted(self.errors_by_code.items())},
            },
            "flagged": self.flagged,
            "signal_events": self.signal_events,
            "signal_events_by_type": dict(sorted(self.signal_events_by_type.items())),
            "tokens": self.tokens,
            "distinct_sessions": len(self.sessions),
            "calls_with_session": self.with_session,
            "streaming": self.streaming,
            "duration_ms_sum": self.duration_ms_sum,
            "cost": {
                "total_usd": round(self.cost_usd, 6),
                "priced_calls": self.priced_calls,
                "unpriced_calls": self.unpriced_calls,
                "formula": "round((prompt-cached)*in + completion*out + cached*cached_in, 6) per call "
                "when a cached rate is known and cached>0, else prompt*in + completion*out",
                "price_table_usd_per_mtok": {k: list(v) for k, v in PRICE_TABLE_PER_MTOK.items()},
                "model_price_key": MODEL_PRICE_KEY,
            },
            "first_request_id": self.first_request_id,
            "last_request_id": self.last_request_id,
            "first_start_unix_nano": self.first_start_ns,
            "last_start_unix_nano": self.last_start_ns,
        }


class SpanGenerator:
    """Generates the deterministic span sequence; one instance per run."""

    def __init__(self, seed: int, error_rate: float = 0.03, flag_rate: float = 0.02,
                 noise: float = 0.0, base_time_s: int = FIXED_BASE_TIME_S,
                 n_sessions: int = 500) -> None:
        self.rng = random.Random(seed)
        self.error_rate = error_rate
        self.flag_rate = flag_rate
        self.noise = noise
        self.base_ns = base_time_s * 1_000_000_000
        self.index = 0
        srng = random.Random(seed ^ 0x5E55)
        self.sessions = [f"sess-{srng.getrandbits(48):012x}" for _ in range(n_sessions)]
        self.expect = Expect()

    def next_llm(self) -> tuple[trace_pb2.Span, dict]:
        rng = self.rng
        i = self.index
        self.index += 1
        spec: ModelSpec = _weighted(rng, MODELS, _MODEL_CUM, _MODEL_TOT)
        route = _weighted(rng, [r for r, _ in ROUTES], _ROUTE_CUM, _ROUTE_TOT)
        is_err = rng.random() < self.error_rate
        flagged = rng.random() < self.flag_rate
        streaming = rng.random() < spec.stream_p
        session = self.sessions[rng.randrange(len(self.sessions))] if rng.random() < 0.7 else None
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        trace_id = rng.getrandbits(128).to_bytes(16, "big")
        span_id = rng.getrandbits(64).to_bytes(8, "big")
        start_ns = self.base_ns + i * SPAN_SPACING_NS + rng.randrange(SPAN_SPACING_NS)
        path = "/v1/messages" if spec.provider == "anthropic" else "/v1/chat/completions"
        preview = PREVIEWS[rng.randrange(len(PREVIEWS))]
        temperature = rng.choice((0.0, 0.2, 0.7, 1.0))

        rec = {
            "model": spec.name, "route": route, "status_code": 200,
            "is_streaming": streaming, "session_id": session, "request_id": request_id,
            "start_ns": start_ns, "flagged": flagged, "signal_types": [],
        }
        attrs = [
            _kv("component", "llm"),
            _kv("request_id", request_id),
            _kv("http.method", "POST"),
            _kv("http.path", path),
            _kv("llm.temperature", str(temperature)),
            _kv("llm.user_message_preview", preview),
        ]
        if route:
            strategy = "session_affinity" if (session and rng.random() < 0.3) else "preference_aware"
            model_requested = "router:auto"
        else:
            strategy = None
            model_requested = f"{spec.provider}/{spec.name}"
        if session:
            attrs.append(_kv("plano.session_id", session))
        attrs.append(_kv("model.requested", model_requested))
        if route:
            attrs.append(_kv("plano.route.name", route))
            attrs.append(_kv("routing.strategy", strategy))
            attrs.append(_kv("routing.selection_reason",
                             ROUTE_REASONS[strategy].format(route=route, model=spec.name)))
        attrs.append(_kv("llm.model", spec.name))
        attrs.append(_kv("llm.provider", spec.provider))
        attrs.append(_kv("llm.is_streaming", streaming))

        if is_err:
            status = _weighted(rng, [c for c, _ in ERROR_CODES], _ERR_CUM, _ERR_TOT)
            duration = rng.randint(20, 3000)
            attrs.append(_kv("llm.duration_ms", duration))
            attrs.append(_kv("llm.response_bytes", rng.randint(60, 400)))
            # errors carry no usage attributes; with a known price the anchor's
            # formula yields 0.0 (priced), an unpriced model stays None
            rec.update(status_code=status, duration_ms=duration,
                       cost_usd=call_cost_usd(spec.name, 0, 0, 0))
        else:
            status = 200
            prompt = _logu(rng, *spec.prompt)
            completion = _logu(rng, *spec.completion)
            tps = rng.uniform(*spec.tok_per_s)
            gen_ms = int(completion / tps * 1000)
            ttft = rng.randint(*spec.ttft_ms)
            duration = ttft + gen_ms
            if streaming:
                attrs.append(_kv("llm.time_to_first_token", ttft))
            attrs.append(_kv("llm.duration_ms", duration))
            attrs.append(_kv("llm.response_bytes", completion * 4 + rng.randint(200, 900)))
            attrs.append(_kv("llm.usage.prompt_tokens", prompt))
            attrs.append(_kv("llm.usage.completion_tokens", completion))
            attrs.append(_kv("llm.usage.total_tokens", prompt + completion))
            cached = 0
            if rng.random() < spec.cache_read_p:
                cached = int(prompt * rng.uniform(0.3, 0.95))
                attrs.append(_kv("llm.usage.cached_input_tokens", cached))
            elif spec.provider == "openai":
                attrs.append(_kv("llm.usage.cached_input_tokens", 0))
            cache_write = 0
            if spec.cache_write_p and rng.random() < spec.cache_write_p:
                cache_write = int(prompt * rng.uniform(0.05, 0.5))
                attrs.append(_kv("llm.usage.cache_creation_tokens", cache_write))
            reasoning = 0
            if spec.reasoning:
                reasoning = int(completion * rng.uniform(0.3, 0.8))
                attrs.append(_kv("llm.usage.reasoning_tokens", reasoning))
            rec.update(
                duration_ms=duration, prompt_tokens=prompt, completion_tokens=completion,
                total_tokens=prompt + completion, cached_input_tokens=cached,
                cache_creation_tokens=cache_write, reasoning_tokens=reasoning,
                cost_usd=call_cost_usd(spec.name, prompt, completion, cached),
            )
        attrs.append(_kv("http.status_code", status))

        name = f"POST {path} {spec.name}"
        events = []
        if flagged:
            name += " 🚩"
            k = rng.randint(1, 3)
            types = [SIGNAL_TYPES[rng.randrange(len(SIGNAL_TYPES))] for _ in range(k)]
            rec["signal_types"] = types
            attrs.append(_kv("signals.quality", rng.choice(("poor", "severe"))))
            attrs.append(_kv("signals.quality_score", round(rng.uniform(0.0, 40.0), 2)))
            attrs.append(_kv("signals.turn_count", rng.randint(3, 40)))
            attrs.append(_kv("signals.efficiency_score", round(rng.uniform(0.1, 0.6), 3)))
            per_cat = Counter(t.rsplit(".", 1)[0] for t in types)
            for cat, n in sorted(per_cat.items()):
                attrs.append(_kv(f"signals.{cat}.count", n))
                attrs.append(_kv(f"signals.{cat}.severity", rng.randint(1, 3)))
            for t in types:
                ev_attrs = [
                    _kv("signal.type", t),
                    _kv("signal.message_index", rng.randint(0, 30)),
                    _kv("signal.confidence", round(rng.uniform(0.5, 1.0), 3)),
                ]
                snippet = SIGNAL_SNIPPETS[rng.randrange(len(SIGNAL_SNIPPETS))]
                if snippet:
                    ev_attrs.append(_kv("signal.snippet", snippet))
                ev_attrs.append(_kv("signal.metadata", json.dumps({"matched": t.rsplit(".", 1)[1], "turn": rng.randint(1, 30)})))
                events.append(trace_pb2.Span.Event(
                    time_unix_nano=start_ns + duration * 1_000_000,
                    name=f"signal.{t}", attributes=ev_attrs))
        if streaming and not is_err:
            events.append(trace_pb2.Span.Event(
                time_unix_nano=start_ns + ttft * 1_000_000,
                name="llm.time_to_first_token",
                attributes=[_kv("llm.time_to_first_token", ttft)]))

        span = trace_pb2.Span(
            trace_id=trace_id,
            span_id=span_id,
            name=name,
            kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start_ns,
            end_time_unix_nano=start_ns + duration * 1_000_000,
            attributes=attrs,
            events=events,
            status=trace_pb2.Status(
                code=trace_pb2.Status.STATUS_CODE_ERROR if is_err else trace_pb2.Status.STATUS_CODE_UNSET),
        )
        self.expect.add(rec)
        return span, rec

    def next_noise(self, parent: trace_pb2.Span) -> trace_pb2.Span:
        """A non-LLM brightstaff 'routing' span (no llm.model) in the same trace."""
        rng = self.rng
        self.expect.noise_spans += 1
        return trace_pb2.Span(
            trace_id=parent.trace_id,
            span_id=rng.getrandbits(64).to_bytes(8, "big"),
            parent_span_id=parent.span_id,
            name="routing",
            kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=parent.start_time_unix_nano,
            end_time_unix_nano=parent.start_time_unix_nano + rng.randint(2, 80) * 1_000_000,
            attributes=[
                _kv("component", "routing"),
                _kv("http.method", "POST"),
                _kv("http.target", "/v1/chat/completions"),
                _kv("model.requested", "router:auto"),
                _kv("routing.determination_ms", rng.randint(2, 80)),
            ],
        )


def _resource() -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=[
        _kv("service.name", SERVICE_NAME),
        _kv("telemetry.sdk.language", "rust"),
        _kv("telemetry.sdk.name", "opentelemetry"),
    ])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field_no: int, payload: bytes) -> bytes:
    """Protobuf length-delimited field (wire type 2)."""
    return _varint((field_no << 3) | 2) + _varint(len(payload)) + payload


def generate_units(gen: SpanGenerator, n_spans: int) -> list[bytes]:
    """One unit per LLM span: its encoded ``ScopeSpans.spans`` field entries
    (the LLM span, plus a non-LLM routing span when --noise fires)."""
    units: list[bytes] = []
    for _ in range(n_spans):
        span, _rec = gen.next_llm()
        u = _ld(2, span.SerializeToString())
        if gen.noise and gen.rng.random() < gen.noise:
            u += _ld(2, gen.next_noise(span).SerializeToString())
        units.append(u)
    return units


def build_requests(units: list[bytes], batch: int) -> list[bytes]:
    """Serialized ExportTraceServiceRequests with `batch` units each.

    Assembled by concatenating encoded fields (ExportTraceServiceRequest.1 ->
    ResourceSpans{1: Resource, 2: ScopeSpans{1: scope, 2: spans...}}), so the
    same span sequence can be regrouped into any batch size cheaply.
    """
    res = _ld(1, _resource().SerializeToString())
    scope = _ld(1, common_pb2.InstrumentationScope(name="brightstaff").SerializeToString())
    out: list[bytes] = []
    for i in range(0, len(units), batch):
        scope_spans = scope + b"".join(units[i:i + batch])
        out.append(_ld(1, res + _ld(2, scope_spans)))
    return out


# --------------------------------------------------------------------------
# Cache of serialized spans
# --------------------------------------------------------------------------


def _cache_key(ns) -> str:
    # batch size is deliberately not part of the key: units are regrouped.
    raw = json.dumps([GENERATOR_VERSION, ns.seed, ns.spans, ns.error_rate,
                      ns.flag_rate, ns.noise, ns.base_time], sort_keys=True)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _cache_write(path: str, units: list[bytes], expect: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        hdr = json.dumps({"n": len(units), "expect": expect}).encode()
        f.write(struct.pack(">I", len(hdr)))
        f.write(hdr)
        for u in units:
            f.write(struct.pack(">I", len(u)))
            f.write(u)
    os.replace(tmp, path)


def _cache_read(path: str) -> tuple[list[bytes], dict]:
    with open(path, "rb") as f:
        data = f.read()
    (hl,) = struct.unpack_from(">I", data, 0)
    hdr = json.loads(data[4:4 + hl])
    pos = 4 + hl
    units = []
    for _ in range(hdr["n"]):
        (ln,) = struct.unpack_from(">I", data, pos)
        pos += 4
        units.append(data[pos:pos + ln])
        pos += ln
    return units, hdr["expect"]


def prepare_units(seed: int, spans: int, error_rate: float = 0.03, flag_rate: float = 0.02,
                  noise: float = 0.0, base_time: str = "fixed",
                  cache_dir: str | None = None) -> tuple[list[bytes], dict, bool]:
    """(units, expected aggregates, from_cache) for a span sequence."""
    ns = argparse.Namespace(seed=seed, spans=spans, error_rate=error_rate,
                            flag_rate=flag_rate, noise=noise, base_time=base_time)
    path = None
    if cache_dir and base_time != "now":
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(cache_dir, f"otlp_{_cache_key(ns)}.bin")
        if os.path.exists(path):
            units, expect = _cache_read(path)
            return units, expect, True
    base = int(time.time()) if base_time == "now" else (
        FIXED_BASE_TIME_S if base_time == "fixed" else int(base_time))
    gen = SpanGenerator(seed, error_rate, flag_rate, noise, base)
    units = generate_units(gen, spans)
    meta = {"seed": seed, "spans": spans, "error_rate": error_rate, "flag_rate": flag_rate,
            "noise": noise, "base_time_s": base, "service_name": SERVICE_NAME}
    expect = gen.expect.to_json(meta)
    if path:
        _cache_write(path, units, expect)
    return units, expect, False


def prepare(args) -> tuple[list[bytes], dict, float, bool]:
    """Return (requests, expected aggregates, generation seconds, from_cache)."""
    t0 = time.perf_counter()
    units, expect, cached = prepare_units(args.seed, args.spans, args.error_rate, args.flag_rate,
                                          args.noise, args.base_time, args.cache_dir)
    reqs = build_requests(units, args.batch)
    return reqs, expect, time.perf_counter() - t0, cached


# --------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------


def send(target: str, reqs: list[bytes], spans_per_req: list[int], concurrency: int,
         rate: float, timeout: float, progress: bool = True) -> dict:
    import grpc  # imported lazily so --no-send works without grpcio

    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ])
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    except grpc.FutureTimeoutError:
        return {"fatal": f"could not connect to {target} within 10s"}
    export = channel.unary_unary(
        EXPORT_METHOD,
        request_serializer=None,  # requests are pre-serialized bytes
        response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
    )

    lock = threading.Lock()
    sem = threading.Semaphore(concurrency)
    st = {"ok_spans": 0, "ok_rpcs": 0, "failed_rpcs": 0, "failed_spans": 0,
          "rejected_spans": 0, "rejecting_rpcs": 0, "first_error": None, "codes": Counter(),
          "last_done": 0.0}
    lat: list[float] = []

    def on_done(fut, n, t_sent):
        now = time.perf_counter()
        with lock:
            st["last_done"] = now
            lat.append(now - t_sent)
            try:
                resp = fut.result()
                st["ok_rpcs"] += 1
                rej = resp.partial_success.rejected_spans if resp.HasField("partial_success") else 0
                st["rejected_spans"] += rej
                if rej:
                    st["rejecting_rpcs"] += 1
                st["ok_spans"] += n - rej
            except Exception as exc:  # grpc.RpcError or cancellation
                st["failed_rpcs"] += 1
                st["failed_spans"] += n
                code = exc.code().name if hasattr(exc, "code") else type(exc).__name__
                st["codes"][code] += 1
                if st["first_error"] is None:
                    detail = exc.details() if hasattr(exc, "details") else str(exc)
                    st["first_error"] = f"{code}: {detail}"
        sem.release()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t_start_unix = time.time()
    t0 = time.perf_counter()
    sent_spans = 0
    next_report = t0 + 2.0
    for req, n in zip(reqs, spans_per_req):
        if rate > 0:
            due = t0 + sent_spans / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sem.acquire()
        t_sent = time.perf_counter()
        fut = export.future(req, timeout=timeout)
        fut.add_done_callback(lambda f, n=n, t=t_sent: on_done(f, n, t))
        sent_spans += n
        if progress and t_sent >= next_report:
            next_report = t_sent + 2.0
            print(f"[otlp_load] sent {sent_spans} spans, {sent_spans / (t_sent - t0):.0f}/s",
                  file=sys.stderr, flush=True)
    for _ in range(concurrency):
        sem.acquire()
    t1 = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    channel.close()

    elapsed = t1 - t0
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p / 100 * (len(lat) - 1)))] * 1000, 3) if lat else None

    return {
        "target": target,
        "sent_spans": st["ok_spans"],
        "attempted_spans": sent_spans,
        "rpcs": len(reqs),
        "elapsed_s": round(elapsed, 4),
        "spans_per_s": round(st["ok_spans"] / elapsed, 1) if elapsed > 0 else None,
        "errors": st["failed_rpcs"] + st["rejecting_rpcs"],
        "failed_rpcs": st["failed_rpcs"],
        "failed_spans": st["failed_spans"],
        "rejected_spans": st["rejected_spans"],
        "error_codes": dict(st["codes"]),
        "first_error": st["first_error"],
        "rpc_latency_ms": {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": pct(100)},
        "client_cpu_s": round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 3),
        "t_start_unix": t_start_unix,
        "t_end_unix": t_start_unix + elapsed,
    }


def spans_per_request(total: int, batch: int) -> list[int]:
    full, rem = divmod(total, batch)
    return [batch] * full + ([rem] if rem else [])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", default="127.0.0.1:4317", help="host:port of the OTLP/gRPC receiver")
    p.add_argument("--spans", type=int, default=10000, help="number of LLM spans to send")
    p.add_argument("--batch", type=int, default=100, help="LLM spans per ExportTraceServiceRequest")
    p.add_argument("--concurrency", type=int, default=4, help="max RPCs in flight")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0.0, help="target spans/s (0 = as fast as possible)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-RPC deadline in seconds")
    p.add_argument("--error-rate", type=float, default=0.03)
    p.add_argument("--flag-rate", type=float, default=0.02)
    p.add_argument("--noise", type=float, default=0.0,
                   help="probability of an extra non-LLM 'routing' span after each LLM span")
    p.add_argument("--base-time", default="fixed",
                   help="'fixed' (2026-01-01T00:00:00Z, deterministic), 'now', or epoch seconds")
    p.add_argument("--cache-dir", default=None, help="cache the serialized span sequence here (keyed by seed/spans/rates/base-time; any --batch reuses it)")
    p.add_argument("--expect-out", default=None, help="write expected aggregates JSON to this file")
    p.add_argument("--no-send", action="store_true", help="only generate (cache / --expect-out)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.batch < 1 or args.spans < 1 or args.concurrency < 1:
        p.error("--spans, --batch and --concurrency must be >= 1")

    reqs, expect, gen_s, cached = prepare(args)
    payload = sum(len(r) for r in reqs)
    if not args.quiet:
        print(f"[otlp_load] {'loaded' if cached else 'generated'} {len(reqs)} requests "
              f"({args.spans} LLM spans, {payload / 1e6:.1f} MB) in {gen_s:.2f}s",
              file=sys.stderr, flush=True)
    if args.expect_out:
        with open(args.expect_out, "w") as f:
            json.dump(expect, f, indent=1, sort_keys=False)
            f.write("\n")
    result = {"seed": args.seed, "spans": args.spans, "batch": args.batch,
              "concurrency": args.concurrency, "rate": args.rate,
              "payload_bytes": payload, "gen_s": round(gen_s, 3), "from_cache": cached}
    if args.no_send:
        result.update({"sent_spans": 0, "elapsed_s": 0.0, "spans_per_s": None, "errors": 0})
        print(json.dumps(result), flush=True)
        return 0
    res = send(args.target, reqs, spans_per_request(args.spans, args.batch),
               args.concurrency, args.rate, args.timeout, progress=not args.quiet)
    result.update(res)
    print(json.dumps(result), flush=True)
    return 0 if not res.get("fatal") and res["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
