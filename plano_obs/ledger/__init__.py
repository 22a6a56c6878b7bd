"""The ledger: every LLM call kept on disk (SQLite, WAL), with derived hour and day rows.

The raw calls are the truth; everything derived (hour and day rows, the in-memory analytics a
console starts from) can be rebuilt from them. Never imports Textual.
"""

from __future__ import annotations

from plano_obs.ledger._ledger import Ledger, LedgerError, LedgerInfo, open_for_reading
from plano_obs.ledger._link import LedgerLink, LedgerStatus
from plano_obs.ledger._prune import PruneReport, prune
from plano_obs.ledger._reprice import RepriceReport, reprice
from plano_obs.ledger._rollups import RebuildReport, Rollups
from plano_obs.ledger._schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerError",
    "LedgerInfo",
    "LedgerLink",
    "LedgerStatus",
    "PruneReport",
    "RebuildReport",
    "RepriceReport",
    "Rollups",
    "open_for_reading",
    "prune",
    "reprice",
]
