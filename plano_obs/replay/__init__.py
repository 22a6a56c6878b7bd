"""What if: replay recorded calls under proposed routing rules (headless, deterministic).

``replay(calls, rules, pricer, window=..., seed=..., iterations=...)`` returns a
:class:`WhatIfResult`: per-rule and total costs before and after, projected latency and quality
evidence, with bootstrap confidence intervals and caveats in words.
"""

from plano_obs.replay.engine import MAX_ITERATIONS, ReplayError, Window, replay
from plano_obs.replay.rules import Rule, RulesError, RuleSet, load_rules, parse_rules, single_rule
from plano_obs.replay.schema import SCHEMA_VERSION, WhatIfResult, json_schema

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
