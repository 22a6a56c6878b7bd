"""The ledger: every LLM call kept on disk (SQLite, WAL), with derived hour and day rows.

The raw calls are the truth; everything derived (hour and day rows, the in-memory analytics a
console starts from) can be rebuilt from them. Never imports Textual.
"""

from __future__ import annotations

import os
from pathlib import Path

from plano_obs.ledger._link import LedgerLink, LedgerStatus
from plano_obs.ledger._prune import PruneReport, prune
from plano_obs.ledger._rollups import RebuildReport, Rollups
from plano_obs.ledger._schema import SCHEMA_VERSION
from plano_obs.ledger._sqlite import Ledger, LedgerError, LedgerInfo
from plano_obs.ledger._time import TimeError, parse_age, parse_instant

__all__ = [
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerError",
    "LedgerInfo",
    "LedgerLink",
    "LedgerStatus",
    "PruneReport",
    "RebuildReport",
    "Rollups",
    "TimeError",
    "default_ledger_path",
    "parse_age",
    "parse_instant",
    "prune",
]


def default_ledger_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/plano-obs/ledger.sqlite`` (``~/.local/share`` when unset)."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "plano-obs" / "ledger.sqlite"
