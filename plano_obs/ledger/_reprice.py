"""Pricing every stored call again with today's catalog, and saying what changed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from plano_obs.analytics import usd_to_nano
from plano_obs.ledger._ledger import Ledger
from plano_obs.ledger._rollups import Rollups
from plano_obs.ledger._rows import DRIFT, FAILED, FLAGGED, id_bytes
from plano_obs.model import CallCost, LLMCall

__all__ = ["RepriceReport", "reprice"]

_BATCH = 5_000


class _Pricer(Protocol):
    def price(self, call: LLMCall) -> CallCost: ...

    def info(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class RepriceReport:
    """What a reprice changed: totals in nano-dollars, before and after."""

    calls: int
    changed: int
    unpriced: int
    before_nano: int
    after_nano: int
    pricing_source: str
    #: (model, before, after) of the models whose total changed, largest change first.
    by_model: list[tuple[str, int, int]] = field(default_factory=list)


def reprice(ledger: Ledger, pricer: _Pricer, *,
            clock: Callable[[], float] = time.time) -> RepriceReport:
    """Price every call with ``pricer``, keep the new cost and its source in each row, derive
    the rows again, and log the change in ``reprices``."""
    source = str(getattr(pricer.info(), "source", None) or "unknown")
    calls = changed = unpriced = before = after = 0
    models: dict[str, list[int]] = {}
    batch: list[tuple[Any, ...]] = []

    def flush() -> None:
        with ledger.transaction() as con:
            con.executemany("UPDATE calls SET cost_nano = ?, catalog_cost_nano = ?, "
                            f"price_id = ?, flags = ? WHERE {which}", [
                                (cost, catalog, _price(ledger, key), flags, *call_id)
                                for cost, catalog, key, flags, call_id in batch])
        batch.clear()

    # A file's calls_after yields ids; a shared database's yields transaction positions, so
    # a call there is named by its span (unique there).
    which = "trace_id = ? AND span_id = ?" if ledger.shared else "id = ?"
    for position, call in ledger.calls_after(-(2**62) if ledger.shared else 0):
        call_id = (id_bytes(call.trace_id), id_bytes(call.span_id)) if ledger.shared else (
            position,)
        calls += 1
        old = call.cost
        old_nano = None if old is None or old.cost_usd is None else usd_to_nano(old.cost_usd)
        fresh = pricer.price(call)
        new_nano = None if fresh.cost_usd is None else usd_to_nano(fresh.cost_usd)
        if new_nano is None:
            unpriced += 1
        before += old_nano or 0
        after += new_nano or 0
        old_key = None if old is None else (old.source, old.catalog_entry, old.pricing_source)
        new_key = (fresh.source, fresh.catalog_entry, fresh.pricing_source)
        if old_nano != new_nano or old_key != new_key:
            changed += 1
            per_model = models.setdefault(call.model or "unknown", [0, 0])
            per_model[0] += old_nano or 0
            per_model[1] += new_nano or 0
        row_flags = (FLAGGED if call.flagged else 0) | (FAILED if call.is_error else 0) | (
            DRIFT if fresh.drift else 0)
        catalog = None if fresh.catalog_cost_usd is None else usd_to_nano(fresh.catalog_cost_usd)
        priced = fresh.source is not None or fresh.catalog_entry is not None
        batch.append((new_nano, catalog, new_key if priced else None, row_flags, call_id))
        if len(batch) >= _BATCH:
            flush()
    if batch:
        flush()
    Rollups(ledger).rebuild()
    with ledger.transaction() as con:
        con.execute("INSERT INTO reprices VALUES (?, ?, ?, ?, ?)",
                    (int(clock() * 1e9), source, calls, before, after))
    by_model = sorted(((m, b, a) for m, (b, a) in models.items() if a != b),
                      key=lambda x: -abs(x[2] - x[1]))
    return RepriceReport(calls, changed, unpriced, before, after, source, by_model)


def _price(ledger: Ledger, key: tuple[str | None, str | None, str | None] | None) -> int | None:
    return None if key is None else ledger._price_id(key)
