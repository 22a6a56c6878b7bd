"""The Pricer: layered price sources, background refresh, and cost for each call."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from plano_obs.model import CallCost, LLMCall
from plano_obs.pricing._catalog import Catalog, PriceEntry
from plano_obs.pricing._cost import AMBIGUOUS_PRICE, Ambiguous, CompiledPrice, combine
from plano_obs.pricing._fetch import Fetcher, FetchResult
from plano_obs.pricing._resolve import AMBIGUOUS, PRICED, Explanation, Resolution, Resolver
from plano_obs.pricing._snapshot import load_snapshot
from plano_obs.pricing._sources import (
    CostSource,
    Overrides,
    PlanoConfig,
    load_plano_config,
    load_pricing_file,
)

__all__ = ["Pricer", "PricingInfo"]

log = logging.getLogger("plano_obs.pricing")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class PricingInfo:
    """Which prices are active: their source, when they were fetched, how many models."""

    source: str
    fetched_at: datetime | None
    models: int
    overrides: int = 0
    aliases: int = 0

    def age_seconds(self, now: float | None = None) -> float | None:
        """Seconds since the prices were fetched (or built, for the snapshot)."""
        if self.fetched_at is None:
            return None
        now_s = time.time() if now is None else now
        return max(0.0, now_s - self.fetched_at.timestamp())

    def age_text(self, now: float | None = None) -> str:
        """The age for people: ``just now``, ``5 min``, ``3 h``, ``12 days``, ``unknown``."""
        age = self.age_seconds(now)
        if age is None:
            return "unknown"
        if age < 60:
            return "just now"
        if age < 3600:
            return f"{int(age // 60)} min"
        if age < 2 * 86400:
            return f"{int(age // 3600)} h"
        return f"{int(age // 86400)} days"

    def summary(self, now: float | None = None) -> str:
        """One line for a header or a report, e.g. ``models.dev, 3 h old, 4,141 models``."""
        age = self.age_text(now)
        text = f"{self.source}, {age} old" if age not in ("unknown", "just now") else (
            f"{self.source}, {age}" if age == "just now" else self.source)
        text += f", {self.models:,} models"
        if self.overrides:
            text += f", {self.overrides} overrides"
        return text


@dataclass(frozen=True, slots=True)
class _State:
    """Everything price() reads; replaced whole, so a refresh swaps it atomically."""

    catalog: Catalog
    resolver: Resolver
    memo: dict[tuple[str | None, str | None, str | None], CompiledPrice | Ambiguous | None]
    compiled: dict[int, CompiledPrice]


def _call_resolution(resolver: Resolver, call: LLMCall) -> Resolution:
    found = resolver.resolution(call.model, call.provider)
    requested = call.model_requested
    if found.status == PRICED or not requested or requested.startswith("router:") or (
            requested == call.model):
        return found
    # The model that ran has no price of its own: what the client asked for (an alias) may.
    asked = resolver.resolution(requested, call.provider)
    if asked.status == PRICED or (asked.status == AMBIGUOUS and found.status != AMBIGUOUS):
        return asked
    return found


class Pricer:
    """Prices LLM calls; ``Pricer()`` uses the embedded snapshot and never touches the network."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        pricing_file: str | Path | None = None,
        plano_config: str | Path | None = None,
        cache_dir: str | Path | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        offline: bool = False,
        connect_timeout_s: float = 2.0,
        total_timeout_s: float = 5.0,
    ) -> None:
        self.warnings: list[str] = []
        self._overrides = load_pricing_file(pricing_file) if pricing_file else Overrides()
        self._config = load_plano_config(plano_config) if plano_config else PlanoConfig()
        # The user's own file wins over the Plano config.
        self._aliases = {**self._config.aliases, **self._overrides.aliases}
        self._offline = offline
        self._clock = clock
        self._fetcher = Fetcher(
            self._config.cost_source or CostSource(),
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
            http_client=http_client, clock=clock,
            connect_timeout_s=connect_timeout_s, total_timeout_s=total_timeout_s)
        self._refresh_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = self._build(catalog if catalog is not None else load_snapshot())

    def _build(self, catalog: Catalog) -> _State:
        resolver = Resolver(catalog.entries, self._overrides.entries, self._aliases)
        return _State(catalog, resolver, {}, {})

    # -- lookups -------------------------------------------------------------------------------

    @property
    def cost_source(self) -> CostSource:
        """The remote catalog a refresh fetches."""
        return self._fetcher.source

    @property
    def aliases(self) -> dict[str, str]:
        """Alias -> target model, from the Plano config and the pricing file."""
        return dict(self._aliases)

    def entries(self) -> tuple[PriceEntry, ...]:
        """The active catalog's entries followed by the pricing file's."""
        return self._state.catalog.entries + self._overrides.entries

    def resolve(self, model: str, provider: str | None = None) -> PriceEntry | None:
        """The entry that prices ``model`` sent through ``provider``, or None."""
        return self._state.resolver.resolve(model, provider)

    def resolution(self, model: str, provider: str | None = None) -> Resolution:
        """How ``model`` sent through ``provider`` is priced: its entry, ambiguous or unpriced."""
        return self._state.resolver.resolution(model, provider)

    def explain(self, model: str, provider: str | None = None) -> Explanation:
        """Every catalog entry that matches ``model`` and why one won or none did."""
        return self._state.resolver.explain(model, provider)

    def call_resolution(self, call: LLMCall) -> Resolution:
        """How ``call`` is priced: its model, else what the client requested (not a router)."""
        return _call_resolution(self._state.resolver, call)

    def _lookup(self, state: _State, call: LLMCall) -> CompiledPrice | Ambiguous | None:
        found = _call_resolution(state.resolver, call)
        entry = found.entry
        if entry is None:
            return AMBIGUOUS_PRICE if found.status == AMBIGUOUS else None
        compiled = state.compiled.get(id(entry))
        if compiled is None:
            compiled = state.compiled[id(entry)] = CompiledPrice(entry)
        return compiled

    def price(self, call: LLMCall) -> CallCost:
        """The cost of one call; unknown (``cost_usd=None``) when no price exists. Never raises."""
        state = self._state
        try:
            key = (call.model, call.model_requested, call.provider)
            price = state.memo.get(key, _MISSING)
            if price is _MISSING:
                price = self._lookup(state, call)
                if len(state.memo) >= 50_000:
                    state.memo.clear()
                state.memo[key] = price
            return combine(price, call)  # type: ignore[arg-type]
        except Exception:  # a bad value in one span must not stop ingest
            log.exception("pricing failed for model %r", call.model)
            return CallCost(cost_usd=None, source=None)

    def info(self) -> PricingInfo:
        """The active source, its age and the number of priced models."""
        catalog = self._state.catalog
        return PricingInfo(catalog.source, catalog.fetched_at, len(catalog),
                           len(self._overrides.entries), len(self._aliases))

    # -- refresh -------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)

    def _merge(self, result: FetchResult) -> Catalog | None:
        fetched = result.catalog
        if fetched is None:
            return None
        stale = " (stale)" if result.origin == "stale cache" else ""
        if self._fetcher.source.provider == "digitalocean":
            # DigitalOcean only prices its own models; the rest keeps the snapshot's prices.
            base = load_snapshot()
            return base.replace_provider("digitalocean", fetched.entries,
                                         f"digitalocean{stale} + embedded snapshot",
                                         fetched.fetched_at)
        return Catalog(fetched.entries, f"{fetched.source}{stale}", fetched.fetched_at,
                       fetched.dropped, fetched.providers)

    def refresh(self, *, force: bool = False) -> bool:
        """Load the remote catalog now (cache first unless ``force``); True if prices changed."""
        with self._refresh_lock:
            result = self._fetcher.load(force=force, offline=self._offline)
            for message in result.warnings:
                self._warn(message)
            catalog = self._merge(result)
            if catalog is None:
                return False
            if catalog.dropped:
                self._warn(f"pricing: {catalog.source}: ignored {catalog.dropped} entries "
                           f"with absurd rates")
            self._state = self._build(catalog)
            log.info("pricing: %s", self.info().summary(self._clock()))
            return True

    def start_background_refresh(self) -> threading.Thread:
        """Refresh in a daemon thread; the current prices serve until it succeeds."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._thread = threading.Thread(target=self._refresh_quietly, name="pricing-refresh",
                                        daemon=True)
        self._thread.start()
        return self._thread

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as e:  # the thread must never die noisily; the snapshot stays
            self._warn(f"pricing: refresh failed ({type(e).__name__}: {e})")
