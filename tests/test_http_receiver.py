"""The OTLP/HTTP receiver over real sockets on 127.0.0.1: the Python SDK's exporter, the Collector's
JSON, every status of the specification, and clients that lie, dawdle or crowd in."""

from __future__ import annotations

import gzip
import json
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.ingest.http import HttpReceiver, inflate
from plano_obs.ingest.receiver import PortInUseError
from plano_obs.ingest.store import Store

from otlp_fixtures import llm_attrs, otlp_json, request, span

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
END_NS = 1_790_000_000 * 10**9


def start(**options) -> HttpReceiver:
    r = HttpReceiver(Store(), "127.0.0.1", 0, **options)
    r.start()
    return r


@pytest.fixture
def receiver():
    r = start()
    yield r
    r.stop(grace=0)


def url(r: HttpReceiver, path: str = "/v1/traces") -> str:
    return f"http://127.0.0.1:{r.port}{path}"


def status_of(response: httpx.Response) -> Status:
    """The google.rpc.Status of an error response, in whichever content type it came."""
    if response.headers["content-type"].startswith("application/json"):
        return Status(**response.json())
    return Status.FromString(response.content)


def raw_http(port: int, data: bytes, *, read_timeout: float = 10) -> bytes:
    """Send raw bytes, then read until the server closes the connection (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + read_timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def llm_payload(n: int = 2) -> bytes:
    return request(*[span(llm_attrs()) for _ in range(n)]).SerializeToString()


# -- real exporters --------------------------------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_python_sdks_http_exporter_delivers_exact_counts_per_model_and_route(
        receiver, compression):
    provider = TracerProvider(resource=Resource.create({"service.name": "plano(llm)"}))
    exporter = OTLPSpanExporter(endpoint=url(receiver), compression=compression)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    tracer = provider.get_tracer("test")
    models = ("gpt-4o-mini", "claude-sonnet-4-20250514", "gemini-2.5-pro")
    routes = ("code generation", "summarization", None)
    sent_models: Counter[str] = Counter()
    sent_routes: Counter[str | None] = Counter()
    for i in range(300):
        model, route = models[i % 3], routes[i % 4 % 3]
        with tracer.start_as_current_span("POST /v1/chat/completions"):
            with tracer.start_as_current_span(f"POST /v1/chat/completions {model}") as sp:
                sp.set_attribute("llm.model", model)
                sp.set_attribute("llm.usage.prompt_tokens", 100 + i)
                sp.set_attribute("http.status_code", 200)
                if route is not None:
                    sp.set_attribute("plano.route.name", route)
        sent_models[model] += 1
        sent_routes[route] += 1
    assert provider.force_flush(10_000)
    provider.shutdown()

    stats = receiver.store.stats()
    assert (stats.calls, stats.accepted_spans) == (300, 600)
    assert stats.rejected_spans == stats.refused_requests == stats.duplicate_spans == 0
    calls = receiver.store.calls_snapshot()
    assert Counter(c.model for c in calls) == sent_models
    assert Counter(c.route for c in calls) == sent_routes
    assert sum(c.prompt_tokens for c in calls) == sum(100 + i for i in range(300))


def test_otlp_json_as_the_collectors_otlphttp_exporter_sends_it(receiver):
    """``encoding: json`` with the Collector's default gzip: hex ids, lowerCamelCase keys,
    64-bit integers as strings, enums as integers, and fields we do not know."""
    sent = []
    with httpx.Client() as client:
        for req in DemoTraffic(9).history(end_ns=END_NS, minutes=3, per_minute=60):
            doc = otlp_json(req)
            doc["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.26.0"
            doc["somethingNewer"] = {"ignored": True}
            body = gzip.compress(json.dumps(doc).encode())
            response = client.post(url(receiver), content=body,
                                   headers={**JSON, "Content-Encoding": "gzip"})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.json() == {}
            sent.extend(decode_request(req).calls)
    calls = receiver.store.calls_snapshot()
    assert len(calls) == len(sent) > 100
    assert Counter(c.model for c in calls) == Counter(c.model for c in sent)
    assert Counter(c.route for c in calls) == Counter(c.route for c in sent)
    assert {c.span_id for c in calls} == {c.span_id for c in sent}
    assert sum(c.prompt_tokens or 0 for c in calls) == sum(c.prompt_tokens or 0 for c in sent)
    assert receiver.store.stats().refused_requests == 0


def test_deflate_bodies_zlib_wrapped_or_raw_are_accepted(receiver):
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    for body in (zlib.compress(llm_payload()), raw.compress(llm_payload()) + raw.flush()):
        response = httpx.post(url(receiver), content=body,
                              headers={**PROTOBUF, "Content-Encoding": "deflate"})
        assert response.status_code == 200
    assert receiver.store.stats().calls == 4


# -- the specification's answers -------------------------------------------------------------


def test_rejected_spans_come_back_as_partial_success_in_the_requests_content_type(receiver):
    req = request(span(llm_attrs()), span(llm_attrs(**{"llm.usage.prompt_tokens": -3})))
    response = httpx.post(url(receiver), content=req.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "negative token count" in answer.partial_success.error_message

    req = request(span(llm_attrs(**{"llm.duration_ms": "soon"})))
    response = httpx.post(url(receiver), content=json.dumps(otlp_json(req)), headers=JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"  # int64 as a string, as OTLP/JSON says
    assert "not a number" in partial["errorMessage"]
    stats = receiver.store.stats()
    assert (stats.calls, stats.rejected_spans, stats.refused_requests) == (1, 2, 0)


@pytest.mark.parametrize("headers, body", [
    (PROTOBUF, b"\xff\xff\xffnot protobuf"),
    (JSON, b"{not json"),
    (JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}'),
    ({**PROTOBUF, "Content-Encoding": "gzip"}, b"\x1f\x8bnot really gzip"),
])
def test_undecodable_bodies_are_400_with_a_google_rpc_status(receiver, headers, body):
    response = httpx.post(url(receiver), content=body, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == headers["Content-Type"]
    status = status_of(response)
    assert status.code == 3 and status.message  # INVALID_ARGUMENT, and why
    assert httpx.post(url(receiver), content=llm_payload(1), headers=PROTOBUF).status_code == 200
    stats = receiver.store.stats()
    assert (stats.calls, stats.refused_requests) == (1, 1)
    assert stats.last_refusal == status.message


def test_other_paths_are_404_and_other_methods_405(receiver):
    with httpx.Client() as client:
        metrics = client.post(url(receiver, "/v1/metrics"), content=b"", headers=PROTOBUF)
        assert metrics.status_code == 404
        assert "traces only" in status_of(metrics).message
        assert client.get(url(receiver, "/")).status_code == 404
        get = client.get(url(receiver))
        assert get.status_code == 405 and get.headers["allow"] == "POST"
        assert client.put(url(receiver), content=llm_payload(), headers=PROTOBUF).status_code == 405
        preflight = client.options(url(receiver), headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 405  # CORS is off by default
        assert "access-control-allow-origin" not in preflight.headers
    assert receiver.store.stats().refused_requests == 5


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},
    {},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {**PROTOBUF, "Content-Encoding": "br"},
])
def test_other_content_types_and_encodings_are_415(receiver, headers):
    response = httpx.post(url(receiver), content=llm_payload(), headers=headers)
    assert response.status_code == 415
    assert status_of(response).message
    assert receiver.store.stats().calls == 0


def test_a_request_above_the_limit_is_413_before_its_body_is_read():
    r = start(max_message_bytes=64 * 1024)
    try:
        big = request(*[span(llm_attrs(note="x" * 1000)) for _ in range(100)])
        response = httpx.post(url(r), content=big.SerializeToString(), headers=PROTOBUF)
        assert response.status_code == 413
        assert "limit" in status_of(response).message
        # Without a Content-Length (chunked), it is refused as the limit is crossed.
        chunks = iter([big.SerializeToString()[i:i + 8192] for i in range(0, big.ByteSize(), 8192)])
        response = httpx.post(url(r), content=chunks, headers=PROTOBUF)
        assert response.status_code == 413
        assert httpx.post(url(r), content=llm_payload(), headers=PROTOBUF).status_code == 200
        stats = r.store.stats()
        assert (stats.refused_requests, stats.calls) == (2, 2)
    finally:
        r.stop(grace=0)


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A valid gzip body of ``inflated_bytes`` zeros, about a thousand times smaller."""
    mib = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = c.compress(mib) + c.flush(zlib.Z_SYNC_FLUSH)
    # After the first MiB, every further MiB of zeros compresses to the same bytes.
    block = c.compress(mib) + c.flush(zlib.Z_SYNC_FLUSH)
    end = c.flush()[:-8]  # the final empty block, without the trailer of two MiB
    n = inflated_bytes >> 20
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(mib, crc)
    return head + block * (n - 1) + end + struct.pack("<II", crc, (n << 20) & 0xFFFFFFFF)


def test_a_gzip_bomb_is_refused_with_413_and_never_inflated(receiver):
    bomb = gzip_bomb(1 << 30)  # 1 GiB of zeros in about 1 MB
    assert len(bomb) < 2 * 1024 * 1024
    peak_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = httpx.post(url(receiver), content=bomb,
                          headers={**PROTOBUF, "Content-Encoding": "gzip"}, timeout=30)
    assert response.status_code == 413
    assert "decompresses to more than the 16 MiB limit" in status_of(response).message
    # Receiver and client share this process: a 1 GiB inflation would show in its peak.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before_kib < 200 * 1024
    assert httpx.post(url(receiver), content=llm_payload(), headers=PROTOBUF).status_code == 200


def test_inflate_stops_at_the_limit_for_gzip_members_and_deflate():
    members = gzip.compress(b"a" * 600) + gzip.compress(b"b" * 600)
    assert inflate(members, "gzip", 1200) == b"a" * 600 + b"b" * 600
    with pytest.raises(ValueError, match="more than"):
        inflate(members, "gzip", 1199)
    with pytest.raises(ValueError, match="more than"):
        inflate(zlib.compress(b"\0" * 10_000), "deflate", 9_999)
    with pytest.raises(ValueError, match="truncated gzip"):
        inflate(gzip.compress(b"x" * 1000)[:-12], "gzip", 10_000)


def test_overload_is_503_with_retry_after_and_counted():
    # Room for about one large request waiting to be decoded.
    r = start(max_pending_bytes=600 * 1024)
    payload = DemoTraffic(5).spans_request(2000, END_NS).SerializeToString()
    assert len(payload) > 300 * 1024
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        response = httpx.post(url(r), content=payload, headers=PROTOBUF, timeout=30)
        with lock:
            answers.append(response)

    try:
        threads = [threading.Thread(target=send) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = Counter(a.status_code for a in answers)
        assert codes[503] >= 1 and codes[200] + codes[503] == 12
        for a in answers:
            if a.status_code == 503:
                assert a.headers["retry-after"] == "1"
                assert "overloaded" in status_of(a).message
        stats = r.store.stats()
        assert stats.refused_requests == codes[503]
        assert stats.accepted_spans == 2000 * codes[200]
    finally:
        r.stop(grace=0)


def test_too_many_requests_at_once_is_429_with_retry_after():
    r = start(max_concurrent_requests=1, body_timeout_s=5)
    try:
        with socket.create_connection(("127.0.0.1", r.port)) as holder:
            # One request in progress, its body still coming.
            holder.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/x-protobuf\r\nContent-Length: 100\r\n\r\n")
            deadline = time.monotonic() + 5
            while r.requests < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            response = httpx.post(url(r), content=llm_payload(), headers=PROTOBUF)
            assert response.status_code == 429
            assert response.headers["retry-after"] == "1"
        assert r.store.stats().refused_requests >= 1
    finally:
        r.stop(grace=0)


def test_expect_100_continue_is_answered_before_the_body_is_sent(receiver):
    body = llm_payload()
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf"
                  b"\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(body)
        assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
    assert receiver.store.stats().calls == 2


# -- clients that lie, dawdle or crowd in ----------------------------------------------------


def test_a_body_shorter_than_its_content_length_times_out_with_408_and_others_go_on():
    r = start(body_timeout_s=1)
    try:
        answer: list[bytes] = []
        liar = threading.Thread(target=lambda: answer.append(raw_http(r.port, (
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 5000\r\n\r\n" + llm_payload()[:50]))))
        liar.start()
        # While the liar waits, a well-behaved exporter is served at once.
        for _ in range(5):
            assert httpx.post(url(r), content=llm_payload(), headers=PROTOBUF).status_code == 200
        liar.join(15)
        assert answer and answer[0].startswith(b"HTTP/1.1 408")
        stats = r.store.stats()
        assert stats.calls == 10 and stats.refused_requests == 1
        assert "not received within 1 s" in stats.last_refusal
    finally:
        r.stop(grace=0)


def test_a_body_longer_than_its_content_length_is_refused_and_the_connection_closed(receiver):
    body = llm_payload()
    head = (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 7\r\n\r\n")
    answer = raw_http(receiver.port, head + body)
    # What follows the seven declared bytes is no HTTP request: the connection is refused whole.
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert b" 200 OK" not in answer
    stats = receiver.store.stats()
    assert stats.received_spans == 0 and stats.refused_requests == 1
    assert stats.last_refusal.startswith("malformed HTTP request from 127.0.0.1: ")
    assert "\n" not in stats.last_refusal
    assert httpx.post(url(receiver), content=body, headers=PROTOBUF).status_code == 200
    assert receiver.store.stats().calls == 2


def test_a_client_that_sends_its_headers_slowly_is_disconnected_and_others_go_on():
    r = start(idle_timeout_s=1)
    try:
        closed_after: list[float] = []

        def slowloris() -> None:
            with socket.create_connection(("127.0.0.1", r.port), timeout=10) as s:
                t0 = time.monotonic()
                s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                s.setblocking(False)
                try:
                    for _ in range(60):  # one byte of a header every 0.1 s, at most 6 s
                        s.sendall(b"a")
                        time.sleep(0.1)
                        try:
                            if s.recv(1) == b"":
                                break
                        except BlockingIOError:
                            pass
                except OSError:
                    pass
                closed_after.append(time.monotonic() - t0)

        t = threading.Thread(target=slowloris)
        t.start()
        for _ in range(5):
            assert httpx.post(url(r), content=llm_payload(), headers=PROTOBUF).status_code == 200
        t.join(15)
        assert closed_after and 0.9 < closed_after[0] < 4
        assert r.store.stats().calls == 10
    finally:
        r.stop(grace=0)


def test_bodies_of_several_mib_are_decoded_on_the_worker_and_small_ones_still_answered(receiver):
    big = request(*[span(llm_attrs(note="x" * 3000)) for _ in range(900)]).SerializeToString()
    assert 2 * 1024 * 1024 < len(big) < 16 * 1024 * 1024
    answers: list[int] = []
    sender = threading.Thread(target=lambda: answers.append(httpx.post(
        url(receiver), content=gzip.compress(big, 1), headers={
            **PROTOBUF, "Content-Encoding": "gzip"}, timeout=60).status_code))
    sender.start()
    for _ in range(10):
        assert httpx.post(url(receiver), content=llm_payload(), headers=PROTOBUF).status_code == 200
    assert httpx.post(url(receiver), content=big, headers=PROTOBUF, timeout=60).status_code == 200
    sender.join(60)
    assert answers == [200]
    stats = receiver.store.stats()
    assert stats.calls == 20 + 900  # the gzip copy repeats the big one's spans: duplicates
    assert stats.duplicate_spans == 900 and stats.refused_requests == 0


def test_a_hundred_concurrent_clients_lose_nothing(receiver):
    traffic = DemoTraffic(23)
    bodies: list[list[tuple[bytes, dict[str, str]]]] = []
    sent = 0
    for i in range(100):
        reqs = [traffic.spans_request(30, END_NS) for _ in range(3)]
        sent += 90
        kinds = []
        for req in reqs:
            if i % 3 == 0:
                kinds.append((json.dumps(otlp_json(req)).encode(), JSON))
            elif i % 3 == 1:
                kinds.append((gzip.compress(req.SerializeToString()),
                              {**PROTOBUF, "Content-Encoding": "gzip"}))
            else:
                kinds.append((req.SerializeToString(), PROTOBUF))
        bodies.append(kinds)
    errors: list[BaseException] = []
    go = threading.Barrier(100)

    def client(i: int) -> None:
        try:
            with httpx.Client(timeout=60) as c:
                go.wait(30)
                for body, headers in bodies[i]:
                    response = c.post(url(receiver), content=body, headers=headers)
                    assert response.status_code == 200, response.text
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    stats = receiver.store.stats()
    assert stats.accepted_spans == sent
    assert stats.refused_requests == stats.rejected_spans == stats.duplicate_spans == 0


# -- browsers ----------------------------------------------------------------------------------


def test_cors_allows_the_named_origins_only_preflight_included():
    r = start(cors_origins=["http://localhost:3000"])
    try:
        with httpx.Client() as client:
            preflight = client.options(url(r), headers={
                "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,content-encoding"})
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
            assert preflight.headers["access-control-allow-methods"] == "POST"
            assert preflight.headers["access-control-allow-headers"] == (
                "content-type,content-encoding")
            post = client.post(url(r), content=llm_payload(),
                               headers={**PROTOBUF, "Origin": "http://localhost:3000"})
            assert post.status_code == 200
            assert post.headers["access-control-allow-origin"] == "http://localhost:3000"
            assert "Retry-After" in post.headers["access-control-expose-headers"]

            other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
            assert client.options(url(r), headers=other).status_code == 403
            refused = client.post(url(r), content=llm_payload(),
                                  headers={**PROTOBUF, "Origin": "https://evil.example"})
            assert refused.status_code == 403
            assert "--cors-origin https://evil.example" in status_of(refused).message
            assert "access-control-allow-origin" not in refused.headers
        assert r.store.stats().calls == 2
    finally:
        r.stop(grace=0)


def test_without_cors_a_web_page_cannot_send():
    r = start()
    try:
        response = httpx.post(url(r), content=llm_payload(),
                              headers={**PROTOBUF, "Origin": "http://localhost:3000"})
        assert response.status_code == 403
        assert r.store.stats().calls == 0
    finally:
        r.stop(grace=0)


# -- lifecycle ---------------------------------------------------------------------------------


def test_stop_releases_the_port_and_the_thread():
    r = start()
    port = r.port
    assert httpx.post(url(r), content=llm_payload(), headers=PROTOBUF).status_code == 200
    r.stop(grace=0)
    assert r._thread is not None and not r._thread.is_alive()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_busy_port_is_a_clear_error_naming_the_flag():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = HttpReceiver(Store(), "127.0.0.1", port)
        with pytest.raises(PortInUseError) as e:
            r.start()
        assert str(port) in str(e.value) and "--http-port" in str(e.value)


def test_cli_busy_http_port_is_one_line_and_exit_code_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "plano_obs", "--port", "0", "--http-port", str(port),
             "--plain", "--offline"],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(port) in lines[0] and "--http-port" in lines[0]
    assert "Traceback" not in proc.stderr


def test_plain_mode_says_both_addresses_and_no_http_turns_it_off(free_port):
    for flags, expected in ((["--http-port", str(free_port)],
                             f"127.0.0.1:{free_port} (OTLP/HTTP)"),
                            (["--no-http"], None)):
        proc = subprocess.Popen(
            [sys.executable, "-m", "plano_obs", "--port", "0", "--plain", "--offline", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert "(OTLP/gRPC)" in first
            if expected is None:
                assert "OTLP/HTTP" not in first
                with pytest.raises(httpx.ConnectError):
                    httpx.post(f"http://127.0.0.1:{free_port}/v1/traces", content=b"")
            else:
                assert expected in first
                response = httpx.post(f"http://127.0.0.1:{free_port}/v1/traces",
                                      content=llm_payload(), headers=PROTOBUF)
                assert response.status_code == 200
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        assert proc.returncode == 0
