"""The what-if result in words, for a terminal or a console screen (plain text, no markup)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from plano_obs.replay.schema import Estimate, WhatIfResult

__all__ = ["summary_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUALITY_LINES = 15

def _safe(text: str | None) -> str:
    """Span text shown literally: control characters (ANSI escapes included) as escapes."""
    if text is None:
        return "—"
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


def _usd(value: float | None) -> str:
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    digits = 2 if abs(value) >= 100 else 4
    return f"{sign}${abs(value):,.{digits}f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _ci(e: Estimate, fmt: Callable[[float | None], str]) -> str:
    if e.ci_low is None or e.ci_high is None:
        return fmt(e.value)
    return f"{fmt(e.value)}  (95% CI {fmt(e.ci_low)} to {fmt(e.ci_high)})"


def _when(t: datetime | None) -> str:
    return "the first call" if t is None else f"{t:%Y-%m-%d %H:%M:%S} UTC"


def summary_text(r: WhatIfResult) -> str:
    """The result for people: totals with intervals, the rules, quality evidence, caveats."""
    t = r.totals
    lat = t.latency
    lines = [
        f"what if: {t.calls:,} calls from {_when(r.window.start)} to {_when(r.window.end)} "
        f"(window {r.window.name}); {r.iterations:,} bootstrap iterations, seed {r.seed}",
        f"prices: {_safe(r.pricing.source)}, {r.pricing.models or 0:,} models",
        "",
        f"  cost        baseline {_usd(t.baseline_cost_usd)}   projected "
        f"{_usd(t.projected_cost_usd)}",
        f"  savings     {_ci(t.savings_usd, _usd)}",
        f"              {_ci(t.savings_pct, _pct)}",
        f"  latency p50 baseline {_ms(lat.baseline_p50_ms)}   projected "
        f"{_ci(lat.projected_p50_ms, _ms)}",
        f"  latency p95 baseline {_ms(lat.baseline_p95_ms)}   projected "
        f"{_ci(lat.projected_p95_ms, _ms)}",
        "",
        f"  calls {t.calls:,}: matched {t.matched:,}, moved {t.moved:,}, kept {t.kept:,}, "
        f"unpriceable {t.unpriceable:,}, no usage {t.no_usage:,}, failed and moved "
        f"{t.failed_moved:,}, unpriced baseline {t.baseline_unpriced:,}",
        f"  latency: {lat.projected:,} projected from the target's history, "
        f"{lat.unprojected:,} unprojected (no history), {lat.failed_kept:,} failed (kept)",
        "",
        "rules (by name)",
    ]
    name_width = max(len(_safe(b.rule)) for b in r.rules)
    lines.append(f"  {'rule':<{name_width}}  {'matched':>8}  {'moved':>8}  {'baseline':>12}  "
                 f"{'projected':>12}  {'savings':>12}  {'%':>7}  action")
    for b in r.rules:
        lines.append(
            f"  {_safe(b.rule):<{name_width}}  {b.matched:>8,}  {b.moved:>8,}  "
            f"{_usd(b.baseline_cost_usd):>12}  {_usd(b.projected_cost_usd):>12}  "
            f"{_usd(b.savings_usd):>12}  {_pct(b.savings_pct):>7}  {_safe(b.action)}"
            + ("" if b.target_priced is not False else "  (no price: calls unchanged)"))
    if r.quality:
        lines += ["", "quality on the same route (evidence, not a verdict; most moved calls first)"]
        shown = sorted(r.quality, key=lambda q: -q.moved)[:_QUALITY_LINES]
        for q in shown:
            route = "direct calls" if q.route is None else f"route {_safe(q.route)!s}"
            lines.append(f"  {route}: {_safe(q.source_model)} -> {_safe(q.target_model)} "
                         f"({q.moved:,} moved): {q.note}")
        if len(r.quality) > len(shown):
            lines.append(f"  … and {len(r.quality) - len(shown):,} more (--json lists them all)")
    if r.caveats:
        lines += ["", "caveats"]
        lines += [f"  - {_safe(c)}" for c in r.caveats]
    return "\n".join(lines) + "\n"
