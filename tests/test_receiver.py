"""The receiver over a real gRPC socket on 127.0.0.1, driven by the OpenTelemetry SDK exporter."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.receiver import PortInUseError, Receiver
from plano_obs.ingest.store import Store
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

from otlp_fixtures import llm_attrs, request, span


@pytest.fixture
def receiver():
    store = Store()
    r = Receiver(store, "127.0.0.1", 0)
    r.start()
    yield r
    r.stop(grace=0)


def raw_export(r: Receiver):
    channel = grpc.insecure_channel(f"127.0.0.1:{r.port}")
    call = channel.unary_unary(OTLP_TRACE_EXPORT_METHOD, request_serializer=None,
                               response_deserializer=ExportTraceServiceResponse.FromString)
    return channel, call


def test_sdk_exporter_with_gzip_delivers_every_span(receiver):
    provider = TracerProvider(resource=Resource.create({"service.name": "plano(llm)"}))
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{receiver.port}", insecure=True,
                                compression=Compression.Gzip)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    tracer = provider.get_tracer("test")
    sent_models = {}
    for i in range(300):
        model = ("gpt-4o-mini", "claude-sonnet-4-20250514", "gemini-2.5-pro")[i % 3]
        with tracer.start_as_current_span("POST /v1/chat/completions") as inbound:
            inbound.set_attribute("http.status_code", 200)
            with tracer.start_as_current_span(f"POST /v1/chat/completions {model}") as sp:
                sp.set_attribute("llm.model", model)
                sp.set_attribute("llm.usage.prompt_tokens", 100 + i)
                sp.set_attribute("llm.usage.completion_tokens", i)
                sp.set_attribute("http.status_code", "200")
        sent_models[model] = sent_models.get(model, 0) + 1
    assert provider.force_flush(10_000)
    provider.shutdown()

    stats = receiver.store.stats()
    assert stats.calls == 300
    assert stats.accepted_spans == 600
    assert stats.rejected_spans == 0 and stats.duplicate_spans == 0
    calls = receiver.store.calls_snapshot()
    got_models = {}
    for c in calls:
        got_models[c.model] = got_models.get(c.model, 0) + 1
    assert got_models == sent_models
    assert sum(c.prompt_tokens for c in calls) == sum(100 + i for i in range(300))
    assert sum(c.completion_tokens for c in calls) == sum(range(300))
    # every call's trace holds its inbound parent too
    trace = receiver.store.trace(calls[0].trace_id)
    assert [s.is_llm for s in trace] == [False, True]
    assert trace[0].attributes == {"http.status_code": 200}


def test_gzip_compressed_raw_requests_are_accepted(receiver):
    channel, export = raw_export(receiver)
    req = request(span(llm_attrs()), span(llm_attrs()))
    response = export(req.SerializeToString(), compression=grpc.Compression.Gzip)
    assert response.partial_success.rejected_spans == 0
    assert receiver.store.stats().calls == 2
    channel.close()


def test_exporter_retries_are_not_counted_twice(receiver):
    channel, export = raw_export(receiver)
    payload = request(span(llm_attrs()), span({"k": 1}, name="routing")).SerializeToString()
    export(payload)
    export(payload)
    stats = receiver.store.stats()
    assert stats.calls == 1
    assert stats.accepted_spans == 2
    assert stats.duplicate_spans == 2
    channel.close()


def test_undecodable_spans_come_back_in_partial_success_and_are_counted(receiver):
    channel, export = raw_export(receiver)
    req = request(span(llm_attrs()), span(llm_attrs(**{"llm.usage.prompt_tokens": -3})),
                  span(llm_attrs(**{"llm.duration_ms": "soon"})))
    response = export(req.SerializeToString())
    assert response.partial_success.rejected_spans == 2
    assert "negative token count" in response.partial_success.error_message
    assert "not a number" in response.partial_success.error_message
    stats = receiver.store.stats()
    assert (stats.calls, stats.rejected_spans) == (1, 2)
    assert stats.last_rejection
    channel.close()


def test_garbage_request_is_invalid_argument_and_the_receiver_goes_on(receiver):
    channel, export = raw_export(receiver)
    with pytest.raises(grpc.RpcError) as e:
        export(b"\xff\xff\xffnot protobuf")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    export(request(span(llm_attrs())).SerializeToString())
    stats = receiver.store.stats()
    assert stats.calls == 1 and stats.refused_requests == 1
    channel.close()


def test_request_above_the_size_limit_is_refused_and_counted():
    store = Store()
    r = Receiver(store, "127.0.0.1", 0, max_message_bytes=64 * 1024)
    r.start()
    try:
        channel, export = raw_export(r)
        big = request(*[span(llm_attrs(note="x" * 1000)) for _ in range(100)])
        assert big.ByteSize() > 64 * 1024
        with pytest.raises(grpc.RpcError) as e:
            export(big.SerializeToString())
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit" in e.value.details()
        export(request(span(llm_attrs())).SerializeToString())
        stats = store.stats()
        assert stats.refused_requests == 1
        assert stats.calls == 1
        channel.close()
    finally:
        r.stop(grace=0)


def test_overload_answers_resource_exhausted_and_counts_instead_of_queueing_without_bound():
    store = Store()
    # Room for about one large request waiting to be decoded.
    r = Receiver(store, "127.0.0.1", 0, max_pending_bytes=600 * 1024)
    r.start()
    payload = DemoTraffic(5).spans_request(2000, 1_790_000_000_000_000_000).SerializeToString()
    assert len(payload) > 300 * 1024
    codes: list[grpc.StatusCode] = []
    lock = threading.Lock()

    retry_after: list[float] = []

    def send():
        channel, export = raw_export(r)
        try:
            export(payload)
            code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            code = e.code()
            trailer = dict(e.trailing_metadata() or ()).get("google.rpc.retryinfo-bin")
            if trailer is not None:
                info = RetryInfo.FromString(trailer)
                retry_after.append(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
        with lock:
            codes.append(code)
        channel.close()

    try:
        threads = [threading.Thread(target=send) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refused = codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert refused >= 1
        assert codes.count(grpc.StatusCode.OK) + refused == 12
        stats = store.stats()
        assert stats.refused_requests == refused
        assert "overloaded" in stats.last_refusal
        # OTLP exporters retry RESOURCE_EXHAUSTED when the server says when.
        assert retry_after == [1.0] * refused
    finally:
        r.stop(grace=0)


def test_busy_port_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = Receiver(Store(), "127.0.0.1", port)
        with pytest.raises(PortInUseError) as e:
            r.start()
        assert str(port) in str(e.value) and "--port" in str(e.value)


def test_cli_busy_port_is_one_line_and_exit_code_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "plano_obs", "--port", str(port), "--http-port", "0", "--plain",
             "--offline"],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(port) in lines[0] and "--port" in lines[0]
    assert "Traceback" not in proc.stderr


def test_many_clients_at_once_lose_nothing(receiver):
    """Twenty channels exporting concurrently, half of them gzip, some requests large enough
    to be decoded off the event loop: every span arrives once."""
    traffic = DemoTraffic(23)
    per_client: list[list[bytes]] = []
    sent = 0
    for i in range(20):
        spans = 1000 if i % 5 == 0 else 40  # 1000 spans, ~370 KB: decoded off the loop
        payloads = [traffic.spans_request(spans, 1_700_000_000_000_000_000).SerializeToString()
                    for _ in range(5)]
        sent += 5 * spans
        per_client.append(payloads)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        channel, export = raw_export(receiver)
        try:
            for payload in per_client[i]:
                compression = grpc.Compression.Gzip if i % 2 else grpc.Compression.NoCompression
                response = export(payload, compression=compression, timeout=30)
                assert response.partial_success.rejected_spans == 0
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            channel.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    stats = receiver.store.stats()
    assert stats.accepted_spans == sent
    assert stats.refused_requests == stats.rejected_spans == stats.duplicate_spans == 0
