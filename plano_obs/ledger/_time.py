"""Ages (``30d``) and instants (``2026-01-05``, ``2026-01-05T10:00Z`` or ``24h`` ago) from flags."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["TimeError", "parse_age", "parse_instant"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NEVER = ("none", "forever", "off", "0")


class TimeError(ValueError):
    """A flag's value is not a time; the message is one line for the user."""


def parse_age(text: str, flag: str, *, allow_never: bool = False) -> float | None:
    """Seconds from ``'90m'``, ``'24h'``, ``'30d'``, ``'2w'``; None for ``none`` (keep all)."""
    value = text.strip().lower()
    if allow_never and value in _NEVER:
        return None
    m = _AGE.match(value)
    if m is None:
        never = " (or none)" if allow_never else ""
        raise TimeError(f"bad {flag} {text!r}: expected an age such as 24h, 7d or 30d{never}")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0:
        raise TimeError(f"bad {flag} {text!r}: must be more than zero")
    return seconds


def parse_instant(text: str, flag: str, *, now: float) -> int:
    """Unix nanoseconds of an ISO date or time (UTC unless it says otherwise) or of an age
    before ``now`` (``24h`` means 24 hours ago)."""
    value = text.strip()
    if _AGE.match(value.lower()):
        age = parse_age(value, flag)
        assert age is not None
        return int((now - age) * 1e9)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TimeError(f"bad {flag} {text!r}: expected an ISO date or time (2026-01-05, "
                        f"2026-01-05T10:00Z) or an age such as 24h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1_000_000) * 1000
