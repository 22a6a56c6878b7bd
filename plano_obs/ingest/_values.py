"""OTLP attribute values as Python values, and the checked conversions every decode path uses.

Each converter takes an attribute's value (``None`` when absent) and its key (for the message),
returns the typed value or ``None`` (absent or empty: unknown, never 0), and raises ``Bad`` for a
value that cannot be used, which rejects the span.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "Bad",
    "MAX_DURATION_MS",
    "MAX_NAME_CHARS",
    "MAX_STRING_CHARS",
    "MAX_TOKENS",
    "any_value",
    "as_bool",
    "as_cost",
    "as_duration",
    "as_float",
    "as_int",
    "as_status",
    "as_str",
    "as_tokens",
    "attributes",
    "bound",
]

#: Attribute strings longer than this are cut (and marked with an ellipsis).
MAX_STRING_CHARS = 4096
MAX_NAME_CHARS = 512
#: Token counts above this are not a real request: reject rather than corrupt a total.
MAX_TOKENS = 10**10
MAX_DURATION_MS = 7 * 24 * 3600 * 1000.0


class Bad(ValueError):
    """One span holds a value that cannot be used."""


def bound(s: str, limit: int = MAX_STRING_CHARS) -> str:
    """``s``, cut to ``limit`` characters with an ellipsis when longer."""
    return s if len(s) <= limit else s[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def any_value(v: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (None when empty)."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return bound(v.string_value)
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def attributes(kvs: Any) -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict; a repeated key keeps its last value."""
    out: dict[str, Any] = {}
    for kv in kvs:  # any_value inlined for the scalars that make up nearly every attribute
        v = kv.value
        which = v.WhichOneof("value")
        if which == "string_value":
            s = v.string_value
            out[kv.key] = s if len(s) <= MAX_STRING_CHARS else bound(s)
        elif which == "int_value":
            out[kv.key] = v.int_value
        elif which == "bool_value":
            out[kv.key] = v.bool_value
        elif which == "double_value":
            out[kv.key] = v.double_value
        else:
            out[kv.key] = any_value(v)
    return out


def as_int(v: Any, key: str) -> int | None:
    """A whole number, from an int, a whole float or a numeral string."""
    if v is None:
        return None
    if type(v) is int:
        return v
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return int(s)
        except ValueError:
            try:
                v = float(s)
            except ValueError:
                raise Bad(f"{key}: not a number: {s[:40]!r}") from None
    if type(v) is float:
        if not math.isfinite(v) or v != int(v):
            raise Bad(f"{key}: not a whole number: {v!r}")
        return int(v)
    raise Bad(f"{key}: expected an integer, got {type(v).__name__}")


def as_float(v: Any, key: str) -> float | None:
    """A finite number, from an int, a float or a numeral string."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise Bad(f"{key}: expected a number, got a boolean")
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            v = float(s)
        except ValueError:
            raise Bad(f"{key}: not a number: {s[:40]!r}") from None
    if isinstance(v, int | float):
        f = float(v)
        if not math.isfinite(f):
            raise Bad(f"{key}: not a finite number: {v!r}")
        return f
    raise Bad(f"{key}: expected a number, got {type(v).__name__}")


def as_str(v: Any, key: str) -> str | None:
    """A non-empty string; numbers and booleans as their text."""
    t = type(v)
    if t is str:
        return v or None
    if v is None:
        return None
    if t is bool or t is int or t is float:
        return str(v)
    raise Bad(f"{key}: expected a string, got {t.__name__}")


def as_bool(v: Any, key: str) -> bool | None:
    """A boolean, also from ``"true"``/``"false"``/``"1"``/``"0"``/``"yes"``/``"no"`` and 0/1."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        if not s:
            return None
    if type(v) is int and v in (0, 1):
        return bool(v)
    raise Bad(f"{key}: expected a boolean, got {v!r}"[:120])


def as_tokens(v: Any, key: str) -> int | None:
    """A token count: a whole number from 0 to ``MAX_TOKENS``."""
    if type(v) is int and 0 <= v <= MAX_TOKENS:
        return v
    n = as_int(v, key)
    if n is not None:
        if n < 0:
            raise Bad(f"{key}: negative token count {n}")
        if n > MAX_TOKENS:
            raise Bad(f"{key}: absurd token count {n}")
    return n


def as_duration(v: Any, key: str) -> float | None:
    """Milliseconds, from 0 to a week."""
    f = as_float(v, key)
    if f is not None and not 0 <= f <= MAX_DURATION_MS:
        raise Bad(f"{key}: duration out of range: {f!r}")
    return f


def as_cost(v: Any, key: str) -> float | None:
    """US dollars, not negative."""
    f = as_float(v, key)
    if f is not None and f < 0:
        raise Bad(f"{key}: negative cost {f!r}")
    return f


def as_status(v: Any, key: str) -> int | None:
    """An HTTP status code, 100 to 599."""
    if type(v) is int and 100 <= v <= 599:
        return v
    code = as_int(v, key)
    if code is not None and not 100 <= code <= 599:
        raise Bad(f"{key}: not an HTTP status: {code}")
    return code
