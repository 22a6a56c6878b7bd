"""Incremental rollups of LLM calls (no Textual): summary, models, routes, sessions, signals."""

from plano_obs.analytics.document import SCHEMA_VERSION, ExportDocument, json_schema
from plano_obs.analytics.rollups import (
    BUCKET_SECONDS,
    Analytics,
    UnknownWindowError,
)
from plano_obs.analytics.sketch import RELATIVE_ACCURACY, QuantileSketch

__all__ = [
    "BUCKET_SECONDS",
    "SCHEMA_VERSION",
    "RELATIVE_ACCURACY",
    "Analytics",
    "ExportDocument",
    "QuantileSketch",
    "UnknownWindowError",
    "json_schema",
]
