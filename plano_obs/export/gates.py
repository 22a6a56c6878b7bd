"""``--fail-on`` thresholds: parse ``metric op value`` and check them against a document."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from plano_obs.analytics.document import ExportDocument

__all__ = ["GATE_METRICS", "Gate", "GateError", "GateResult", "check_gates", "parse_gate"]


class GateError(ValueError):
    """A ``--fail-on`` expression that cannot be used; the message is one line."""


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
}
_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|==|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                 r"\s*$")

#: Metric name -> how to read it from a document (None = unknown).
GATE_METRICS: dict[str, Callable[[ExportDocument], float | None]] = {
    "requests": lambda d: d.summary.requests,
    "errors": lambda d: d.summary.errors,
    "errors_4xx": lambda d: d.summary.errors_4xx,
    "errors_5xx": lambda d: d.summary.errors_5xx,
    "error_rate": lambda d: d.summary.error_rate,
    "p50_latency_ms": lambda d: d.summary.latency_ms.p50,
    "p95_latency_ms": lambda d: d.summary.latency_ms.p95,
    "p99_latency_ms": lambda d: d.summary.latency_ms.p99,
    "max_latency_ms": lambda d: d.summary.latency_ms.max,
    "p50_ttft_ms": lambda d: d.summary.ttft_ms.p50,
    "p95_ttft_ms": lambda d: d.summary.ttft_ms.p95,
    "p99_ttft_ms": lambda d: d.summary.ttft_ms.p99,
    "cost_usd": lambda d: d.summary.cost_usd,
    "priced_requests": lambda d: d.summary.priced_requests,
    "unpriced_requests": lambda d: d.summary.unpriced_requests,
    "ambiguous_requests": lambda d: d.summary.ambiguous_requests,
    "cost_drift_pct": lambda d: d.cost_accuracy.max_drift_pct if d.cost_accuracy else None,
    "flagged": lambda d: d.summary.flagged,
    "rejected_spans": lambda d: d.summary.rejected_spans,
    "input_tokens": lambda d: d.summary.input_tokens,
    "output_tokens": lambda d: d.summary.output_tokens,
    "tokens_per_second": lambda d: d.summary.tokens_per_second,
}


#: Why a metric can be unknown, when it is not simply that no call reported it.
_UNKNOWN_BECAUSE = {
    "cost_drift_pct": "no provider or model has 20 calls with both a gateway-reported cost "
                      "and a catalog price",
}


@dataclass(frozen=True, slots=True)
class Gate:
    """One threshold: the export fails when ``metric op threshold`` holds."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


@dataclass(frozen=True, slots=True)
class GateResult:
    """The outcome of one gate; ``message`` says why it broke."""

    gate: Gate
    value: float | None
    broken: bool
    message: str


def parse_gate(text: str, metrics: Mapping[str, Callable[[Any], float | None]] = GATE_METRICS
               ) -> Gate:
    """Parse ``'p95_latency_ms>2000'`` against ``metrics``; GateError has a one-line reason."""
    m = _RE.match(text)
    if m is None:
        raise GateError(f"bad --fail-on {text!r}: expected METRIC OP NUMBER with OP one of "
                        f"> >= < <= ==, e.g. 'p95_latency_ms>2000'")
    metric, op, number = m.groups()
    if metric not in metrics:
        raise GateError(f"bad --fail-on {text!r}: unknown metric {metric!r}; use one of "
                        f"{', '.join(metrics)}")
    return Gate(metric, op, float(number))


def check_gates(doc: Any, gates: list[Gate],
                metrics: Mapping[str, Callable[[Any], float | None]] = GATE_METRICS
                ) -> list[GateResult]:
    """Evaluate every gate on ``doc``; an unknown (null) metric breaks its gate, never passes."""
    results = []
    for gate in gates:
        value = metrics[gate.metric](doc)
        if value is None:
            why = _UNKNOWN_BECAUSE.get(gate.metric, "no call reported it")
            results.append(GateResult(gate, None, True,
                                      f"{gate}: {gate.metric} is unknown ({why})"))
            continue
        broken = _OPS[gate.op](float(value), gate.threshold)
        verdict = "broke" if broken else "held"
        results.append(GateResult(gate, float(value), broken,
                                  f"{gate}: {verdict} ({gate.metric} = {value:g})"))
    return results
