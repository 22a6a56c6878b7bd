"""The embedded pricing snapshot: package data trimmed from a models.dev ``api.json``."""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any

from plano_obs.pricing._catalog import Catalog, parse_models_dev

__all__ = ["SNAPSHOT_FILE", "SNAPSHOT_SOURCE", "load_snapshot", "trim_models_dev"]

SNAPSHOT_FILE = "snapshot.json.gz"
SNAPSHOT_SOURCE = "embedded snapshot"
_RATE_KEYS = ("input", "output", "cache_read", "cache_write", "reasoning")


def _trim_rates(cost: Mapping[str, Any]) -> dict[str, float]:
    return {k: cost[k] for k in _RATE_KEYS
            if isinstance(cost.get(k), int | float) and not isinstance(cost.get(k), bool)}


def trim_models_dev(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Only what pricing needs: provider -> model id -> cost (0/0 and cost-less models dropped)."""
    providers: dict[str, Any] = {}
    for provider_id, provider in sorted(doc.items()):
        if not isinstance(provider, Mapping) or not isinstance(provider.get("models"), Mapping):
            continue
        models: dict[str, Any] = {}
        for model_id, model in sorted(provider["models"].items()):
            cost = model.get("cost") if isinstance(model, Mapping) else None
            if not isinstance(cost, Mapping):
                continue
            trimmed: dict[str, Any] = _trim_rates(cost)
            if not trimmed.get("input") and not trimmed.get("output"):
                continue
            if "input" not in trimmed or "output" not in trimmed:
                continue
            tiers = []
            for tier in cost.get("tiers") or ():
                spec = tier.get("tier") if isinstance(tier, Mapping) else None
                if isinstance(spec, Mapping) and spec.get("type", "context") == "context":
                    tiers.append({"tier": {"type": "context", "size": spec.get("size")},
                                  **_trim_rates(tier)})
            if not tiers and isinstance(cost.get("context_over_200k"), Mapping):
                tiers.append({"tier": {"type": "context", "size": 200_000},
                              **_trim_rates(cost["context_over_200k"])})
            if tiers:
                trimmed["tiers"] = tiers
            models[str(model.get("id") or model_id)] = {"cost": trimmed}
        if models:
            providers[str(provider.get("id") or provider_id)] = {"models": models}
    return providers


def build_snapshot(doc: Mapping[str, Any], origin: str, built_at: datetime) -> bytes:
    """The gzip-compressed snapshot file for ``doc`` (checked to parse as a catalog)."""
    providers = trim_models_dev(doc)
    parse_models_dev(providers, SNAPSHOT_SOURCE)  # raises CatalogError on a bad document
    payload = {"format": 1, "origin": origin, "built_at": built_at.isoformat(),
               "providers": providers}
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


@functools.cache
def load_snapshot() -> Catalog:
    """The catalog shipped with the package (parsed once per process)."""
    data = resources.files("plano_obs.pricing").joinpath(SNAPSHOT_FILE).read_bytes()
    payload = json.loads(gzip.decompress(data))
    built_at = datetime.fromisoformat(payload["built_at"])
    return parse_models_dev(payload["providers"], SNAPSHOT_SOURCE, built_at)
