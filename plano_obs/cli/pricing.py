"""``plano obs pricing``: how model names resolve to prices, and the catalog summary."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from typing import TextIO

from plano_obs.cli._args import add_pricing_source_arguments
from plano_obs.cli.diagnostics import ExitCode, report
from plano_obs.pricing import AMBIGUOUS, PRICED, Explanation, PriceEntry, Pricer, Rates

__all__ = ["add_pricing_arguments", "run_pricing"]

log = logging.getLogger(__name__)


def add_pricing_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``plano obs pricing``."""
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="model names to resolve, as the gateway sends them "
                             "(e.g. anthropic/claude-haiku-4-5-20251001)")
    parser.add_argument("--provider", default=None,
                        help="the gateway provider of the calls, as in llm.provider "
                             "(e.g. groq, amazon_bedrock, digitalocean)")
    parser.add_argument("--explain", action="store_true",
                        help="list every catalog entry that matches each name and why one "
                             "won or none did")
    parser.add_argument("--list", action="store_true", dest="list_catalog",
                        help="print the catalog summary: source, age, models per provider")
    parser.add_argument("--all", action="store_true", dest="list_all",
                        help="with --list: every provider, then every priced model and its "
                             "rates, one a line (--provider keeps one provider's)")
    parser.add_argument("--refresh", action="store_true",
                        help="fetch the remote catalog now instead of using the cache")
    add_pricing_source_arguments(parser)


def _money(rate: float | None) -> str:
    return "-" if rate is None else f"${rate:g}"


def _rates_text(rates: Rates) -> str:
    parts = [f"input {_money(rates.input)}", f"output {_money(rates.output)}"]
    if rates.cache_read is not None:
        parts.append(f"cache read {_money(rates.cache_read)}")
    if rates.cache_write is not None:
        parts.append(f"cache write {_money(rates.cache_write)}")
    if rates.reasoning is not None and rates.reasoning != rates.output:
        parts.append(f"reasoning {_money(rates.reasoning)}")
    return ", ".join(parts) + " per 1M tokens"


def _describe(entry: PriceEntry) -> list[str]:
    if entry.free:
        lines = ["  free (pricing file)"]
    else:
        lines = [f"  {_rates_text(entry.rates)}"]
    for size, rates in entry.tiers:
        lines.append(f"  above {size:,} tokens of context: {_rates_text(rates)}")
    if entry.tiers_from:
        lines.append(f"  context tier taken from entries of the same model at the same base "
                     f"rates (cache rates scaled like input): {', '.join(entry.tiers_from)}")
    lines.append(f"  source: {entry.source}")
    return lines


def _print_explanation(x: Explanation, out: TextIO) -> None:
    p = x.parsed
    via = f" sent through {x.provider}" if x.provider else " (no gateway provider)"
    print(f"{x.name}{via}", file=out)
    read = [f"model {p.model}"]
    if p.path_provider:
        read.append(f"provider in the name {p.path_provider}")
    if p.namespace and not p.bedrock:
        read.append(f"namespace {p.namespace} (a model family, not a provider)")
    if p.bedrock:
        read.append("an Amazon Bedrock id")
    read.append(f"owner {p.owner or 'unknown'}")
    print(f"  read as: {', '.join(read)}", file=out)
    print(f"  names tried: {', '.join(key for key, _ in p.forms)}", file=out)
    order = ", ".join(f"{i}. {provider} ({why})" for i, (provider, why) in
                      enumerate(x.order, 1)) or "none: no provider and no known owner"
    print(f"  providers tried, in order: {order}", file=out)
    r = x.resolution
    verdict = f"-> {r.entry.key}" if r.entry is not None else f"-> {r.status}, no price"
    print(f"  {verdict}: {r.reason}", file=out)
    if not x.candidates:
        print("  candidates: none (no catalog entry matches any of the names tried)", file=out)
        return
    print(f"  candidates ({len(x.candidates)}):", file=out)
    width = max(len(c.entry.key) for c in x.candidates)
    for c in x.candidates:
        e = c.entry
        price = "free" if e.free else f"${e.rates.input:g}/${e.rates.output:g}"
        print(f"    {'*' if c.used else ' '} {e.key:<{width}}  {price:<13} {c.match}; "
              f"{c.verdict}", file=out)


def _print_list(pricer: Pricer, out: TextIO, *, every: bool = False,
                provider: str | None = None) -> None:
    info = pricer.info()
    print(f"source:  {info.source}", file=out)
    when = info.fetched_at.isoformat(timespec="seconds") if info.fetched_at else "unknown"
    print(f"fetched: {when} ({info.age_text()} old)", file=out)
    print(f"models:  {info.models:,} priced", file=out)
    if info.overrides or info.aliases:
        print(f"pricing file / config: {info.overrides} overrides, {info.aliases} aliases",
              file=out)
    per_provider = Counter(e.provider for e in pricer.entries())
    print(f"providers: {len(per_provider)}", file=out)
    shown = per_provider.most_common(None if every else 15)
    for name, count in shown:
        print(f"  {name:<28} {count:>5}", file=out)
    if len(per_provider) > len(shown):
        print(f"  … and {len(per_provider) - len(shown)} more (--all lists them)", file=out)
    if every:
        _print_models(pricer, out, provider)


def _print_models(pricer: Pricer, out: TextIO, provider: str | None) -> None:
    # The pricing file's entries come last and replace the catalog's of the same name.
    effective = {e.key: e for e in pricer.entries()}
    wanted = provider.lower() if provider else None
    rows = sorted((e for e in effective.values() if wanted in (None, e.provider.lower())),
                  key=lambda e: e.key)
    print(f"priced models: {len(rows):,}" + (f" of provider {provider}" if provider else ""),
          file=out)
    for e in rows:
        rates = "free (pricing file)" if e.free else _rates_text(e.rates)
        tiers = f"; {len(e.tiers)} context tier{'s' * (len(e.tiers) != 1)}" if e.tiers else ""
        print(f"  {e.key}  {rates}{tiers}", file=out)


def run_pricing(args: argparse.Namespace, out: TextIO | None = None,
                err: TextIO | None = None) -> int:
    """Run ``plano obs pricing``: 0 when every name is priced, 1 if some are not (unpriced or
    ambiguous), 2 on bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        pricer = Pricer(pricing_file=getattr(args, "pricing_file", None),
                        plano_config=getattr(args, "config", None),
                        offline=bool(getattr(args, "offline", False)))
    except Exception as e:  # report() re-raises what is not a user error
        return report(e, "plano obs pricing", err)
    # The disk cache serves while fresh (24 h); --refresh fetches anyway, --offline never does.
    pricer.refresh(force=bool(getattr(args, "refresh", False)))
    # The pricer logs its warnings too; ``plano`` prints each distinct one once.
    for warning in pricer.warnings:
        log.warning("%s", warning)
    models: list[str] = list(getattr(args, "models", None) or [])
    provider = getattr(args, "provider", None)
    every = bool(getattr(args, "list_all", False))
    if getattr(args, "list_catalog", False) or every or not models:
        _print_list(pricer, out, every=every, provider=provider)
    unpriced = 0
    explain = bool(getattr(args, "explain", False))
    for name in models:
        found = pricer.resolution(name, provider)
        if explain:
            _print_explanation(pricer.explain(name, provider), out)
            if found.entry is None:
                unpriced += 1
            else:
                for line in _describe(found.entry):
                    print(line, file=out)
            continue
        if found.status != PRICED or found.entry is None:
            unpriced += 1
            if found.status == AMBIGUOUS:
                print(f"{name}: ambiguous, no price (cost unknown): {found.reason}; "
                      f"--explain lists the candidates, --provider says which provider the "
                      f"calls went through", file=out)
            else:
                print(f"{name}: no price (cost unknown): {found.reason}", file=out)
            continue
        print(f"{name} -> {found.entry.key}", file=out)
        for line in _describe(found.entry):
            print(line, file=out)
        print(f"  why: {found.reason}", file=out)
    return ExitCode.UNPRICED if unpriced else ExitCode.OK
