"""Deterministic demo runtimes for the console's tests and screenshots.

No receiver is started: the listen address shown is the default one, 127.0.0.1:4317.
"""

from __future__ import annotations

from plano_obs.demo import DemoTraffic
from plano_obs.ingest.decode import decode_request
from plano_obs.runtime import Runtime
from plano_obs.settings import Settings

__all__ = ["SAMPLE_NOW", "sample_runtime"]

#: The fixed "now" of every sample (unix seconds): 2025-06-15 15:06:40 UTC.
SAMPLE_NOW = 1_750_000_000.0


def sample_runtime(
    *, minutes: int = 20, per_minute: int = 60, seed: int = 7, now: float = SAMPLE_NOW
) -> Runtime:
    """A runtime holding ``minutes`` of demo traffic up to ``now``, its clock stopped there."""
    runtime = Runtime(Settings(offline=True, seed=seed), clock=lambda: now)
    traffic = DemoTraffic(seed)
    for request in traffic.history(end_ns=int(now * 1e9), minutes=minutes, per_minute=per_minute):
        runtime.store.ingest(decode_request(request))
    return runtime
