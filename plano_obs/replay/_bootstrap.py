"""Seeded bootstrap, vectorised: intervals of sums (and ratios of sums) and of quantiles.

* Sums, up to :data:`EXACT_ROWS` calls: the plain bootstrap. Resampling ``n`` calls with
  replacement is a multinomial draw over the calls; it is drawn as a multinomial over blocks of
  4,096 consecutive calls, then uniform draws inside each block (the same distribution), so the
  gathers stay in cache.
* Sums, beyond that: the bag of little bootstraps (Kleiner, Talwalkar, Sarkar and Jordan,
  "A scalable bootstrap for massive data", JRSS-B 2014). Each of ``s`` subsamples of
  ``b = max(3,000, n^0.6)`` calls drawn without replacement is resampled ``r`` times with
  multinomial weights that sum to ``n``, so every replicate is a full-size resample restricted
  to ``b`` distinct calls; the interval is the estimate plus the mean, over subsamples, of the
  percentiles of each replicate's deviation from its subsample's value. The work is
  ``iterations x b`` instead of ``iterations x n`` (1M calls x 1,000 iterations: 4M weights
  instead of 1G resampled calls), with the bootstrap's accuracy.
* Quantiles: the resampled count of values at or below a point is binomial, and given the
  counts at two points the count at a point between them is binomial too. A binary search over
  the sorted values therefore samples only the counts it visits: about 20 binomial draws per
  pool and replicate instead of a resample of every value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "EXACT_ROWS",
    "percentile_interval",
    "quantile_replicates",
    "sum_intervals",
    "sum_replicates",
    "weighted_quantile",
]

#: Up to this many rows, sums get the plain bootstrap; above, the bag of little bootstraps.
EXACT_ROWS = 50_000
_BLB_GAMMA = 0.6
_BLB_MIN_SUBSAMPLE = 3_000
_BLB_RESAMPLES = 100

_BLOCK_BITS = 12
_BLOCK = 1 << _BLOCK_BITS
#: Relative slack when comparing a cumulative weight with its target share.
_EPS = 1e-12


def sum_replicates(columns: Sequence[np.ndarray], iterations: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of each column's sum, resampling rows jointly: (iterations, k)."""
    n = len(columns[0])
    out = np.empty((iterations, len(columns)), dtype=np.float64)
    if n == 0:
        out.fill(0.0)
        return out
    if n <= _BLOCK:
        # Small samples: plain uniform resampling, many replicates per batch of draws.
        per_batch = max(1, (1 << 20) // n)
        for first in range(0, iterations, per_batch):
            count = min(per_batch, iterations - first)
            picks = rng.integers(0, n, size=(count, n))
            for k, column in enumerate(columns):
                out[first:first + count, k] = np.take(column, picks).sum(axis=1)
        return out
    full = n >> _BLOCK_BITS
    rest = n - (full << _BLOCK_BITS)
    sizes = np.full(full + (1 if rest else 0), _BLOCK, dtype=np.float64)
    if rest:
        sizes[-1] = rest
    starts = (np.arange(len(sizes), dtype=np.int64) << _BLOCK_BITS)
    probs = sizes / n
    gathered = np.empty(n, dtype=np.float64)
    for it in range(iterations):
        counts = rng.multinomial(n, probs)
        in_full = int(counts[:full].sum())
        offsets = np.empty(n, dtype=np.int64)
        if in_full:
            raw = rng.integers(0, 1 << 16, size=in_full, dtype=np.uint16)
            np.bitwise_and(raw, _BLOCK - 1, out=raw)
            offsets[:in_full] = raw
        if rest:
            offsets[in_full:] = rng.integers(0, rest, size=n - in_full)
        offsets += np.repeat(starts, counts)
        for k, column in enumerate(columns):
            np.take(column, offsets, out=gathered)
            out[it, k] = gathered.sum()
    return out


Statistic = Callable[[np.ndarray], np.ndarray]


def sum_intervals(columns: Sequence[np.ndarray], statistics: Sequence[Statistic],
                  iterations: int, rng: np.random.Generator, confidence: float = 0.95, *,
                  exact_rows: int | None = None, min_subsample: int = _BLB_MIN_SUBSAMPLE
                  ) -> tuple[list[tuple[float | None, float | None]], str]:
    """Intervals of statistics of the column sums (each maps sums (..., k) to values (...)).

    Returns the interval of each statistic (None where it has no finite replicate) and the
    method in words.
    """
    n = len(columns[0])
    if n <= (EXACT_ROWS if exact_rows is None else exact_rows):
        replicates = sum_replicates(columns, iterations, rng)
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = [percentile_interval(stat(replicates), confidence) for stat in statistics]
        return exact, "bootstrap"
    matrix = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1)
    b = min(n, max(min_subsample, int(np.ceil(n ** _BLB_GAMMA))))
    per = min(iterations, _BLB_RESAMPLES)
    subsamples = -(-iterations // per)
    tail = (1.0 - confidence) / 2.0
    lows: list[list[float]] = [[] for _ in statistics]
    highs: list[list[float]] = [[] for _ in statistics]
    uniform = np.full(b, 1.0 / b)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimates = [stat(matrix.sum(axis=0)) for stat in statistics]
        for j in range(subsamples):
            resamples = min(per, iterations - j * per)
            sub = matrix[rng.choice(n, size=b, replace=False)]
            sums = rng.multinomial(n, uniform, size=resamples).astype(np.float64) @ sub
            centre = sub.sum(axis=0) * (n / b)
            for i, stat in enumerate(statistics):
                deviations = stat(sums) - stat(centre)
                deviations = deviations[np.isfinite(deviations)]
                if deviations.size:
                    low, high = np.quantile(deviations, [tail, 1.0 - tail])
                    lows[i].append(float(low))
                    highs[i].append(float(high))
    bounds: list[tuple[float | None, float | None]] = []
    for i, estimate in enumerate(estimates):
        if not lows[i] or not np.isfinite(estimate):
            bounds.append((None, None))
        else:
            bounds.append((float(estimate + np.mean(lows[i])),
                           float(estimate + np.mean(highs[i]))))
    method = (f"bag of little bootstraps: {subsamples} subsamples of {b:,} calls, "
              f"{per} full-size resamples each")
    return bounds, method


def _threshold(weights: np.ndarray, sizes: np.ndarray, q: float) -> float:
    total = float((weights * sizes).sum())
    return q * total - _EPS * total


def weighted_quantile(pools: Sequence[np.ndarray], weights: Sequence[float],
                      q: float) -> float | None:
    """The smallest value whose cumulative weight reaches ``q`` of the whole (sorted pools)."""
    kept = [(p, w) for p, w in zip(pools, weights, strict=True) if len(p) and w > 0]
    if not kept:
        return None
    if len(kept) == 1:
        pool = kept[0][0]
        k = max(1, int(np.ceil(q * len(pool) - _EPS * len(pool))))
        return float(pool[min(k, len(pool)) - 1])
    support = np.unique(np.concatenate([p for p, _ in kept]))
    w = np.array([wt for _, wt in kept])
    cum = sum(wt * np.searchsorted(p, support, side="right") for p, wt in kept)
    sizes = np.array([len(p) for p, _ in kept], dtype=np.float64)
    j = int(np.searchsorted(cum, _threshold(w, sizes, q), side="left"))
    return float(support[min(j, len(support) - 1)])


def quantile_replicates(cells: Sequence[np.ndarray],
                        weigh: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], q: float,
                        iterations: int, rng: np.random.Generator) -> np.ndarray | None:
    """Bootstrap replicates of a weighted quantile over cells of sorted values.

    Each replicate resamples every value jointly (a multinomial over the cells, then uniform
    draws inside each), asks ``weigh(counts)`` for the weight of one draw of each cell given the
    replicate's cell counts ((iterations, cells) -> weights of that shape, and which replicates
    are valid), and finds the smallest value whose cumulative weight reaches ``q`` of the
    whole. NaN where a replicate is invalid or has no weight.
    """
    sizes = np.array([len(c) for c in cells], dtype=np.int64)
    total = int(sizes.sum())
    if total == 0:
        return None
    counts = rng.multinomial(total, sizes / total, size=iterations)
    raw_weights, valid = weigh(counts)
    weights = np.asarray(raw_weights, dtype=np.float64).T  # (cells, iterations)
    live = [i for i in range(len(cells)) if sizes[i] and bool((weights[i] > 0).any())]
    if not live:
        return np.full(iterations, np.nan)
    support = np.unique(np.concatenate([cells[i] for i in live]))
    w = weights[live]
    n_hi = counts.T[live].astype(np.int64)
    whole = (w * n_hi).sum(axis=0)
    threshold = q * whole - _EPS * whole
    # Population counts at or below each support value, per cell: (cells, support).
    population = np.stack([np.searchsorted(cells[i], support, side="right") for i in live])
    lo = np.full(iterations, -1, dtype=np.int64)
    hi = np.full(iterations, len(support) - 1, dtype=np.int64)
    n_lo = np.zeros_like(n_hi)
    pop_lo = np.zeros_like(n_hi)
    pop_hi = np.repeat(sizes[live][:, None], iterations, axis=1)
    while True:
        active = hi - lo > 1
        if not active.any():
            break
        mid = np.where(active, (lo + hi) // 2, hi)
        pop_mid = population[:, mid]
        span = pop_hi - pop_lo
        share = np.divide(pop_mid - pop_lo, span, out=np.zeros(span.shape), where=span > 0)
        n_mid = n_lo + rng.binomial(n_hi - n_lo, np.clip(share, 0.0, 1.0))
        reached = (w * n_mid).sum(axis=0) >= threshold
        go_low = active & reached
        go_high = active & ~reached
        hi = np.where(go_low, mid, hi)
        n_hi = np.where(go_low, n_mid, n_hi)
        pop_hi = np.where(go_low, pop_mid, pop_hi)
        lo = np.where(go_high, mid, lo)
        n_lo = np.where(go_high, n_mid, n_lo)
        pop_lo = np.where(go_high, pop_mid, pop_lo)
    return np.where((whole > 0) & valid, support[hi], np.nan)


def percentile_interval(replicates: np.ndarray | None, confidence: float = 0.95
                        ) -> tuple[float | None, float | None]:
    """The percentile interval of finite replicates; (None, None) when there are none."""
    if replicates is None:
        return None, None
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)
