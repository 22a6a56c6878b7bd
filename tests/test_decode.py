"""Decoding: every contract field, GenAI conventions, and every kind of bad value."""

from __future__ import annotations

import math

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from plano_obs.ingest.decode import (
    MAX_STRING_CHARS,
    RequestDecodeError,
    decode_request,
    parse_span_name,
)
from plano_obs.ingest.otlp_json import decode_otlp_json
from plano_obs.model import FLAG_MARKER

from otlp_fixtures import T0, event, llm_attrs, request, span


def one_call(attrs, proto=None, **kw):
    result = decode_request(request(proto if proto is not None else span(attrs, **kw)))
    assert not result.rejected, result.rejected
    assert len(result.calls) == 1
    return result.calls[0]


def rejected_reason(attrs, **kw) -> str:
    result = decode_request(request(span(attrs, **kw)))
    assert result.calls == []
    assert len(result.rejected) == 1
    return result.rejected[0].reason


def test_every_llm_field_of_the_contract_is_decoded():
    attrs = llm_attrs(
        **{
            "llm.usage.cached_input_tokens": 400,
            "llm.usage.cache_creation_tokens": 30,
            "llm.usage.reasoning_tokens": 50,
            "llm.usage.input_cost_usd": 0.001,
            "llm.usage.output_cost_usd": 0.002,
            "llm.usage.total_cost_usd": 0.003,
            "plano.session_id": "sess-9",
            "plano.route.name": "code generation",
            "routing.strategy": "preference",
            "routing.selection_reason": "matched",
            "error.type": "none",
        }
    )
    call = one_call(
        attrs, name="POST /v1/chat/completions smart-llm -> gpt-4o-mini-2024-07-18",
        parent=b"\x01" * 8,
    )
    assert call.model == "gpt-4o-mini-2024-07-18"
    assert call.model_requested == "gpt-4o-mini"
    assert call.provider == "openai"
    assert call.api_path == "/v1/chat/completions"
    assert call.route == "code generation"
    assert call.session_id == "sess-9"
    assert call.is_streaming is True
    assert call.status_code == 200
    assert call.duration_ms == 1200
    assert call.ttft_ms == 250
    assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (1000, 200, 1200)
    assert (call.cached_input_tokens, call.cache_creation_tokens, call.reasoning_tokens) == (
        400, 30, 50)
    assert call.gateway_total_cost_usd == pytest.approx(0.003)
    assert call.gateway_input_cost_usd == pytest.approx(0.001)
    assert call.request_id == "req-1"
    assert call.parent_span_id == "01" * 8
    assert call.routing_strategy == "preference"
    assert call.selection_reason == "matched"
    assert call.start_ns == T0 and call.end_ns == T0 + 1_000_000_000
    assert call.service == "plano(llm)"
    assert call.flagged is False
    assert call.signals is None
    assert call.attributes["routing.strategy"] == "preference"


def test_absent_fields_stay_unknown_not_zero():
    call = one_call({"llm.model": "gpt-4o"})
    for name in ("prompt_tokens", "completion_tokens", "cached_input_tokens", "ttft_ms",
                 "status_code", "is_streaming", "route", "session_id", "gateway_total_cost_usd"):
        assert getattr(call, name) is None, name
    # duration falls back to the span's own timing
    assert call.duration_ms == 1000


def test_model_requested_and_resolved_come_from_the_span_name_when_attributes_lack_them():
    name = "POST /v1/messages router:software-engineering -> claude-sonnet-4-20250514"
    call = one_call({"llm.model": "claude-sonnet-4-20250514"}, name=name)
    assert call.model_requested == "router:software-engineering"
    assert call.api_path == "/v1/messages"


def test_provider_falls_back_to_service_name():
    call = one_call(llm_attrs(**{"llm.provider": None}))
    assert call.provider == "plano(llm)"


def test_request_id_falls_back_to_http_request_id_then_span_id():
    call = one_call(llm_attrs(request_id=None, **{"http.request_id": "h-7"}))
    assert call.request_id == "h-7"
    call = one_call(llm_attrs(request_id=None), span_id=b"\x00" * 7 + b"\x2a")
    assert call.request_id == "000000000000002a"


@pytest.mark.parametrize("raw,expected", [("200", 200), (" 429 ", 429), (503, 503), (404.0, 404)])
def test_status_code_as_int_or_string(raw, expected):
    assert one_call(llm_attrs(**{"http.status_code": raw})).status_code == expected


def test_integers_sent_as_strings_are_accepted():
    call = one_call(llm_attrs(**{"llm.usage.prompt_tokens": "1234", "llm.duration_ms": "99.5",
                                 "llm.is_streaming": "false"}))
    assert call.prompt_tokens == 1234
    assert call.duration_ms == 99.5
    assert call.is_streaming is False


def test_large_integers_and_long_strings_survive_the_fast_path():
    call = one_call(llm_attrs(**{"llm.usage.prompt_tokens": 3_000_000_000,
                                 "plano.route.name": "r" * 300}))
    assert call.prompt_tokens == 3_000_000_000
    assert call.route == "r" * 300


def test_genai_semantic_conventions_make_an_llm_call():
    call = one_call({
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.conversation.id": "conv-1",
        "error.type": "timeout",
    }, name="chat gpt-4o")
    assert call.model == "gpt-4o-2024-08-06"
    assert call.model_requested == "gpt-4o"
    assert call.provider == "openai"
    assert (call.prompt_tokens, call.completion_tokens) == (10, 5)
    assert (call.cached_input_tokens, call.cache_creation_tokens) == (4, 2)
    assert call.session_id == "conv-1"
    assert call.error_type == "timeout"
    assert call.api_path is None


def test_older_genai_system_attribute_names_the_provider():
    call = one_call({"gen_ai.request.model": "claude-3-5-haiku", "gen_ai.system": "anthropic"})
    assert call.provider == "anthropic"
    assert call.model == "claude-3-5-haiku"


def test_spans_without_a_model_are_context_not_calls():
    result = decode_request(request(span({"http.method": "POST"}, name="POST /v1/messages"),
                                    service="plano(inbound)"))
    assert result.calls == []
    assert len(result.spans) == 1 and result.spans[0].service == "plano(inbound)"
    assert result.rejected == []


def test_a_string_that_merely_contains_the_model_key_is_not_a_call():
    result = decode_request(request(span({"note": "\n\tllm.model is an attribute"})))
    assert result.calls == [] and len(result.spans) == 1


def test_error_details_and_span_status():
    call = one_call(
        llm_attrs(**{"http.status_code": 503, "error": True, "error.type": "overloaded_error",
                     "error.message": "Overloaded"}),
        status_code=trace_pb2.Status.STATUS_CODE_ERROR, status_message="upstream 503")
    assert call.is_error
    assert call.span_status == "error"
    assert call.span_status_message == "upstream 503"
    assert (call.error_type, call.error_message) == ("overloaded_error", "Overloaded")


def test_flag_in_span_name_marks_the_call():
    call = one_call(llm_attrs(), name=f"POST /v1/chat/completions gpt-4o-mini {FLAG_MARKER}")
    assert call.flagged
    assert call.model_requested == "gpt-4o-mini"


def test_signal_attributes_and_events():
    attrs = llm_attrs(**{
        "llm.time_to_first_token": None,
        "signals.quality": "Poor",
        "signals.quality_score": 31.5,
        "signals.turn_count": 12,
        "signals.efficiency_score": 0.4,
        "signals.interaction.disengagement.count": 3,
        "signals.interaction.disengagement.severity": 2,
        "signals.execution.loops.count": 1,
        "signals.execution.loops.severity": 1,
    })
    events = [
        event("signal.interaction.disengagement.quit", {
            "signal.type": "interaction.disengagement.quit", "signal.message_index": 7,
            "signal.confidence": 0.9, "signal.snippet": "forget it",
            "signal.metadata": '{"turn": 4}'}),
        event("signal.execution.loops.retry", {"signal.message_index": "3"}),
        event("llm.time_to_first_token", time_ns=T0 + 300_000_000),
    ]
    call = one_call(attrs, events=events)
    s = call.signals
    assert s is not None
    assert (s.quality, s.quality_score, s.turn_count, s.efficiency_score) == (
        "poor", 31.5, 12, 0.4)
    assert s.categories == {"interaction.disengagement": (3, 2), "execution.loops": (1, 1)}
    assert [e.type for e in s.events] == ["interaction.disengagement.quit",
                                          "execution.loops.retry"]
    quit_event = s.events[0]
    assert (quit_event.message_index, quit_event.confidence, quit_event.snippet,
            quit_event.metadata) == (7, 0.9, "forget it", '{"turn": 4}')
    assert s.events[1].message_index == 3
    assert s.events[1].confidence is None
    # no TTFT attribute: the llm.time_to_first_token event gives it
    assert call.ttft_ms == 300


def test_legacy_signal_keys_map_onto_layered_categories():
    call = one_call(llm_attrs(**{
        "signals.quality": "Severe",
        "signals.follow_up.repair.count": 2,
        "signals.follow_up.repair.ratio": "0.5",
        "signals.frustration.count": 5,
        "signals.frustration.severity": 3,
        "signals.repetition.count": 3,
        "signals.positive_feedback.count": 1,
    }))
    assert call.signals.categories == {
        "interaction.misalignment": (2, 1),
        "interaction.disengagement": (5, 3),
        "interaction.stagnation": (3, 2),
        "interaction.satisfaction": (1, 1),
    }


def test_layered_keys_win_over_legacy_ones():
    call = one_call(llm_attrs(**{
        "signals.interaction.stagnation.count": 1,
        "signals.interaction.stagnation.severity": 1,
        "signals.repetition.count": 9,
        "signals.escalation.requested": True,
    }))
    assert call.signals.categories["interaction.stagnation"] == (1, 1)
    assert call.signals.categories["interaction.disengagement"] == (1, 1)


@pytest.mark.parametrize("key,value,fragment", [
    ("llm.usage.prompt_tokens", -5, "negative token count"),
    ("llm.usage.completion_tokens", "lots", "not a number"),
    ("llm.usage.total_tokens", 1.5, "not a whole number"),
    ("llm.duration_ms", math.nan, "not a finite number"),
    ("llm.duration_ms", math.inf, "not a finite number"),
    ("llm.time_to_first_token", -1, "out of range"),
    ("http.status_code", "OK", "not a number"),
    ("http.status_code", 999, "not an HTTP status"),
    ("llm.usage.total_cost_usd", -0.5, "negative cost"),
    ("llm.is_streaming", "perhaps", "expected a boolean"),
    ("signals.quality", "great", "unknown value"),
    ("signals.quality_score", 250, "out of 0-100"),
    ("signals.interaction.stagnation.count", -2, "negative count"),
    ("llm.usage.prompt_tokens", [1, 2], "expected an integer"),
])
def test_junk_values_reject_the_span_with_a_reason(key, value, fragment):
    reason = rejected_reason(llm_attrs(**{key: value}))
    assert key in reason and fragment in reason


def test_bad_ids_and_times_reject_the_span():
    assert "trace id" in rejected_reason(llm_attrs(), trace_id=b"\x00" * 16)
    assert "span id" in rejected_reason(llm_attrs(), span_id=b"\x01\x02")
    assert "end time before start" in rejected_reason(llm_attrs(), duration_ms=-5)


def test_a_rejected_span_does_not_take_its_neighbours_down():
    good = span(llm_attrs())
    bad = span(llm_attrs(**{"llm.usage.prompt_tokens": -1}))
    context = span({"k": "v"}, name="routing")
    result = decode_request(request(good, bad, context))
    assert len(result.calls) == 1
    assert len(result.spans) == 1  # the context span; the call is in calls
    assert len(result.rejected) == 1
    assert result.rejected[0].span_id == bad.span_id.hex()


def test_strings_are_kept_verbatim_but_bounded():
    markup = "[bold red]boom[/] \x1b[31m\x07"
    call = one_call(llm_attrs(**{"error.message": markup, "plano.route.name": "x" * 100_000}))
    assert call.error_message == markup
    assert len(call.route) == MAX_STRING_CHARS
    assert call.route.endswith("…")


def test_not_an_otlp_request_is_an_error_for_the_whole_request():
    with pytest.raises(RequestDecodeError):
        decode_request(b"\xff\xff\xff garbage")


@pytest.mark.parametrize("name,expected", [
    ("POST /v1/chat/completions gpt-4o", ("/v1/chat/completions", "gpt-4o", "gpt-4o", False)),
    ("POST /v1/messages smart-llm -> claude-sonnet-4-5 \N{TRIANGULAR FLAG ON POST}",
     ("/v1/messages", "smart-llm", "claude-sonnet-4-5", True)),
    ("POST /v1/responses o3", ("/v1/responses", "o3", "o3", False)),
    ("chat gpt-4o", (None, None, None, False)),
])
def test_parse_span_name(name, expected):
    assert parse_span_name(name) == expected


def test_otlp_json_with_hex_ids_decodes_like_protobuf():
    obj = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "plano(llm)"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "name": "POST /v1/chat/completions gpt-4o-mini",
            "startTimeUnixNano": "1790000000000000000",
            "endTimeUnixNano": "1790000001000000000",
            "attributes": [
                {"key": "llm.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "llm.usage.prompt_tokens", "value": {"intValue": "42"}},
            ],
        }]}],
    }]}
    result = decode_otlp_json(obj)
    assert len(result.calls) == 1
    call = result.calls[0]
    assert call.trace_id == "5b8efff798038103d269b633813fc60c"
    assert call.span_id == "eee19b7ec3c1b174"
    assert call.prompt_tokens == 42


def test_otlp_json_junk_is_a_value_error():
    with pytest.raises(ValueError):
        decode_otlp_json({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]})
    with pytest.raises(ValueError):
        decode_otlp_json(["not", "an", "object"])


@pytest.mark.parametrize("first, last, expected", [
    (5, 7, 7), ("junk", 7, 7), (5, "", None), (5, "9", 9), (5, None, None)])
def test_a_repeated_attribute_counts_by_its_last_value(first, last, expected):
    sp = span(llm_attrs())
    del sp.attributes[[kv.key for kv in sp.attributes].index("llm.usage.prompt_tokens")]
    for value in (first, last):
        kv = sp.attributes.add(key="llm.usage.prompt_tokens")
        if isinstance(value, int):
            kv.value.int_value = value
        elif isinstance(value, str):
            kv.value.string_value = value
    for _ in range(2):  # the second time from the attribute cache
        assert one_call({}, proto=sp).prompt_tokens == expected


def test_a_repeated_attribute_with_junk_last_rejects_the_span():
    sp = span(llm_attrs())
    sp.attributes.add(key="llm.usage.prompt_tokens").value.string_value = "lots"
    result = decode_request(request(sp))
    assert result.calls == [] and "prompt_tokens: not a number" in result.rejected[0].reason


def test_an_unexpected_failure_rejects_only_that_span(monkeypatch):
    from plano_obs.ingest import decode

    real = decode._llm_call

    def flaky(sp, raw, fields, attrs, service, ids):
        if fields.get("request_id") == "boom":
            raise RuntimeError("bug")
        return real(sp, raw, fields, attrs, service, ids)

    monkeypatch.setattr(decode, "_llm_call", flaky)
    result = decode_request(request(span(llm_attrs(request_id="boom")), span(llm_attrs())))
    assert len(result.calls) == 1
    assert len(result.rejected) == 1 and "bug" in result.rejected[0].reason


def test_an_overlong_int_reads_as_protobuf_reads_it():
    from opentelemetry.proto.common.v1 import common_pb2

    from plano_obs.ingest._wire import any_value

    raw = b"\x18\xfb" + b"\xff" * 8 + b"\x3e"  # a 10-byte varint with bits past the 64th
    assert any_value(raw, lambda v: None) == common_pb2.AnyValue.FromString(raw).int_value


@pytest.mark.parametrize("where", ["short value", "long value", "key", "value outside the table",
                                   "signal event"])
def test_an_attribute_that_is_not_utf8_rejects_its_span_whatever_its_length(where):
    """Short attributes are read without protobuf, long ones with it, and attributes the call
    does not use are not converted at all: each refuses what protobuf refuses, and the other
    spans of the request are untouched."""
    attrs = llm_attrs()
    events = None
    if where == "key":
        attrs["caf\u00e9"] = "v"
    elif where == "value outside the table":
        attrs["llm.user_message_preview"] = "caf\u00e9"
    elif where == "signal event":
        events = [event("signal.interaction.misalignment.correction",
                        {"signal.snippet": "caf\u00e9"})]
    else:
        attrs["plano.route.name"] = ("x" * 300 if where == "long value" else "") + "caf\u00e9"
    raw = request(span(attrs, events=events), span(llm_attrs())).SerializeToString()
    bad = raw.replace("\u00e9".encode(), b"\xff\xfe")
    assert bad != raw
    result = decode_request(bad)
    assert len(result.calls) == 1
    assert len(result.rejected) == 1
    assert result.rejected[0].reason.startswith("undecodable span")
