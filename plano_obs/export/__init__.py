"""Headless JSON export of the rollups: the schema, the ``plano obs export`` command, gates."""

from plano_obs.export.schema import (
    SCHEMA_VERSION,
    ErrorEntry,
    ErrorsRollup,
    ExportDocument,
    FlaggedCall,
    ModelRollup,
    Percentiles,
    RouteRollup,
    SessionRollup,
    SignalsRollup,
    Summary,
    TrendPoint,
    json_schema,
)

__all__ = [
    "SCHEMA_VERSION",
    "ErrorEntry",
    "ErrorsRollup",
    "ExportDocument",
    "FlaggedCall",
    "ModelRollup",
    "Percentiles",
    "RouteRollup",
    "SessionRollup",
    "SignalsRollup",
    "Summary",
    "TrendPoint",
    "json_schema",
]
