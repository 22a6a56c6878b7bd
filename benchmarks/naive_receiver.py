# Copied unchanged from the shared benchmark kit's bench/naive_receiver.py (the baseline for
# ingest ratios), so `make bench` runs on a fresh clone; refresh it from there, don't edit it.
"""A straightforward OTLP/gRPC receiver, the baseline for ingest ratios: every attribute converted to a
Python value, one dataclass per LLM call, a deque store. Exits after --count LLM calls.

usage: naive_receiver.py --port P --count N
"""
import argparse, threading
from collections import deque
from concurrent import futures
from dataclasses import dataclass
from datetime import datetime, timezone

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts, trace_service_pb2_grpc as tsg


@dataclass
class Call:
    model: str
    ts: datetime
    status: int | None
    prompt: int | None
    completion: int | None
    duration: float | None
    route: str | None
    session: str | None


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in ("string_value", "int_value", "double_value", "bool_value") else None


class Servicer(tsg.TraceServiceServicer):
    def __init__(self, count, done):
        self.calls, self.n, self.count, self.done, self.lock = deque(maxlen=1_000_000), 0, count, done, threading.Lock()

    def Export(self, request, context):
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    a = {kv.key: value(kv.value) for kv in span.attributes}
                    if "llm.model" not in a:
                        continue
                    c = Call(a["llm.model"], datetime.fromtimestamp(span.start_time_unix_nano / 1e9, tz=timezone.utc),
                             a.get("http.status_code"), a.get("llm.usage.prompt_tokens"),
                             a.get("llm.usage.completion_tokens"), a.get("llm.duration_ms"),
                             a.get("plano.route.name"), a.get("plano.session_id"))
                    with self.lock:
                        self.calls.append(c)
                        self.n += 1
                        if self.n >= self.count:
                            self.done.set()
        return ts.ExportTraceServiceResponse()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    a = ap.parse_args()
    done = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.max_receive_message_length", 64 << 20)])
    tsg.add_TraceServiceServicer_to_server(Servicer(a.count, done), server)
    server.add_insecure_port(f"127.0.0.1:{a.port}")
    server.start()
    done.wait(600)
    server.stop(0)


if __name__ == "__main__":
    main()
