"""``plano obs export --listen`` as a user runs it: a process, real traffic, then SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import grpc
import httpx

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.model import OTLP_TRACE_EXPORT_METHOD

from otlp_fixtures import otlp_json

END_NS = 1_790_000_000 * 10**9


def test_sigterm_writes_the_document_and_nothing_is_lost(free_port, tmp_path):
    out = tmp_path / "rollups.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "plano_obs", "export", "--listen", "--port", str(free_port),
         "--http-port", "0", "--offline", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{free_port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        export = channel.unary_unary(OTLP_TRACE_EXPORT_METHOD, request_serializer=None,
                                     response_deserializer=None)
        sent = []
        for req in DemoTraffic(9).history(end_ns=END_NS, minutes=3, per_minute=120):
            export(req.SerializeToString(), timeout=10)
            sent.extend(decode_request(req).calls)
        channel.close()
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stdout == ""  # the document went to the file; progress to stderr
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1
    assert doc["summary"]["requests"] == len(sent)
    by_model = Counter(c.model for c in sent)
    assert {m["model"]: m["requests"] for m in doc["models"]} == by_model
    by_route = Counter(c.route for c in sent)
    assert {r["route"]: r["requests"] for r in doc["routes"]} == by_route
    assert doc["summary"]["errors"] == sum(c.is_error for c in sent)
    assert doc["summary"]["flagged"] == sum(c.flagged for c in sent)
    assert doc["summary"]["input_tokens"] == sum(c.prompt_tokens or 0 for c in sent)


def test_export_listen_takes_otlp_http_protobuf_and_json_and_stops_at_count(free_port, tmp_path):
    out = tmp_path / "rollups.json"
    requests = list(DemoTraffic(4).history(end_ns=END_NS, minutes=2, per_minute=60))
    sent = [c for req in requests for c in decode_request(req).calls]
    proc = subprocess.Popen(
        [sys.executable, "-m", "plano_obs", "export", "--listen", "--port", "0",
         "--http-port", str(free_port), "--count", str(len(sent)), "--offline", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{free_port}/v1/traces"
        deadline = time.monotonic() + 30
        while True:  # until the receiver listens
            try:
                httpx.post(base, content=b"", headers={"Content-Type": "application/x-protobuf"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.1)
        with httpx.Client() as client:
            for i, req in enumerate(requests):
                if i % 2:
                    response = client.post(base, content=json.dumps(otlp_json(req)),
                                           headers={"Content-Type": "application/json"})
                else:
                    response = client.post(base, content=req.SerializeToString(),
                                           headers={"Content-Type": "application/x-protobuf"})
                assert response.status_code == 200
        stdout, stderr = proc.communicate(timeout=30)  # --count ends it
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert f"127.0.0.1:{free_port} (OTLP/HTTP)" in stderr
    doc = json.loads(out.read_text())
    assert f"otlp-http://127.0.0.1:{free_port}" in doc["source"]
    assert doc["summary"]["requests"] == len(sent)
    assert {m["model"]: m["requests"] for m in doc["models"]} == Counter(c.model for c in sent)
    assert {r["route"]: r["requests"] for r in doc["routes"]} == Counter(c.route for c in sent)
