"""Every option in one typed place, filled from CLI flags and ``PLANO_OBS_*`` variables.

Flags win over the environment; the environment wins over the defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plano_obs.locations import is_database_url
from plano_obs.model import WINDOWS

__all__ = ["ENV_PREFIX", "NO_LEDGER", "Settings", "SettingsError", "default_ledger_path",
           "load_settings", "parse_age"]

ENV_PREFIX = "PLANO_OBS_"
#: ``--ledger none``: keep nothing on disk.
NO_LEDGER = "none"
_AGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d|w)\s*$")
_AGE_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: A browser origin: scheme, host and an optional port, nothing after.
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


class SettingsError(ValueError):
    """An option has a value that cannot be used; the message is one line for the user."""


class Settings(BaseModel):
    """Options of ``plano obs`` and its subcommands."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 for all)")
    port: int = Field(4317, ge=0, le=65535, description="OTLP/gRPC port (0 picks a free one)")
    http_port: int = Field(4318, ge=0, le=65535,
                           description="OTLP/HTTP port (0 picks a free one)")
    no_http: bool = Field(False, description="do not listen for OTLP/HTTP")
    cors_origin: list[str] = Field(default_factory=list,
                                   description="browser origins allowed to send OTLP/HTTP")
    max_message_mb: float = Field(16.0, gt=0, le=1024, description="largest accepted request")
    max_pending_mb: float = Field(64.0, gt=0, le=8192, description="decode backlog before refusals")
    capacity: int = Field(50_000, ge=100, description="LLM calls held for lists and drilldown")
    trace_capacity: int = Field(5_000, ge=10, description="recent traces held with all spans")
    kept_trace_capacity: int = Field(2_000, ge=10, description="flagged/failed traces held")
    refresh_ms: int = Field(500, ge=50, le=60_000, description="UI refresh interval")
    window: str = Field("all", description=f"time window: {', '.join(WINDOWS)}")
    demo: bool = Field(False, description="send built-in demo traffic to the receiver")
    demo_rate: int = Field(120, ge=1, le=100_000, description="demo calls per minute")
    seed: int = Field(7, description="demo traffic seed")
    pricing_file: Path | None = Field(None, description="pricing overrides (YAML or JSON)")
    config: Path | None = Field(None, description="Plano config (model_aliases, cost source)")
    offline: bool = Field(False, description="never fetch remote pricing")
    plain: bool = Field(False, description="print a status line instead of the console")
    ledger: str | None = Field(None, description="ledger file, or none to keep nothing on disk")
    retain: str = Field("30d", description="keep ledger calls this long (none: forever)")
    max_ledger_mb: float = Field(4096.0, gt=0, description="prune the oldest days above this")
    no_receiver: bool = Field(False, description="receive nothing: only read the ledger")
    poll_ms: int = Field(1000, ge=50, le=600_000,
                         description="how often a shared ledger is read for new calls")

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        if v not in WINDOWS:
            raise ValueError(f"must be one of {', '.join(WINDOWS)}")
        return v

    @field_validator("retain")
    @classmethod
    def _retain(cls, v: str) -> str:
        if v.strip().lower() != NO_LEDGER:
            parse_age(v)
        return v

    @field_validator("cors_origin")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for origin in v:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin such as http://localhost:3000 "
                                 f"(scheme, host and port, no path), or *")
        return v

    @model_validator(mode="after")
    def _ports_differ(self) -> Settings:
        if not self.no_http and self.port and self.port == self.http_port:
            raise ValueError(f"--port and --http-port are both {self.port}; OTLP/gRPC and "
                             f"OTLP/HTTP need ports of their own")
        return self

    @property
    def ledger_path(self) -> Path | str | None:
        """Where calls are kept: ``--ledger`` (a file path, or a ``postgresql://`` URL as it
        was given), else the data directory (a file of its own for demo traffic, so it never
        mixes with real calls); None for ``--ledger none``."""
        if self.ledger is not None and self.ledger.strip().lower() == NO_LEDGER:
            return None
        if is_database_url(self.ledger):
            return str(self.ledger).strip()
        if self.ledger:
            return Path(self.ledger).expanduser()
        path = default_ledger_path()
        return path.with_name("demo-ledger.sqlite") if self.demo else path

    @property
    def retain_seconds(self) -> float | None:
        """``--retain`` in seconds; None keeps every call."""
        return None if self.retain.strip().lower() == NO_LEDGER else parse_age(self.retain)

    @property
    def max_ledger_bytes(self) -> int:
        return int(self.max_ledger_mb * 1024 * 1024)

    @property
    def max_message_bytes(self) -> int:
        return int(self.max_message_mb * 1024 * 1024)

    @property
    def max_pending_bytes(self) -> int:
        return int(self.max_pending_mb * 1024 * 1024)


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        annotation = Settings.model_fields[name].annotation
        if annotation is bool:
            values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif annotation == list[str]:  # several values: separated by commas or spaces
            values[name] = [v for v in re.split(r"[,\s]+", raw) if v]
        else:
            values[name] = raw
    return values


def load_settings(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags (None = not given) over ``PLANO_OBS_*`` variables over defaults."""
    values = _env_values(os.environ if env is None else env)
    values.update({k: v for k, v in (flags or {}).items() if v is not None and k in
                   Settings.model_fields})
    try:
        return Settings(**values)
    except ValidationError as e:
        err = e.errors()[0]
        if not err["loc"]:  # a rule across options: its message names them
            raise SettingsError(_explain(err)) from None
        name = str(err["loc"][0])
        flag = "--" + name.replace("_", "-")
        value = err.get("input")
        shown = _number(value) if isinstance(value, int | float) else repr(value)
        raise SettingsError(
            f"bad {flag} (or {ENV_PREFIX}{name.upper()}) {shown}: {_explain(err)}"
        ) from None


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _explain(err: Any) -> str:
    """What was wrong with a value, in our words rather than the validation library's."""
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "expected a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "expected a number"
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false"
    limits = {"greater_than": "more than", "greater_than_equal": "at least",
              "less_than": "less than", "less_than_equal": "at most"}
    if kind in limits:
        limit = next(iter(ctx.values()), "?")
        return f"must be {limits[kind]} {_number(limit)}"
    if kind in ("path_type", "string_type"):
        return "expected a file name" if kind == "path_type" else "expected text"
    return "not a usable value"


def parse_age(text: str) -> float:
    """Seconds from an age such as ``90m``, ``24h``, ``30d`` or ``2w``; ValueError otherwise."""
    m = _AGE.match(text.lower())
    if m is None:
        raise ValueError(f"expected an age such as 24h, 7d or 30d (or {NO_LEDGER})")
    seconds = float(m.group(1)) * _AGE_UNIT_S[m.group(2)]
    if seconds <= 0:
        raise ValueError("must be more than zero")
    return seconds


def default_ledger_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/plano-obs/ledger.sqlite`` (``~/.local/share`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "plano-obs" / "ledger.sqlite"
