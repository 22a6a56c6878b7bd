"""One ``TraceService/Export`` for every transport: protobuf or OTLP/JSON bytes in, the same
calls in the store and the same answer out."""

from __future__ import annotations

import json

import pytest

from plano_obs.ingest.decode import RequestDecodeError
from plano_obs.ingest.service import export
from plano_obs.ingest.store import Store

from otlp_fixtures import llm_attrs, otlp_json, request, span


def test_protobuf_and_its_otlp_json_form_ingest_the_same_calls_and_answer_alike():
    req = request(span(llm_attrs()), span(llm_attrs(**{"llm.usage.prompt_tokens": -3})),
                  span({"component": "routing"}, name="routing"))
    by_protobuf, by_json = Store(), Store()
    answer = export(by_protobuf, req.SerializeToString())
    answer_json = export(by_json, json.dumps(otlp_json(req)).encode(), json_body=True)
    assert answer == answer_json
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == (
        "1 span: llm.usage.prompt_tokens: negative token count -3")
    for store in (by_protobuf, by_json):
        stats = store.stats()
        assert (stats.calls, stats.accepted_spans, stats.rejected_spans) == (1, 2, 1)
    assert by_protobuf.calls_snapshot() == by_json.calls_snapshot()


def test_an_accepted_request_gets_an_empty_response():
    answer = export(Store(), request(span(llm_attrs())).SerializeToString())
    assert not answer.HasField("partial_success")


def test_many_reasons_are_summarized_after_five():
    spans = [span(llm_attrs(**{"llm.duration_ms": f"soon{i}"})) for i in range(7)]
    answer = export(Store(), request(*spans).SerializeToString())
    assert answer.partial_success.rejected_spans == 7
    assert answer.partial_success.error_message.endswith("; and 2 other reasons")


@pytest.mark.parametrize("body, words", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe\x00", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "hex"),
    (b'{"resourceSpans": 7}', "OTLP/JSON"),
])
def test_a_body_that_is_not_otlp_json_is_one_clear_error(body, words):
    store = Store()
    with pytest.raises(RequestDecodeError) as e:
        export(store, body, json_body=True)
    assert words in str(e.value)
    assert store.stats().received_spans == 0
