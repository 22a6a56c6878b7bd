"""Proposed routing rules: which calls a change applies to, and where they would go.

Rules are tried highest ``priority`` first; equal priorities go by rule name, so the order in
the file never matters. The first rule that matches a call decides it. A rule either sends
the call to a target model (``to``) or keeps it as it is (``keep: true``, the baseline).
``aliases`` are plain remaps (``smart-llm: gpt-4o-mini``): rules named ``alias <name>`` that
match the requested model.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plano_obs.pricing import canonical, identity

__all__ = [
    "Rule",
    "RuleSet",
    "RulesError",
    "TokenCondition",
    "load_rules",
    "parse_rules",
    "single_rule",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*(>=|<=|==|>|<)\s*(\d+)\s*$")


class RulesError(ValueError):
    """A rules file that cannot be used; the message is one line."""


@dataclass(frozen=True, slots=True)
class TokenCondition:
    """``tokens OP number``, e.g. ``<= 8000``."""

    op: str
    tokens: int

    def __str__(self) -> str:
        return f"{self.op} {self.tokens}"

    def holds(self, tokens: float) -> bool:
        """Whether a known token count satisfies the condition."""
        return _OPS[self.op](tokens, self.tokens)


def _conditions(value: Any) -> tuple[TokenCondition, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"expected a condition such as '<= 8000', got {item!r}")
        m = _CONDITION.match(str(item)) if isinstance(item, str) else None
        if m is None:
            raise ValueError(f"expected a condition such as '<= 8000', got {item!r}")
        out.append(TokenCondition(m.group(1), int(m.group(2))))
    return tuple(out)


def _names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float) or str(item) == "":
            raise ValueError(f"expected a name or a list of names, got {item!r}")
        out.append(str(item))
    return tuple(out)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """What a rule applies to; every condition given must hold, a list means any of its items."""

    route: tuple[str, ...] | None = Field(None, description="routing preference name(s)")
    direct: bool | None = Field(
        None, description="true: only calls without a route (the client named the model)")
    requested_model: tuple[str, ...] | None = Field(
        None, description="the model or alias the client asked for; globs allowed")
    model: tuple[str, ...] | None = Field(None, description="the model that ran; globs allowed")
    provider: tuple[str, ...] | None = Field(None, description="provider id(s)")
    session: tuple[str, ...] | None = Field(None, description="session tag(s); globs allowed")
    input_tokens: tuple[TokenCondition, ...] | None = Field(
        None, description="prompt size including cached tokens, e.g. '<= 8000'")
    output_tokens: tuple[TokenCondition, ...] | None = Field(
        None, description="completion size, e.g. '> 2000'")

    @field_validator("route", "requested_model", "model", "provider", "session", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        return None if v is None else _names(v)

    @field_validator("input_tokens", "output_tokens", mode="before")
    @classmethod
    def _tokens(cls, v: Any) -> Any:
        return None if v is None else _conditions(v)

    def describe(self) -> str:
        """The conditions in words, e.g. ``route='code generation', input_tokens <= 8000``."""
        parts = []
        for name in ("route", "requested_model", "model", "provider", "session"):
            values = getattr(self, name)
            if values is not None:
                shown = values[0] if len(values) == 1 else list(values)
                parts.append(f"{name}={shown!r}")
        if self.direct is not None:
            parts.append(f"direct={str(self.direct).lower()}")
        for name in ("input_tokens", "output_tokens"):
            for cond in getattr(self, name) or ():
                parts.append(f"{name} {cond}")
        return ", ".join(parts) or "every call"


class Target(_Strict):
    """Where matched calls would go."""

    model: str = Field(min_length=1)
    provider: str | None = None


class Rule(_Strict):
    """One proposed change: calls matching ``match`` go ``to`` a model, or are kept."""

    name: str = Field(min_length=1)
    priority: int = 0
    match: Match = Field(default_factory=Match)
    to: Target | None = None
    keep: bool = False

    @field_validator("to", mode="before")
    @classmethod
    def _target(cls, v: Any) -> Any:
        return {"model": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_action(self) -> Rule:
        if (self.to is None) == (not self.keep):
            raise ValueError("give exactly one action: 'to: MODEL' or 'keep: true'")
        return self

    @property
    def action(self) -> str:
        """``to <model>`` or ``keep``."""
        if self.to is None:
            return "keep"
        via = f" via {self.to.provider}" if self.to.provider else ""
        return f"to {self.to.model}{via}"


def _model_pattern(pattern: str) -> Callable[[str], bool]:
    """A spelling-insensitive test for model names.

    A pattern without ``provider/`` ignores provider prefixes, and one without a version matches
    every version of the model (``gpt-4o`` matches ``openai/gpt-4o-2024-08-06``, not
    ``gpt-4o-mini``); globs (``gpt-4o*``) match canonical names.
    """
    key = canonical(pattern)
    prefix, _, last = key.rpartition("/")
    glob = any(c in key for c in "*?[")
    any_version = not glob and identity(last) == last

    verdicts: dict[str, bool] = {}  # model names repeat across calls; parsing one is not cheap

    def test(name: str) -> bool:
        verdict = verdicts.get(name)
        if verdict is None:
            cand_prefix, _, cand = canonical(name).rpartition("/")
            if prefix and cand_prefix != prefix:
                verdict = False
            elif glob:
                verdict = fnmatch.fnmatchcase(cand, last)
            else:
                verdict = cand == last or (any_version and identity(cand) == last)
            if len(verdicts) < 100_000:
                verdicts[name] = verdict
        return verdict

    return test


def _glob(pattern: str, *, fold: bool = False) -> Callable[[str], bool]:
    """Exact (or glob) match; ``fold`` ignores case."""
    pat = pattern.lower() if fold else pattern
    if any(c in pat for c in "*?["):
        return lambda v: fnmatch.fnmatchcase(v.lower() if fold else v, pat)
    return lambda v: (v.lower() if fold else v) == pat


def _folded(pattern: str) -> Callable[[str], bool]:
    return _glob(pattern, fold=True)


_Tests = tuple[Callable[[str], bool], ...] | None


def _tests(patterns: tuple[str, ...] | None, make: Callable[[str], Callable[[str], bool]]
           ) -> _Tests:
    return None if patterns is None else tuple(make(p) for p in patterns)


class CompiledRule:
    """A rule with its name tests prepared; token conditions are checked by the caller."""

    __slots__ = ("rule", "index", "_direct", "_checks")

    def __init__(self, rule: Rule, index: int) -> None:
        self.rule = rule
        self.index = index  # position in the evaluation order
        m = rule.match
        self._direct = m.direct
        # Order: route, requested model, model, provider, session (as matches_names takes them).
        self._checks: tuple[_Tests, ...] = (
            _tests(m.route, _glob), _tests(m.requested_model, _model_pattern),
            _tests(m.model, _model_pattern), _tests(m.provider, _folded),
            _tests(m.session, _glob))

    def matches_names(self, route: str | None, requested: str | None, model: str | None,
                      provider: str | None, session: str | None) -> bool:
        """Whether every condition on names holds for a call with these names."""
        if self._direct is not None and self._direct != (route is None):
            return False
        for tests, value in zip(self._checks, (route, requested, model, provider, session),
                                strict=True):
            if tests is None:
                continue
            if value is None or not any(t(value) for t in tests):
                return False
        return True


class RuleSet(_Strict):
    """The rules of one what-if, in evaluation order (priority high to low, then name)."""

    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _ordered(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dup)}")
        ordered = tuple(sorted(self.rules, key=lambda r: (-r.priority, r.name)))
        object.__setattr__(self, "rules", ordered)
        return self

    def compiled(self) -> tuple[CompiledRule, ...]:
        """The rules with their tests prepared, in evaluation order."""
        return tuple(CompiledRule(r, i) for i, r in enumerate(self.rules))


def single_rule(target_model: str, *, route: str | None = None, direct: bool = False,
                model: str | None = None, target_provider: str | None = None) -> RuleSet:
    """One rule: calls of ``route`` (or direct calls, or calls of ``model``) go to a model."""
    match: dict[str, Any] = {}
    if route is not None:
        match["route"] = route
    if direct:
        match["direct"] = True
    if model is not None:
        match["model"] = model
    scopes = [f"route {route}" if route is not None else "direct calls" if direct else "",
              f"model {model}" if model is not None else ""]
    scope = " and ".join(s for s in scopes if s) or "every call"
    try:
        rule = Rule(name=f"{scope} to {target_model}", match=Match(**match),
                    to=Target(model=target_model, provider=target_provider))
    except ValidationError as e:
        raise RulesError(_one_line(e, [])) from None
    return RuleSet(rules=(rule,))


def _alias_rules(aliases: Any) -> list[dict[str, Any]]:
    if aliases is None:
        return []
    if not isinstance(aliases, Mapping):
        raise RulesError("'aliases' must map an alias to a model, e.g. smart-llm: gpt-4o-mini")
    out = []
    for alias, target in aliases.items():
        spec: dict[str, Any] = {"name": f"alias {alias}", "match": {"requested_model": alias}}
        if isinstance(target, Mapping):
            extra = set(target) - {"model", "provider", "priority"}
            if extra:
                raise RulesError(f"alias {alias!r}: unknown field {sorted(extra)[0]!r}")
            spec["to"] = {k: v for k, v in target.items() if k != "priority"}
            if "priority" in target:
                spec["priority"] = target["priority"]
        else:
            spec["to"] = target
        out.append(spec)
    return out


def _one_line(e: ValidationError, rules: list[Any]) -> str:
    err = e.errors()[0]
    loc = list(err["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        item = rules[loc[1]]
        name = item.get("name") if isinstance(item, Mapping) else None
        where = f"rule {name!r}: " if name else f"rule #{loc[1] + 1}: "
        loc = loc[2:]
    field = ".".join(str(x) for x in loc)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{where}{field + ': ' if field else ''}{msg}"


def parse_rules(obj: Any) -> RuleSet:
    """A RuleSet from parsed YAML/JSON: ``{rules: [...], aliases: {...}}``."""
    if obj is None:
        raise RulesError("no rules: the file is empty")
    if isinstance(obj, list):
        obj = {"rules": obj}
    if not isinstance(obj, Mapping):
        raise RulesError("expected a mapping with 'rules' (a list) and/or 'aliases'")
    extra = set(obj) - {"rules", "aliases"}
    if extra:
        raise RulesError(f"unknown top-level key {sorted(map(str, extra))[0]!r}; "
                         f"use 'rules' and 'aliases'")
    rules = obj.get("rules") or []
    if not isinstance(rules, list):
        raise RulesError("'rules' must be a list of rules")
    rules = list(rules) + _alias_rules(obj.get("aliases"))
    if not rules:
        raise RulesError("no rules: give 'rules' or 'aliases'")
    try:
        return RuleSet(rules=rules)
    except ValidationError as e:
        raise RulesError(_one_line(e, rules)) from None


def load_rules(path: str | Path) -> RuleSet:
    """Read a rules file (YAML or JSON); raises RulesError with a one-line reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise RulesError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise RulesError(f"cannot read {path}: not UTF-8 text") from None
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise RulesError(f"{path}: {problem}{where}") from None
    try:
        return parse_rules(obj)
    except RulesError as e:
        raise RulesError(f"{path}: {e}") from None
