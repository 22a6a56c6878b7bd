"""A mergeable, subtractable quantile sketch with bounded relative error (DDSketch's mapping).

Values land in logarithmic bins ``(gamma**(k-1), gamma**k]``; any quantile read back is within
``RELATIVE_ACCURACY`` of the exact one. The bin key is computed once per value and shared by every
rollup the value feeds, and bins subtract, so sliding windows never re-merge their history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["RELATIVE_ACCURACY", "QuantileSketch", "sketch_key", "key_value"]

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_MIN_VALUE = 1e-6  # at or below this a value is counted as zero
_ZERO_KEY = -(10**9)


def sketch_key(value: float) -> int:
    """The bin key of a non-negative value."""
    if value <= _MIN_VALUE:
        return _ZERO_KEY
    return math.ceil(math.log(value) / _LOG_GAMMA)


def key_value(key: int) -> float:
    """The representative value of a bin: within RELATIVE_ACCURACY of anything in it."""
    if key == _ZERO_KEY:
        return 0.0
    return 2.0 * _GAMMA**key / (_GAMMA + 1.0)


class QuantileSketch:
    """Bin counts of a set of values; supports add, merge, subtract and quantiles."""

    __slots__ = ("bins", "count")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.count = 0

    def add(self, value: float) -> None:
        """Add one value."""
        self.add_key(sketch_key(value))

    def add_key(self, key: int) -> None:
        """Add one value by its precomputed bin key."""
        bins = self.bins
        bins[key] = bins.get(key, 0) + 1
        self.count += 1

    def merge(self, other: QuantileSketch) -> None:
        """Add every value of another sketch."""
        bins = self.bins
        for k, n in other.bins.items():
            bins[k] = bins.get(k, 0) + n
        self.count += other.count

    def subtract(self, other: QuantileSketch) -> None:
        """Remove the values of a sketch previously merged into this one."""
        bins = self.bins
        for k, n in other.bins.items():
            left = bins.get(k, 0) - n
            if left > 0:
                bins[k] = left
            else:
                bins.pop(k, None)
        self.count = max(0, self.count - other.count)

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """Values at quantiles ``qs`` (ascending, 0..1); None when empty."""
        if self.count <= 0:
            return [None] * len(qs)
        ranks = [q * (self.count - 1) for q in qs]
        out: list[float | None] = []
        i = 0
        seen = 0
        keys = sorted(self.bins)
        for k in keys:
            seen += self.bins[k]
            while i < len(ranks) and seen > ranks[i]:
                out.append(key_value(k))
                i += 1
            if i == len(ranks):
                break
        while len(out) < len(qs):
            out.append(key_value(keys[-1]))
        return out

    @classmethod
    def of(cls, values: Iterable[float]) -> QuantileSketch:
        """A sketch of ``values``."""
        s = cls()
        for v in values:
            s.add(v)
        return s
