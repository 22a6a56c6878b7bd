"""Safe text and number formatting for the console.

Span data is shown literally: it is never parsed as markup, and ANSI escapes and control
characters are removed before anything reaches the terminal. Unknown values read as ``—``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus

from rich.text import Text

from plano_obs.model import LLMCall

__all__ = [
    "CALL_COST_DIGITS",
    "DASH",
    "age",
    "clean",
    "count",
    "model_text",
    "has_usage",
    "missing_cost",
    "ms",
    "pct",
    "plural",
    "safe",
    "status_text",
    "tokens",
    "tokens_per_second",
    "usd",
    "usd_decimals",
    "usd_fixed",
]

DASH = "—"

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[@-_]"  # any other two-byte escape
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean(value: object, limit: int = 200) -> str:
    """Plain one-line text: no escapes or control characters, at most ``limit`` characters."""
    if value is None:
        return DASH
    text = _CONTROL.sub(" ", _ANSI.sub("", str(value)))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def safe(value: object, style: str = "", limit: int = 200) -> Text:
    """A Rich ``Text`` holding ``value`` literally (markup-like text stays as typed)."""
    return Text(clean(value, limit), style=style, no_wrap=True, overflow="ellipsis")


def usd(value: float | None, *, compact: bool = False) -> str:
    """Dollars with enough digits for tiny per-call costs (``compact``: at most 4 decimals)."""
    if value is None:
        return DASH
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if compact:
        return f"${value:.4f}" if abs(value) >= 0.01 else f"${value:.5f}"
    return f"${value:.6f}".rstrip("0").rstrip(".") if abs(value) >= 1e-6 else f"${value:.2e}"


def usd_decimals(values: Iterable[float | None], significant: int = 2) -> int:
    """Decimals one cost column uses for all its rows: enough for its smallest non-zero cost
    to show ``significant`` digits, between 2 and 6 (the most ``usd`` ever shows)."""
    smallest = min((abs(v) for v in values if v), default=None)
    if smallest is None:
        return 2
    return max(2, min(6, significant - 1 - math.floor(math.log10(smallest))))


#: Significant digits of the smallest cost in a column of single calls: a call's cost reads
#: there as it does on its own (``usd``), where a trailing zero would look like a cut digit.
CALL_COST_DIGITS = 3


def usd_fixed(value: float | None, decimals: int) -> str:
    """Dollars with exactly ``decimals`` decimals and thousands separators (unknown: —)."""
    return DASH if value is None else f"${value:,.{decimals}f}"


def plural(n: int | None, noun: str, nouns: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``1,234 calls`` (unknown: ``— calls``)."""
    return f"{count(n)} {noun if n == 1 else nouns or noun + 's'}"


def has_usage(call: LLMCall) -> bool:
    """True when ``call`` reported any token count (failed calls usually report none)."""
    return any(n is not None for n in (
        call.prompt_tokens, call.completion_tokens, call.cached_input_tokens,
        call.cache_creation_tokens, call.reasoning_tokens))


def missing_cost(unpriced: int, no_usage: int) -> str:
    """Why some calls have no cost: ``12 unpriced · 3 no usage`` (empty when all have one).

    ``unpriced`` counts every call without a cost; ``no_usage`` those of them that reported
    no tokens, so only the rest are calls of a model without a price.
    """
    parts = []
    if unpriced - no_usage > 0:
        parts.append(f"{count(unpriced - no_usage)} unpriced")
    if no_usage > 0:
        parts.append(f"{count(no_usage)} no usage")
    return " · ".join(parts)


def ms(value: float | None) -> str:
    """A duration in ms, as ``850 ms`` or ``3.43 s``."""
    if value is None:
        return DASH
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


def count(value: int | None) -> str:
    """An integer with thousands separators."""
    return DASH if value is None else f"{value:,}"


def tokens(value: int | None) -> str:
    """A token count, compact above ten thousand (``3.95M``, ``519k``)."""
    if value is None:
        return DASH
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,}"


def append_tokens(text: Text, inp: int | None, cached: int | None, out: int | None) -> None:
    """Append ``in N · cached N · out N`` (unknown as —) to ``text``."""
    text.append("in ", style="dim")
    text.append(tokens(inp))
    text.append(" · cached ", style="dim")
    text.append(tokens(cached))
    text.append(" · out ", style="dim")
    text.append(tokens(out))


def pct(value: float | None, digits: int = 1) -> str:
    """A percentage (``value`` already in 0..100)."""
    return DASH if value is None else f"{value:.{digits}f}%"


def age(then: float | datetime | None, now: float) -> str:
    """How long ago, for people: ``4s``, ``12m``, ``3h``, ``2d`` (``now`` in unix seconds)."""
    if then is None:
        return DASH
    seconds = now - (then.timestamp() if isinstance(then, datetime) else then)
    if seconds < 0:
        return "now"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"


def ago(then: float | datetime | None, now: float) -> str:
    """``4s ago``, or ``now`` for a time not yet past (a sender's clock a little ahead)."""
    text = age(then, now)
    return text if text in ("now", DASH) else f"{text} ago"


def status_text(code: int | None, *, reason: bool = False) -> Text:
    """An HTTP status coloured by class: green 2xx, yellow 4xx, red 5xx."""
    if code is None:
        return Text(DASH, style="dim")
    style = "red" if code >= 500 else "yellow" if code >= 400 else "green"
    label = str(code)
    if reason:
        try:
            label += " " + HTTPStatus(code).phrase
        except ValueError:
            pass
    return Text(label, style=style)


def tokens_per_second(call: LLMCall) -> float | None:
    """Completion tokens over generation time (duration minus time to first token)."""
    if not call.completion_tokens or not call.duration_ms:
        return None
    generating_ms = call.duration_ms - (call.ttft_ms or 0.0)
    return call.completion_tokens / (generating_ms / 1000) if generating_ms > 0 else None


def model_text(call: LLMCall, limit: int = 60) -> Text:
    """``requested → resolved`` in at most ``limit`` cells, or the model the client named."""
    model = clean(call.model, limit)
    out = Text(no_wrap=True, overflow="ellipsis")
    if call.model_requested and call.model_requested != call.model:
        room = max(8, limit - len(model) - 3)
        out.append(clean(call.model_requested, room), style="dim")
        out.append(" → ", style="dim")
    out.append(model, style="bold")
    return out
