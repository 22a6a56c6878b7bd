"""Calls and a small price list with round rates, for the what-if tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from plano_obs.model import LLMCall, Signals
from plano_obs.pricing import Catalog, PriceEntry, Pricer, Rates
from plano_obs.replay import Window

T0_NS = 1_790_000_000_000_000_000
_serial = itertools.count(1)

#: USD per million tokens: round numbers, so expected costs can be written down.
ENTRIES = (
    PriceEntry("openai", "gpt-big", Rates(10.0, 30.0, cache_read=5.0)),
    PriceEntry("openai", "gpt-small", Rates(1.0, 2.0, cache_read=0.5)),
    PriceEntry("anthropic", "claude-fast", Rates(2.0, 4.0, cache_read=0.2, cache_write=2.5)),
    PriceEntry("anthropic", "claude-wide", Rates(3.0, 15.0, cache_read=0.3, cache_write=3.75),
               tiers=((200_000, Rates(6.0, 22.5, cache_read=0.6, cache_write=7.5)),)),
    PriceEntry("openai", "o-think", Rates(2.0, 8.0, cache_read=1.0, reasoning=12.0)),
)


def pricer() -> Pricer:
    """A pricer that knows only ENTRIES and never touches the network."""
    return Pricer(Catalog(ENTRIES, "test prices"), offline=True)


def call(price_with: Pricer | None = None, *, at_s: float = 0.0, **fields: Any) -> LLMCall:
    """An OK chat-completions call on gpt-big; fields override; priced when a pricer is given."""
    n = next(_serial)
    end_ns = T0_NS + int(at_s * 1e9)
    values: dict[str, Any] = dict(
        model="gpt-big", provider="openai", api_path="/v1/chat/completions",
        route="code generation", status_code=200, duration_ms=1000.0, prompt_tokens=1000,
        completion_tokens=100)
    quality = fields.pop("quality_score", None)
    values.update(fields)
    c = LLMCall(f"{n:032x}", f"{n:016x}", None, "POST /v1/chat/completions", "plano(llm)",
                end_ns - 1_000_000, end_ns, f"req-{n}", **values)
    if quality is not None:
        c.signals = Signals(quality="good" if quality >= 50 else "poor", quality_score=quality)
    if price_with is not None:
        c.cost = price_with.price(c)
    return c


def window(name: str = "all", start_s: float | None = None, end_s: float = 10**6) -> Window:
    """A window in seconds after T0."""
    def at(s: float) -> datetime:
        return datetime.fromtimestamp(T0_NS / 1e9 + s, UTC)

    return Window(name, None if start_s is None else at(start_s), at(end_s))
