"""The quantile sketch: percentiles within 1% of exact ones, merge and subtract."""

from __future__ import annotations

import math
import random

import pytest
from test_analytics_rollups import T0, make_call

from plano_obs.analytics import RELATIVE_ACCURACY, Analytics, QuantileSketch


def exact(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[math.floor(q * (len(s) - 1))]


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "bimodal", "constant"])
def test_percentiles_are_within_one_percent_of_exact(dist: str) -> None:
    rng = random.Random(5)
    make = {
        "lognormal": lambda: rng.lognormvariate(6, 1.2),
        "uniform": lambda: rng.uniform(1, 60_000),
        "bimodal": lambda: rng.choice([rng.gauss(80, 5), rng.gauss(4000, 300)]),
        "constant": lambda: 250.0,
    }[dist]
    values = [max(0.5, make()) for _ in range(20_000)]
    sketch = QuantileSketch.of(values)
    qs = (0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
    for q, got in zip(qs, sketch.quantiles(qs), strict=True):
        want = exact(values, q)
        assert got == pytest.approx(want, rel=RELATIVE_ACCURACY), (q, got, want)


def test_merged_sketches_equal_one_sketch_of_all_values_and_subtract_undoes_merge() -> None:
    rng = random.Random(9)
    xs = [rng.expovariate(1 / 300) for _ in range(5000)]
    ys = [rng.expovariate(1 / 900) for _ in range(5000)]
    merged = QuantileSketch.of(xs)
    merged.merge(QuantileSketch.of(ys))
    assert merged.bins == QuantileSketch.of(xs + ys).bins
    merged.subtract(QuantileSketch.of(ys))
    assert merged.bins == QuantileSketch.of(xs).bins and merged.count == 5000


def test_zero_and_empty() -> None:
    assert QuantileSketch().quantiles((0.5,)) == [None]
    assert QuantileSketch.of([0.0, 0.0, 0.0]).quantiles((0.5, 1.0)) == [0.0, 0.0]


def test_exported_latency_percentiles_match_exact_ones() -> None:
    rng = random.Random(2)
    a = Analytics()
    durations = [rng.lognormvariate(5.5, 0.8) for _ in range(4000)]
    for i, d in enumerate(durations):
        a.add(make_call(T0 + i / 10, duration_ms=d))
    lat = a.document(now=T0 + 400).summary.latency_ms
    for q, got in ((0.5, lat.p50), (0.95, lat.p95), (0.99, lat.p99)):
        assert got == pytest.approx(exact(durations, q), rel=RELATIVE_ACCURACY)
    assert lat.max == pytest.approx(max(durations), abs=1e-3)


def test_agrees_with_the_ddsketch_library() -> None:
    ddsketch = pytest.importorskip("ddsketch")
    rng = random.Random(4)
    values = [rng.lognormvariate(6, 1) for _ in range(10_000)]
    theirs = ddsketch.DDSketch(relative_accuracy=RELATIVE_ACCURACY)
    for v in values:
        theirs.add(v)
    ours = QuantileSketch.of(values)
    for q, got in zip((0.5, 0.95, 0.99), ours.quantiles((0.5, 0.95, 0.99)), strict=True):
        assert got == pytest.approx(theirs.get_quantile_value(q), rel=2 * RELATIVE_ACCURACY)
