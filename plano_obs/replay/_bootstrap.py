"""Seeded bootstrap, vectorised: replicates of sums and of mixture quantiles.

Both samplers draw from the exact bootstrap distribution without materialising every
resample as random accesses over the whole data:

* Sums: resampling ``n`` calls with replacement is a multinomial draw over the calls. It is
  drawn in two stages, a multinomial over blocks of 4,096 consecutive calls and then uniform
  draws inside each block, which is the same distribution; the draws of one block land in a
  few dozen kilobytes, so the gathers stay in cache (several times faster at 1M calls).
* Quantiles: the resampled count of values at or below a point is binomial, and given the
  counts at two points the count at a point between them is binomial too. A binary search over
  the sorted values therefore samples only the counts it visits: about 20 binomial draws per
  pool and replicate instead of a resample of every value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["percentile_interval", "quantile_replicates", "sum_replicates", "weighted_quantile"]

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
