"""Incremental rollups of LLM calls (no Textual): summary, models, routes, sessions, signals."""

from plano_obs.analytics._aggregate import (
    NANO_PER_USD,
    Aggregate,
    CallFacts,
    merge_parts,
    usd_to_nano,
)
from plano_obs.analytics.document import SCHEMA_VERSION, ExportDocument, json_schema
from plano_obs.analytics.rollups import (
    BUCKET_SECONDS,
    Analytics,
    History,
    UnknownWindowError,
    hour_part,
)
from plano_obs.analytics.sketch import RELATIVE_ACCURACY, QuantileSketch

__all__ = [
    "Aggregate",
    "BUCKET_SECONDS",
    "CallFacts",
    "History",
    "NANO_PER_USD",
    "SCHEMA_VERSION",
    "RELATIVE_ACCURACY",
    "Analytics",
    "ExportDocument",
    "QuantileSketch",
    "UnknownWindowError",
    "hour_part",
    "json_schema",
    "merge_parts",
    "usd_to_nano",
]
