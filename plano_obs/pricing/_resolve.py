"""Model-name resolution: which catalog entry prices a call, and why.

The order is the same for every name, so a user can predict it:

1. the gateway's provider (``llm.provider``);
2. the provider named in the model name: a ``provider/`` prefix that *is* a provider
   (``openrouter/…``, ``vertex_ai/…``; not a family namespace such as ``qwen/``), or Amazon
   Bedrock for a Bedrock id (``us.anthropic.claude-…-v1:0``);
3. the model's owner, the first party that sells it (``claude`` -> anthropic, ``gpt`` -> openai).

The first of these providers that lists the name prices it. Within that provider the most
literal match wins (the exact id, then the same model spelled another way, then the name without
a version suffix). Nothing else: another provider's entry is never used, since the call did not
go through it. When no entry wins but other providers list the name, or the winning provider
lists it several times at different prices, the name is **ambiguous**: unpriced, shown as such,
never $0. ``Resolver.explain`` lists every candidate and why it won or was not used.

A winning entry that lacks a context tier which entries of the same model at the same base
rates carry (e.g. Anthropic's >200k-token rates, recorded by some catalogs only) takes that tier:
input and output rates from those entries (they must agree), cache rates scaled from the entry's
own by the same factor as input, as Anthropic, Google and OpenAI price long context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from plano_obs.pricing._catalog import PriceEntry, Rates
from plano_obs.pricing._names import (
    VERSION_FORM,
    ParsedName,
    canonical,
    identity,
    name_keys,
    parse_name,
    provider_from_hint,
)

__all__ = [
    "AMBIGUOUS",
    "PRICED",
    "UNPRICED",
    "Candidate",
    "Explanation",
    "Resolution",
    "Resolver",
]

PRICED = "priced"
AMBIGUOUS = "ambiguous"
UNPRICED = "unpriced"

_LEVELS = ("its id", "its id spelled another way", "its id without its version suffix")


@dataclass(frozen=True, slots=True)
class Resolution:
    """What prices a name: ``entry`` when ``status`` is priced, else why nothing does."""

    status: str  # PRICED | AMBIGUOUS | UNPRICED
    entry: PriceEntry | None
    reason: str  # one line, for people


@dataclass(frozen=True, slots=True)
class Candidate:
    """A catalog entry that matches the name, and what the rules made of it."""

    entry: PriceEntry
    match: str  # how the name matched it
    used: bool
    verdict: str  # why it won, or why it was not used


@dataclass(frozen=True, slots=True)
class Explanation:
    """Every step of one resolution, for ``plano obs pricing NAME --explain``."""

    name: str
    provider: str | None  # the gateway provider value, as given
    parsed: ParsedName
    order: tuple[tuple[str, str], ...]  # (catalog provider, why it is in the order)
    resolution: Resolution
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class _Match:
    entry: PriceEntry
    rank: tuple[int, int]  # (index of the name's form, level of the entry's key)
    form: str  # how the name's form relates to the name


def _newest_first(entry: PriceEntry) -> str:
    # Invert the date digits so that sorting ascending puts the newest dated version first.
    return "".join(chr(ord("9") - ord(c) + ord("0")) for c in entry.released)


def _preference(entry: PriceEntry) -> tuple[int, str, int, str]:
    return (-len(entry.tiers), _newest_first(entry), len(entry.model), entry.key)


class Resolver:
    """Finds the entry for a model name; memoised, misses included."""

    def __init__(self, entries: Iterable[PriceEntry], overrides: Iterable[PriceEntry] = (),
                 aliases: Mapping[str, str] | None = None, memo_limit: int = 50_000) -> None:
        self._by_key: dict[str, list[tuple[PriceEntry, int]]] = {}
        self._by_identity: dict[str, list[PriceEntry]] = {}
        providers: set[str] = set()
        for entry in entries:
            providers.add(entry.provider)
            keys, model_identity = name_keys(entry.model)
            for key, level in keys:
                self._by_key.setdefault(key, []).append((entry, level))
            self._by_identity.setdefault(model_identity, []).append(entry)
        self._providers = frozenset(providers)
        self._overrides: dict[str, PriceEntry] = {}
        for entry in overrides:
            key = canonical(entry.model)
            if entry.provider != "override":
                key = f"{provider_from_hint(entry.provider)}/{key}"
            self._overrides.setdefault(key, entry)
        self._aliases = {k.strip().lower(): v for k, v in (aliases or {}).items()}
        self._memo: dict[tuple[str, str | None], Resolution] = {}
        self._memo_limit = memo_limit

    # -- the hot path -------------------------------------------------------------------------

    def resolve(self, name: str | None, provider: str | None = None) -> PriceEntry | None:
        """The entry pricing ``name`` (sent through ``provider``), or None."""
        return self.resolution(name, provider).entry if name else None

    def resolution(self, name: str | None, provider: str | None = None) -> Resolution:
        """How ``name`` (sent through ``provider``) is priced: entry, ambiguous or unpriced."""
        if not name:
            return Resolution(UNPRICED, None, "no model name")
        memo_key = (name, provider)
        try:
            return self._memo[memo_key]
        except KeyError:
            pass
        found = self._explain(name, provider, with_candidates=False).resolution
        if len(self._memo) >= self._memo_limit:
            self._memo.clear()
        self._memo[memo_key] = found
        return found

    def explain(self, name: str, provider: str | None = None) -> Explanation:
        """Every candidate entry for ``name`` and why one won or none did."""
        return self._explain(name, provider, with_candidates=True)

    # -- resolution ---------------------------------------------------------------------------

    def _explain(self, name: str, provider: str | None, *, with_candidates: bool) -> Explanation:
        raw = name.strip()
        hint = provider_from_hint(provider)
        parsed = parse_name(raw, self._providers)
        order = self._order(parsed, hint)
        target = self._aliases.get(raw.lower())
        if target is not None and target.strip().lower() != raw.lower():
            inner = self._explain(target, provider, with_candidates=with_candidates)
            if inner.resolution.status == PRICED:
                res = inner.resolution
                aliased = Resolution(PRICED, res.entry, f"alias of {target}: {res.reason}")
                return replace(inner, name=raw, resolution=aliased)
        if self._overrides:
            hit = self._override(parsed, hint)
            if hit is not None:
                res = Resolution(PRICED, hit, f"your {hit.source}")
                return Explanation(raw, provider, parsed, order, res,
                                   (Candidate(hit, "pricing file", True, "your own price"),)
                                   if with_candidates else ())
        matches = self._matches(parsed)
        resolution = self._decide(parsed, order, matches)
        candidates = self._candidates(order, matches, resolution) if with_candidates else ()
        return Explanation(raw, provider, parsed, order, resolution, candidates)

    @staticmethod
    def _order(parsed: ParsedName, hint: str | None) -> tuple[tuple[str, str], ...]:
        order: list[tuple[str, str]] = []
        steps = ((hint, "the gateway's provider"),
                 (parsed.path_provider, "the provider in the name"),
                 ("amazon-bedrock" if parsed.bedrock else None, "a Bedrock model id"),
                 (parsed.owner, "the model's owner"))
        for provider, why in steps:
            if provider and all(provider != p for p, _ in order):
                order.append((provider, why))
        return tuple(order)

    def _matches(self, parsed: ParsedName) -> list[_Match]:
        """Every entry that matches one of the name's forms, at its best rank."""
        best: dict[int, _Match] = {}
        for i, (key, how) in enumerate(parsed.forms):
            for entry, level in self._by_key.get(key, ()):
                rank = (i, level)
                seen = best.get(id(entry))
                if seen is None or rank < seen.rank:
                    best[id(entry)] = _Match(entry, rank, how)
        return list(best.values())

    def _decide(self, parsed: ParsedName, order: tuple[tuple[str, str], ...],
                matches: list[_Match]) -> Resolution:
        for provider, why in order:
            mine = [m for m in matches if m.entry.provider == provider]
            if not mine:
                continue
            top = min(m.rank for m in mine)
            tied = [m for m in mine if m.rank == top]
            winner = self._pick(tied, parsed)
            if winner is None:
                prices = ", ".join(sorted(f"{m.entry.model} ${m.entry.rates.input:g}/"
                                          f"${m.entry.rates.output:g}" for m in tied))
                return Resolution(AMBIGUOUS, None,
                                  f"{provider} ({why}) lists it at different prices: {prices}")
            return Resolution(PRICED, self._with_tiers(winner.entry),
                              f"{provider} is {why}: {_how(winner)} {winner.entry.model}")
        others = sorted({m.entry.provider for m in matches})
        if not others:
            return Resolution(UNPRICED, None, "no catalog entry has this name")
        tried = " or ".join(p for p, _ in order) or "no provider"
        listed = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4
                                          else "")
        return Resolution(AMBIGUOUS, None,
                          f"not listed by {tried}; listed by {listed}, which the call "
                          f"did not say it went through")

    @staticmethod
    def _pick(tied: list[_Match], parsed: ParsedName) -> _Match | None:
        """The one entry among equally good matches, or None when their prices differ."""
        if len(tied) == 1:
            return tied[0]
        if len({(m.entry.rates, m.entry.free) for m in tied}) == 1:
            return min(tied, key=lambda m: _preference(m.entry))
        # A bare family name or ``-latest`` means the newest: the owner's ``-latest`` entry,
        # else the newest dated one. A name with its own version (``mistral-small-2503``) that
        # matched several others only loosely stays ambiguous.
        sent = canonical(parsed.model)
        if sent.endswith("-latest") or not any(how.startswith(VERSION_FORM)
                                               for _, how in parsed.forms):
            latest = [m for m in tied if m.entry.model.lower().endswith("-latest")]
            dated = [m for m in tied if m.entry.released] if sent.endswith("-latest") else []
            pool = latest or dated
            if pool:
                return min(pool, key=lambda m: _preference(m.entry))
        return None

    def _with_tiers(self, entry: PriceEntry) -> PriceEntry:
        """``entry`` with the context tiers its same-priced siblings carry and it lacks."""
        have = {size for size, _ in entry.tiers}
        offered: dict[int, list[tuple[PriceEntry, Rates]]] = {}
        for other in self._by_identity.get(identity(entry.model), ()):
            if other is entry or other.free or (other.rates.input, other.rates.output) != (
                    entry.rates.input, entry.rates.output):
                continue
            for size, rates in other.tiers:
                if size not in have and (rates.input, rates.output) != (
                        entry.rates.input, entry.rates.output):
                    offered.setdefault(size, []).append((other, rates))
        if not offered or entry.free or entry.rates.input <= 0:
            return entry
        added: list[tuple[int, Rates]] = []
        sources: list[str] = []
        for size, offers in sorted(offered.items()):
            if len({(r.input, r.output) for _, r in offers}) != 1:
                continue  # the siblings disagree: no tier beats a guessed one
            tier = offers[0][1]
            factor = tier.input / entry.rates.input
            base = entry.rates
            added.append((size, Rates(
                tier.input, tier.output,
                None if base.cache_read is None else round(base.cache_read * factor, 9),
                None if base.cache_write is None else round(base.cache_write * factor, 9),
                base.reasoning)))
            sources += [o.key for o, _ in offers]
        if not added:
            return entry
        tiers = tuple(sorted((*entry.tiers, *added), key=lambda t: t[0]))
        return replace(entry, tiers=tiers, tiers_from=tuple(sorted(set(sources))))

    def _override(self, parsed: ParsedName, hint: str | None) -> PriceEntry | None:
        for key, _how in parsed.forms:
            for provider in (hint, parsed.path_provider):
                if provider and (hit := self._overrides.get(f"{provider}/{key}")):
                    return hit
            if hit := self._overrides.get(key):
                return hit
        return None

    # -- explanation --------------------------------------------------------------------------

    @staticmethod
    def _candidates(order: tuple[tuple[str, str], ...], matches: list[_Match],
                    resolution: Resolution) -> tuple[Candidate, ...]:
        position = {p: i for i, (p, _) in enumerate(order)}
        why = dict(order)
        winner = resolution.entry
        decided = next((p for p, _ in order if any(m.entry.provider == p for m in matches)), None)
        top = {p: min(m.rank for m in matches if m.entry.provider == p)
               for p in {m.entry.provider for m in matches}}
        out: list[Candidate] = []
        for m in sorted(matches, key=lambda m: (position.get(m.entry.provider, len(order)),
                                                 m.entry.provider, m.rank, m.entry.key)):
            e = m.entry
            used = winner is not None and e.provider == winner.provider and e.model == winner.model
            if used:
                verdict = f"used: {e.provider} is {why[e.provider]}"
            elif e.provider not in position:
                verdict = "not used: the call did not go through " + e.provider
            elif e.provider != decided:
                verdict = f"not used: {decided} comes first" if decided else "not used"
            elif m.rank > top[e.provider]:
                verdict = "not used: a closer match of the same provider wins"
            elif winner is None:
                verdict = "not used: same provider, same match, another price"
            else:
                verdict = "not used: same price as the entry used"
            out.append(Candidate(e, _how(m), used, verdict))
        return tuple(out)


def _how(m: _Match) -> str:
    return f"{m.form} matches {_LEVELS[min(m.rank[1], 2)]}"
