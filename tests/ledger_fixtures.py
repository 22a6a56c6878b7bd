"""Traffic for ledger tests (the embedded file and PostgreSQL alike): demo requests over days
before a fixed "now", some arriving late."""

from __future__ import annotations

import random
from collections.abc import Iterator

from plano_obs.demo import DemoTraffic

NOW = 1_760_000_000.0  # a fixed "now": 2025-10-09 08:53:20 UTC
HOUR = 3600
DAY = 86_400
WINDOWS = ("all", "5m", "1h", "24h", "7d", "30d")


def traffic(days: float = 40, per_hour: float = 6, seed: int = 3) -> Iterator[object]:
    """Demo requests spread over the ``days`` before NOW, a few calls arriving late."""
    demo = DemoTraffic(seed, error_rate=0.08, flag_rate=0.08)
    rng = random.Random(seed)
    n = int(days * 24 * per_hour)
    for i in range(n):
        at = NOW - days * DAY + (i + rng.random()) * days * DAY / n
        if rng.random() < 0.05:
            at -= rng.uniform(0, 2 * HOUR)  # late: ended a while before it arrived
        yield demo.request([demo.trace(int(min(at, NOW) * 1e9))])
