"""Where a ledger lives, said without its secrets: a file path or a PostgreSQL URL.

Every place that shows a ledger location (header, status line, errors, logs, export
documents) goes through ``redact``, so a password given in the URL is never printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["DATABASE_SCHEMES", "is_database_url", "redact", "redact_text"]

#: URL schemes that select the PostgreSQL engine.
DATABASE_SCHEMES = ("postgresql://", "postgres://")
_SECRET_PARAMS = {"password", "sslpassword", "passfile", "sslkey"}
_SECRET_KV = re.compile(r"(?i)\b(password|sslpassword)\s*=\s*('[^']*'|\S+)")


def is_database_url(location: str | Path | None) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a ledger file."""
    return isinstance(location, str) and location.strip().lower().startswith(DATABASE_SCHEMES)


def redact(location: str | Path | None) -> str:
    """``location`` as it may be shown: a URL's password (and secret parameters) as ``***``."""
    if location is None:
        return ""
    text = str(location)
    if not is_database_url(text):
        return _SECRET_KV.sub(lambda m: f"{m.group(1)}=***", text)
    try:
        parts = urlsplit(text.strip())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            netloc = f"{userinfo}@{host}"
        query = parts.query
        if query:
            query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v)
                               for k, v in parse_qsl(query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not a URL after all: show no part of what may be a secret
        return text.split("://", 1)[0] + "://***"


def redact_text(text: str, location: str | Path | None) -> str:
    """``text`` (an error message, a log line) with ``location``'s secrets replaced."""
    if location is None:
        return text
    raw = str(location)
    if raw and raw in text:
        text = text.replace(raw, redact(raw))
    if is_database_url(raw):
        try:
            password = urlsplit(raw.strip()).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
    return _SECRET_KV.sub(lambda m: f"{m.group(1)}=***", text)
