"""What if: replay recorded calls under proposed routing rules (headless, deterministic).

``replay(calls, rules, pricer, window=..., seed=..., iterations=...)`` returns a
:class:`WhatIfResult`: per-rule and total costs before and after, projected latency and quality
evidence, with bootstrap confidence intervals and caveats in words. The engine (and numpy) load
on first use, so the ``plano`` command starts without them.
"""

from typing import TYPE_CHECKING, Any

from plano_obs.replay.rules import Rule, RulesError, RuleSet, load_rules, parse_rules, single_rule
from plano_obs.replay.schema import SCHEMA_VERSION, WhatIfResult, json_schema

if TYPE_CHECKING:
    from plano_obs.replay.engine import MAX_ITERATIONS, ReplayError, Window, replay

__all__ = [
    "MAX_ITERATIONS",
    "SCHEMA_VERSION",
    "ReplayError",
    "Rule",
    "RuleSet",
    "RulesError",
    "WhatIfResult",
    "Window",
    "json_schema",
    "load_rules",
    "parse_rules",
    "replay",
    "single_rule",
]

_ENGINE = {"MAX_ITERATIONS", "ReplayError", "Window", "replay"}


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        from plano_obs.replay import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
