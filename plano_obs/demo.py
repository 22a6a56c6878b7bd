"""Realistic, deterministic Plano gateway traffic, sent as real OTLP/gRPC.

Feeds ``plano obs --demo``, the ingest benchmark, tests and the screenshots. The same seed and
start time always give the same spans.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from plano_obs.model import FLAG_MARKER, OTLP_TRACE_EXPORT_METHOD

__all__ = ["DemoTraffic", "DemoSender"]



@dataclass(frozen=True, slots=True)
class _Model:
    provider: str
    path: str
    requested: str  # what the client sends
    resolved: str  # what the upstream reports
    weight: float
    latency_ms: tuple[int, int]
    tok_per_s: int


_MODELS = (
    _Model("openai", "/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 30,
           (300, 1800), 90),
    _Model("openai", "/v1/chat/completions", "openai/gpt-4o", "gpt-4o-2024-08-06", 12,
           (500, 3500), 60),
    _Model("openai", "/v1/responses", "gpt-4.1", "gpt-4.1-2025-04-14", 6, (600, 4000), 55),
    _Model("anthropic", "/v1/messages", "claude-sonnet-4-20250514", "claude-sonnet-4-20250514",
           16, (900, 6000), 50),
    _Model("anthropic", "/v1/messages", "anthropic/claude-haiku-4-5",
           "claude-haiku-4-5-20251001", 14, (300, 2000), 110),
    _Model("google", "/v1/chat/completions", "gemini-2.5-flash", "gemini-2.5-flash", 8,
           (300, 2500), 120),
    _Model("google", "/v1/chat/completions", "gemini-2.5-pro", "gemini-2.5-pro", 4,
           (1500, 9000), 45),
    _Model("digitalocean", "/v1/chat/completions", "do/openai-gpt-oss-120b",
           "openai-gpt-oss-120b", 6, (400, 2500), 140),
    _Model("digitalocean", "/v1/chat/completions", "digitalocean/anthropic-claude-4.5-haiku",
           "anthropic-claude-4.5-haiku", 3, (400, 2500), 100),
    _Model("openai", "/v1/chat/completions", "acme-llm-9", "acme-llm-9", 1, (200, 900), 80),
)

# route name, share weight, requested alias, candidate model indexes
_ROUTES = (
    ("code generation", 42, "router:software-engineering", (3, 1, 2)),
    ("summarization", 18, "smart-llm", (0, 5, 4)),
    ("general chat", 12, "router:general", (0, 4, 7)),
    ("data extraction", 6, "router:extraction", (5, 8)),
)
_DIRECT_WEIGHT = 22

_ERRORS = (
    (429, "rate_limit_exceeded", "Rate limit reached for requests per minute. Retry after 2s."),
    (400, "invalid_request_error", "messages.3.content: tool_use ids must be unique"),
    (401, "authentication_error", "invalid x-api-key"),
    (500, "api_error", "upstream returned an internal error"),
    (502, "bad_gateway", "upstream connection reset before headers"),
    (503, "overloaded_error", "Overloaded"),
    (504, "timeout", "upstream request timed out after 60000 ms"),
)

_SNIPPETS = {
    "interaction.misalignment.correction": "no, that's not what I asked for",
    "interaction.misalignment.rephrase": "let me put it another way",
    "interaction.stagnation.repetition": "you already suggested that",
    "interaction.stagnation.dragging": "we are going in circles",
    "interaction.disengagement.escalation": "can I talk to a human?",
    "interaction.disengagement.quit": "forget it, I'll do it myself",
    "interaction.disengagement.negative_stance": "this is useless",
    "execution.failure.invalid_args": "tool call search_docs: missing 'query'",
    "execution.failure.tool_not_found": "unknown tool 'run_sql_v2'",
    "execution.loops.retry": "retrying get_weather (attempt 4)",
    "execution.loops.oscillation": "toggled between plan A and plan B 3 times",
    "environment.exhaustion.rate_limit": "429 from upstream",
    "environment.exhaustion.context_overflow": "context length 131072 exceeded",
}
_FLAG_TYPES = tuple(_SNIPPETS)


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


class DemoTraffic:
    """A deterministic source of gateway traces (inbound, routing, LLM, sometimes agent spans)."""

    def __init__(self, seed: int = 7, *, error_rate: float = 0.05, flag_rate: float = 0.05,
                 id_salt: int = 0):
        self.rng = random.Random(seed)
        #: XORed into every trace id: the same seed then sends the same traffic under other
        #: ids, which a receiver (or a ledger) that saw an earlier run does not drop as retries.
        self.id_salt = id_salt
        self.error_rate = error_rate
        self.flag_rate = flag_rate
        self._sessions: list[tuple[str, int]] = []  # (session id, turns left)
        self._session_serial = 0
        self._request_serial = 0

    # -- one trace -------------------------------------------------------------------------

    def _ids(self) -> tuple[bytes, bytes]:
        rng = self.rng
        trace_id = rng.randbytes(16)
        if self.id_salt:
            trace_id = (int.from_bytes(trace_id, "big") ^ self.id_salt).to_bytes(16, "big")
        return trace_id, rng.randbytes(8)

    def _session(self) -> str:
        rng = self.rng
        if not self._sessions or (len(self._sessions) < 12 and rng.random() < 0.3):
            self._session_serial += 1
            # With a salt, a run's sessions are its own too (a prefix of it in their names).
            run = f"{self.id_salt & 0xfff:03x}-" if self.id_salt else ""
            self._sessions.append((f"sess-{run}{self._session_serial:04d}",
                                   rng.randint(2, 9)))
        i = rng.randrange(len(self._sessions))
        sid, left = self._sessions[i]
        if left <= 1:
            self._sessions.pop(i)
        else:
            self._sessions[i] = (sid, left - 1)
        return sid

    def trace(self, end_ns: int) -> list[tuple[str, trace_pb2.Span]]:
        """One request's spans, ending at ``end_ns``, as (service.name, span) pairs."""
        rng = self.rng
        trace_id, root_id = self._ids()
        self._request_serial += 1
        request_id = f"req-{self._request_serial:07d}-{rng.randrange(16**6):06x}"
        r = rng.random() * (sum(w for _, w, _, _ in _ROUTES) + _DIRECT_WEIGHT)
        route = None
        for name, weight, alias, candidates in _ROUTES:
            if r < weight:
                route = (name, alias, candidates)
                break
            r -= weight
        if route is not None:
            model = _MODELS[rng.choice(route[2])]
            requested = route[1]
        else:
            model = rng.choices(_MODELS, weights=[m.weight for m in _MODELS])[0]
            requested = model.requested
        streaming = rng.random() < 0.6
        failed = rng.random() < self.error_rate
        status, error_type, error_message = rng.choice(_ERRORS) if failed else (200, None, None)
        prompt = int(rng.lognormvariate(7.2, 1.0)) + 20
        completion = 0 if failed else int(rng.lognormvariate(5.3, 0.9)) + 5
        cached = 0
        if model.provider in ("openai", "anthropic") and rng.random() < 0.45:
            cached = int(prompt * rng.uniform(0.3, 0.9)) if model.provider == "openai" else (
                int(rng.lognormvariate(8.0, 0.8)))
        cache_write = int(rng.lognormvariate(6.5, 0.8)) if (
            model.provider == "anthropic" and rng.random() < 0.2) else 0
        reasoning = int(completion * rng.uniform(0.2, 0.6)) if model.resolved.startswith(
            ("o3", "gpt-4.1")) else 0
        # Time to the first token, then generation at roughly the model's speed.
        lo, hi = model.latency_ms
        first_token_ms = int(rng.uniform(lo, hi) * rng.uniform(0.1, 0.3)) + 40
        speed = model.tok_per_s * rng.uniform(0.6, 1.4)
        latency_ms = (first_token_ms + int(completion / speed * 1000) if not failed
                      else int(rng.uniform(20, lo)))
        ttft_ms = first_token_ms if streaming and not failed else None
        session = self._session()
        start_ns = end_ns - latency_ms * 1_000_000 - 6_000_000
        flagged = (not failed) and rng.random() < self.flag_rate

        spans: list[tuple[str, trace_pb2.Span]] = []
        inbound = trace_pb2.Span(
            trace_id=trace_id, span_id=root_id, name=f"POST {model.path}",
            kind=trace_pb2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=start_ns, end_time_unix_nano=end_ns,
            attributes=[_kv("http.method", "POST"), _kv("http.target", model.path),
                        _kv("http.status_code", status), _kv("request_id", request_id),
                        _kv("plano.session_id", session)],
        )
        if status >= 500:
            inbound.status.code = trace_pb2.Status.STATUS_CODE_ERROR
        spans.append(("plano(inbound)", inbound))
        _, routing_id = self._ids()
        routing_attrs = [_kv("model.requested", requested), _kv("request_id", request_id)]
        if route is not None:
            routing_attrs += [_kv("plano.route.name", route[0]),
                              _kv("routing.strategy", "preference"),
                              _kv("routing.selection_reason", f"matched preference '{route[0]}'")]
        spans.append(("plano(routing)", trace_pb2.Span(
            trace_id=trace_id, span_id=routing_id, parent_span_id=root_id,
            name="routing", start_time_unix_nano=start_ns + 1_000_000,
            end_time_unix_nano=start_ns + 1_000_000 + rng.randint(1, 40) * 100_000,
            attributes=routing_attrs)))
        llm_start = start_ns + 5_000_000
        llm_end = llm_start + latency_ms * 1_000_000
        _, llm_id = self._ids()
        name = f"POST {model.path} {requested}"
        if requested != model.resolved:
            name += f" -> {model.resolved}"
        attrs = [
            _kv("llm.model", model.resolved), _kv("llm.provider", model.provider),
            _kv("model.requested", requested), _kv("llm.is_streaming", streaming),
            _kv("llm.duration_ms", latency_ms), _kv("request_id", request_id),
            _kv("plano.session_id", session),
            # The gateway sends status codes as int or string: demo both.
            _kv("http.status_code", str(status) if rng.random() < 0.3 else status),
        ]
        if route is not None:
            attrs += [_kv("plano.route.name", route[0]), _kv("routing.strategy", "preference")]
        if ttft_ms is not None:
            attrs.append(_kv("llm.time_to_first_token", ttft_ms))
        if not failed:
            attrs += [_kv("llm.usage.prompt_tokens", prompt),
                      _kv("llm.usage.completion_tokens", completion),
                      _kv("llm.usage.total_tokens", prompt + completion)]
            if cached:
                attrs.append(_kv("llm.usage.cached_input_tokens", cached))
            if cache_write:
                attrs.append(_kv("llm.usage.cache_creation_tokens", cache_write))
            if reasoning:
                attrs.append(_kv("llm.usage.reasoning_tokens", reasoning))
        else:
            attrs += [_kv("error", True), _kv("error.type", error_type),
                      _kv("error.message", error_message)]
        events: list[trace_pb2.Span.Event] = []
        if ttft_ms is not None:
            events.append(trace_pb2.Span.Event(
                name="llm.time_to_first_token", time_unix_nano=llm_start + ttft_ms * 1_000_000))
        turns = rng.randint(2, 14)
        if flagged:
            name += f" {FLAG_MARKER}"
            attrs += self._flag_attrs(turns, llm_start, llm_end, events)
        elif not failed and rng.random() < 0.35:
            quality = rng.choice(("excellent", "good", "good", "neutral"))
            attrs += [_kv("signals.quality", quality),
                      _kv("signals.quality_score", float(rng.randint(60, 98))),
                      _kv("signals.turn_count", turns),
                      _kv("signals.efficiency_score", round(rng.uniform(0.6, 1.0), 2))]
            if quality != "neutral" and rng.random() < 0.5:
                attrs += [_kv("signals.interaction.satisfaction.count", 1),
                          _kv("signals.interaction.satisfaction.severity", 1)]
        llm = trace_pb2.Span(
            trace_id=trace_id, span_id=llm_id, parent_span_id=routing_id, name=name,
            kind=trace_pb2.Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=llm_start, end_time_unix_nano=llm_end,
            attributes=attrs, events=events,
        )
        if failed:
            llm.status.code = trace_pb2.Status.STATUS_CODE_ERROR
            llm.status.message = error_message or ""
        spans.append(("plano(llm)", llm))
        if route is not None and rng.random() < 0.3:
            _, agent_id = self._ids()
            spans.append(("plano(agent)", trace_pb2.Span(
                trace_id=trace_id, span_id=agent_id, parent_span_id=root_id,
                name="agent code-assistant", start_time_unix_nano=start_ns + 2_000_000,
                end_time_unix_nano=llm_end + 500_000,
                attributes=[_kv("agent.name", "code-assistant")])))
        return spans

    def _flag_attrs(self, turns: int, start_ns: int, end_ns: int,
                    events: list[trace_pb2.Span.Event]) -> list[KeyValue]:
        rng = self.rng
        quality = rng.choice(("poor", "poor", "severe", "neutral"))
        # One event per detected instance: 1-3 instances, each of its own leaf type.
        fired = rng.sample(_FLAG_TYPES, rng.randint(1, 3))
        by_category: dict[str, int] = {}
        for i, leaf in enumerate(fired):
            category = leaf.rsplit(".", 1)[0]
            by_category[category] = by_category.get(category, 0) + 1
            meta = {"turn": rng.randint(1, turns), "matched_rule": leaf.rsplit(".", 1)[1]}
            events.append(trace_pb2.Span.Event(
                name=f"signal.{leaf}",
                time_unix_nano=start_ns + (end_ns - start_ns) * (i + 1) // 4,
                attributes=[_kv("signal.type", leaf),
                            _kv("signal.message_index", rng.randint(0, max(0, turns * 2 - 1))),
                            _kv("signal.confidence", round(rng.uniform(0.55, 0.99), 2)),
                            _kv("signal.snippet", _SNIPPETS[leaf]),
                            _kv("signal.metadata", json.dumps(meta))]))
        score = {"severe": rng.randint(5, 25), "poor": rng.randint(25, 45),
                 "neutral": rng.randint(45, 60)}[quality]
        attrs = [_kv("signals.quality", quality.capitalize() if rng.random() < 0.3 else quality),
                 _kv("signals.quality_score", float(score)), _kv("signals.turn_count", turns),
                 _kv("signals.efficiency_score", round(rng.uniform(0.1, 0.6), 2))]
        for category, count in by_category.items():
            severity = 1 if count <= 2 else 2 if count <= 4 else 3
            attrs += [_kv(f"signals.{category}.count", count),
                      _kv(f"signals.{category}.severity", severity)]
        return attrs

    # -- requests --------------------------------------------------------------------------

    def request(self, traces: list[list[tuple[str, trace_pb2.Span]]]) -> ExportTraceServiceRequest:
        """Group spans by service into one export request, as the gateway's exporter does."""
        by_service: dict[str, list[trace_pb2.Span]] = {}
        for spans in traces:
            for service, span in spans:
                by_service.setdefault(service, []).append(span)
        req = ExportTraceServiceRequest()
        for service, service_spans in by_service.items():
            rs = req.resource_spans.add()
            rs.resource.attributes.append(_kv("service.name", service))
            ss = rs.scope_spans.add()
            ss.scope.name = "brightstaff"
            ss.spans.extend(service_spans)
        return req

    def history(self, *, end_ns: int, minutes: int, per_minute: int) -> Iterator[
            ExportTraceServiceRequest]:
        """Requests covering the last ``minutes`` before ``end_ns``, one per simulated second."""
        seconds = minutes * 60
        for s in range(seconds):
            second_end = end_ns - (seconds - s - 1) * 1_000_000_000
            # A gentle wave over the period so the trend charts have a shape.
            phase = (s % 900) / 900
            rate = per_minute / 60 * (0.6 + 0.8 * abs(phase - 0.5) * 2)
            n = int(rate) + (1 if self.rng.random() < rate - int(rate) else 0)
            if n:
                yield self.request([
                    self.trace(second_end - self.rng.randrange(1_000_000_000)) for _ in range(n)])

    def spans_request(self, n_spans: int, end_ns: int) -> ExportTraceServiceRequest:
        """A request of exactly ``n_spans`` spans (whole traces, the last one cut to fit)."""
        traces: list[list[tuple[str, trace_pb2.Span]]] = []
        left = n_spans
        while left > 0:
            t = self.trace(end_ns)
            traces.append(t[-left:] if len(t) > left else t)
            left -= len(traces[-1])
        return self.request(traces)


def _llm_spans(req: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans
               if any(kv.value.string_value == "plano(llm)" for kv in rs.resource.attributes))


class DemoSender:
    """Sends demo traffic over real OTLP/gRPC to a receiver, in a background thread."""

    def __init__(self, target: str, *, seed: int = 7, per_minute: int = 120,
                 backfill_minutes: int = 20, clock=time.time):  # type: ignore[no-untyped-def]
        self.target = target
        # Each run its own trace ids: a restarted demo's calls are new calls, not retries.
        self.traffic = DemoTraffic(seed, id_salt=random.SystemRandom().getrandbits(128) | 1)
        self.per_minute = per_minute
        self.backfill_minutes = backfill_minutes
        self.clock = clock
        self.sent_traces = 0
        self.errors = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="plano-obs-demo", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        import grpc

        with grpc.insecure_channel(self.target) as channel:
            export = channel.unary_unary(OTLP_TRACE_EXPORT_METHOD, request_serializer=None,
                                         response_deserializer=None)
            now_ns = int(self.clock() * 1e9)
            # The backfill goes out in batches of a simulated minute, so the console is live
            # within a second or two.
            batch, seconds = ExportTraceServiceRequest(), 0
            for req in self.traffic.history(end_ns=now_ns, minutes=self.backfill_minutes,
                                            per_minute=self.per_minute):
                if self._stop.is_set():
                    return
                batch.resource_spans.extend(req.resource_spans)
                seconds += 1
                if seconds == 60:
                    self._send(export, batch, _llm_spans(batch))
                    batch, seconds = ExportTraceServiceRequest(), 0
            if batch.resource_spans:
                self._send(export, batch, _llm_spans(batch))
            rng = random.Random(self.traffic.rng.random())
            while not self._stop.wait(rng.expovariate(self.per_minute / 60)):
                now_ns = int(self.clock() * 1e9)
                burst = 1 if rng.random() > 0.1 else rng.randint(2, 6)
                self._send(export, self.traffic.request(
                    [self.traffic.trace(now_ns) for _ in range(burst)]), burst)

    def _send(self, export, req: ExportTraceServiceRequest, traces: int) -> None:  # type: ignore[no-untyped-def]
        import grpc

        try:
            export(req.SerializeToString(), timeout=5)
            self.sent_traces += traces
        except grpc.RpcError as e:
            self.errors += 1
            self.last_error = f"{e.code().name}: {e.details()}"
