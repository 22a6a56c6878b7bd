"""Fill a ledger with N realistic LLM calls, quickly, for the ledger benchmarks.

The calls follow the gateway's real traffic as ``otlp_load.py`` models it (its six models and
their token, latency and streaming distributions, five routes with direct traffic, 3% errors,
2% flagged calls with signal events), spread evenly over the ``--days`` before now, in
conversations of 2 to 20 turns. They are priced with the embedded catalog and written as the
receiver writes them (raw rows, kept spans of flagged and failed calls), and derived into hour
and day rows as the console's sync does, 50,000 calls per transaction; nothing is decoded from
protobuf (10 million calls took 51 minutes on the shared 2-core machine; see the README).

    .venv/bin/python benchmarks/ledger_fill.py /tmp/bench.sqlite --calls 1000000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import otlp_load  # noqa: E402

from plano_obs.analytics import Aggregate, CallFacts, hour_part  # noqa: E402
from plano_obs.ledger import Ledger, Rollups  # noqa: E402
from plano_obs.model import LLMCall, SignalEvent, Signals  # noqa: E402
from plano_obs.pricing import Pricer  # noqa: E402

HOUR_NS = 3600 * 10**9
BATCH = 50_000


class Calls:
    """A deterministic stream of calls shaped like the gateway's (see otlp_load.py)."""

    def __init__(self, seed: int, first_ns: int, last_ns: int, n: int) -> None:
        self.rng = random.Random(seed)
        self.first_ns, self.step_ns = first_ns, max(1, (last_ns - first_ns) // max(1, n))
        self.i = 0
        self.sessions: list[list] = []  # [session id, turns left]
        self.serial = 0
        self.model_cum, self.model_total = otlp_load._cum([m.weight for m in otlp_load.MODELS])
        self.route_cum, self.route_total = otlp_load._cum([w for _, w in otlp_load.ROUTES])
        self.error_cum, self.error_total = otlp_load._cum([w for _, w in otlp_load.ERROR_CODES])

    def _session(self) -> str | None:
        rng = self.rng
        if rng.random() >= 0.7:
            return None
        if len(self.sessions) < 64 or rng.random() < 0.12:
            self.serial += 1
            self.sessions.append([f"sess-{self.serial:08x}", rng.randint(2, 20)])
        k = rng.randrange(len(self.sessions))
        entry = self.sessions[k]
        entry[1] -= 1
        if entry[1] <= 0:
            self.sessions[k] = self.sessions[-1]
            self.sessions.pop()
        return entry[0]

    def next(self) -> LLMCall:
        rng = self.rng
        i = self.i
        self.i += 1
        spec = otlp_load._weighted(rng, otlp_load.MODELS, self.model_cum, self.model_total)
        route = otlp_load._weighted(rng, [r for r, _ in otlp_load.ROUTES], self.route_cum,
                                    self.route_total)
        failed = rng.random() < 0.03
        flagged = rng.random() < 0.02
        streaming = rng.random() < spec.stream_p
        path = "/v1/messages" if spec.provider == "anthropic" else "/v1/chat/completions"
        end_ns = self.first_ns + i * self.step_ns + rng.randrange(self.step_ns)
        call = LLMCall(
            trace_id=f"{rng.getrandbits(128):032x}", span_id=f"{rng.getrandbits(64):016x}",
            parent_span_id=None, name=f"POST {path} {spec.name}", service="plano(llm)",
            start_ns=end_ns, end_ns=end_ns, request_id=f"req-{i:012d}", model=spec.name,
            model_requested="router:auto" if route else f"{spec.provider}/{spec.name}",
            provider=spec.provider, api_path=path, route=route, session_id=self._session(),
            is_streaming=streaming, routing_strategy="preference_aware" if route else None,
            selection_reason=f"matched route '{route}' (policy: {spec.name})" if route else None,
            flagged=flagged)
        if failed:
            status = otlp_load._weighted(rng, [c for c, _ in otlp_load.ERROR_CODES],
                                         self.error_cum, self.error_total)
            call.status_code, call.duration_ms = status, float(rng.randint(20, 3000))
            call.span_status, call.error_type = "error", "upstream_error"
            call.error_message = f"upstream answered {status}"
        else:
            call.status_code = 200
            prompt = otlp_load._logu(rng, *spec.prompt)
            completion = otlp_load._logu(rng, *spec.completion)
            ttft = rng.randint(*spec.ttft_ms)
            call.duration_ms = float(ttft + int(completion / rng.uniform(*spec.tok_per_s) * 1000))
            call.ttft_ms = float(ttft) if streaming else None
            call.prompt_tokens, call.completion_tokens = prompt, completion
            call.total_tokens = prompt + completion
            if rng.random() < spec.cache_read_p:
                call.cached_input_tokens = int(prompt * rng.uniform(0.3, 0.95))
            if spec.reasoning:
                call.reasoning_tokens = int(completion * rng.uniform(0.3, 0.8))
        call.start_ns = end_ns - int(call.duration_ms * 1e6)
        if flagged:
            types = [rng.choice(otlp_load.SIGNAL_TYPES) for _ in range(rng.randint(1, 3))]
            cats: dict[str, tuple[int, int | None]] = {}
            for t in types:
                cat = t.rsplit(".", 1)[0]
                cats[cat] = (cats.get(cat, (0, None))[0] + 1, rng.randint(1, 3))
            call.name += " 🚩"
            call.signals = Signals(
                quality=rng.choice(("poor", "severe")),
                quality_score=round(rng.uniform(0, 40), 2), turn_count=rng.randint(3, 40),
                efficiency_score=round(rng.uniform(0.1, 0.6), 3), categories=cats,
                events=[SignalEvent(name=f"signal.{t}", type=t, time_ns=end_ns,
                                    message_index=rng.randint(0, 30),
                                    confidence=round(rng.uniform(0.5, 1.0), 3),
                                    snippet=rng.choice(otlp_load.SIGNAL_SNIPPETS) or None)
                        for t in types])
        return call


def price_and_derive(batch: list[LLMCall], pricer: Pricer) -> dict[int, Aggregate]:
    """Price each call, and the hour parts a receiver's sync derives from them."""
    parts: dict[int, Aggregate] = {}
    for call in batch:
        call.cost = pricer.price(call)
        f = CallFacts.of(call)
        part = parts.get(f.end_ns // HOUR_NS)
        if part is None:
            part = parts[f.end_ns // HOUR_NS] = hour_part()
        part.add(call, f)
    return parts


def fill(path: Path, n: int, *, days: float, seed: int, end_s: float | None = None,
         quiet: bool = False) -> float:
    """Write ``n`` calls ending before ``end_s`` (default now); returns the seconds it took."""
    started = time.monotonic()
    end_ns = int((time.time() if end_s is None else end_s) * 1e9)
    gen = Calls(seed, end_ns - int(days * 86400e9), end_ns, n)
    pricer = Pricer(offline=True)
    ledger = Ledger(path)
    rollups = Rollups(ledger)
    done = 0
    try:
        while done < n:
            batch = [gen.next() for _ in range(min(BATCH, n - done))]
            parts = price_and_derive(batch, pricer)
            kept = [c for c in batch if c.flagged or c.is_error]
            ledger.write(batch, kept)
            last = ledger.last_written
            rollups.apply(parts, last)
            done += len(batch)
            if not quiet:
                rate = done / (time.monotonic() - started)
                print(f"\r{done:,} calls, {rate:,.0f}/s", end="", file=sys.stderr, flush=True)
    finally:
        ledger.close()
    if not quiet:
        print(file=sys.stderr)
    return time.monotonic() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path, help="the ledger to create (or add to)")
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--days", type=float, default=30.0, help="spread over this many days")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    seconds = fill(args.path, args.calls, days=args.days, seed=args.seed)
    size = args.path.stat().st_size
    print(f"{args.calls:,} calls in {seconds:.0f} s ({args.calls / seconds:,.0f}/s); "
          f"{size / 2**20:,.0f} MiB, {size / args.calls:,.0f} bytes per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
