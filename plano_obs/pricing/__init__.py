"""Pricing: an embedded snapshot, live catalogs, name resolution and exact cost per call.

``Pricer().price(call)`` prices one :class:`~plano_obs.model.LLMCall`; ``Pricer()`` with no
arguments uses the snapshot shipped with the package and never touches the network.
"""

from plano_obs.model import prompt_is_exclusive
from plano_obs.pricing._catalog import Catalog, CatalogError, PriceEntry, Rates
from plano_obs.pricing._cost import DRIFT_THRESHOLD, CompiledPrice
from plano_obs.pricing._fetch import default_cache_dir
from plano_obs.pricing._names import canonical, identity
from plano_obs.pricing._pricer import Pricer, PricingInfo
from plano_obs.pricing._resolve import (
    AMBIGUOUS,
    PRICED,
    UNPRICED,
    Candidate,
    Explanation,
    Resolution,
)
from plano_obs.pricing._sources import CostSource, PricingConfigError

__all__ = [
    "AMBIGUOUS",
    "DRIFT_THRESHOLD",
    "PRICED",
    "UNPRICED",
    "Candidate",
    "Explanation",
    "Resolution",
    "Catalog",
    "CatalogError",
    "CompiledPrice",
    "CostSource",
    "PriceEntry",
    "Pricer",
    "PricingConfigError",
    "PricingInfo",
    "Rates",
    "canonical",
    "default_cache_dir",
    "identity",
    "prompt_is_exclusive",
]
