"""The gateway's agentic signals on an LLM span: layered categories, legacy keys, signal events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plano_obs.ingest._values import (
    MAX_NAME_CHARS,
    Bad,
    as_bool,
    as_float,
    as_int,
    as_str,
    attributes,
    bound,
)
from plano_obs.model import SIGNAL_CATEGORIES, SignalEvent, Signals

__all__ = ["SIGNAL_MARKER", "signal_event", "signals"]

#: Bytes every signal event's name and every signals attribute key hold: a span without them
#: has neither.
SIGNAL_MARKER = b"signal"

#: legacy aggregate key -> the layered category it stands for (used when the layered key is absent)
_LEGACY_COUNTS = {
    "signals.follow_up.repair.count": "interaction.misalignment",
    "signals.frustration.count": "interaction.disengagement",
    "signals.repetition.count": "interaction.stagnation",
    "signals.positive_feedback.count": "interaction.satisfaction",
}
_QUALITIES = frozenset(("excellent", "good", "neutral", "poor", "severe"))
_CATEGORY_KEYS = tuple(
    (category, f"signals.{category}.count", f"signals.{category}.severity")
    for category in SIGNAL_CATEGORIES
)


def _severity_for(count: int) -> int:
    return 0 if count <= 0 else 1 if count <= 2 else 2 if count <= 4 else 3


def signals(attrs: Mapping[str, Any], events: list[SignalEvent]) -> Signals | None:
    """The signal analysis in a span's attributes and ``signal.*`` events (None when none)."""
    get = attrs.get
    quality = as_str(get("signals.quality"), "signals.quality")
    turns = as_int(get("signals.turn_count"), "signals.turn_count")
    categories: dict[str, tuple[int, int | None]] = {}
    for category, count_key, severity_key in _CATEGORY_KEYS:
        if count_key in attrs:
            count = as_int(attrs[count_key], count_key)
            if count is None or count == 0:
                continue
            if count < 0:
                raise Bad(f"{count_key}: negative count {count}")
            severity = as_int(get(severity_key), severity_key)
            if severity is not None and not 0 <= severity <= 3:
                raise Bad(f"{severity_key}: out of 0-3: {severity}")
            categories[category] = (count, severity)
    for key, category in _LEGACY_COUNTS.items():
        if key in attrs and category not in categories:
            count = as_int(attrs[key], key)
            if count is not None and count < 0:
                raise Bad(f"{key}: negative count {count}")
            if count:
                severity = None
                if key == "signals.frustration.count":
                    severity = as_int(get("signals.frustration.severity"),
                                      "signals.frustration.severity")
                if severity is None:
                    severity = _severity_for(count)
                categories[category] = (count, severity)
    if "signals.escalation.requested" in attrs and "interaction.disengagement" not in categories:
        if as_bool(attrs["signals.escalation.requested"], "signals.escalation.requested"):
            categories["interaction.disengagement"] = (1, 1)
    if quality is None and turns is None and not categories and not events and not (
        "signals.quality_score" in attrs or "signals.efficiency_score" in attrs
    ):
        return None
    if quality is not None:
        quality = quality.strip().lower()
        if quality not in _QUALITIES:
            raise Bad(f"signals.quality: unknown value {quality[:40]!r}")
    score = as_float(get("signals.quality_score"), "signals.quality_score")
    if score is not None and not 0 <= score <= 100:
        raise Bad(f"signals.quality_score: out of 0-100: {score}")
    efficiency = as_float(get("signals.efficiency_score"), "signals.efficiency_score")
    if efficiency is not None and not 0 <= efficiency <= 1:
        raise Bad(f"signals.efficiency_score: out of 0-1: {efficiency}")
    if turns is not None and turns < 0:
        raise Bad(f"signals.turn_count: negative: {turns}")
    return Signals(
        quality=quality,
        quality_score=score,
        turn_count=turns,
        efficiency_score=efficiency,
        categories=categories,
        events=events,
    )


def signal_event(ev: Any) -> SignalEvent:
    """One ``signal.<layer>.<category>.<leaf>`` span event."""
    attrs = attributes(ev.attributes)
    confidence = as_float(attrs.get("signal.confidence"), "signal.confidence")
    if confidence is not None and not 0 <= confidence <= 1:
        raise Bad(f"signal.confidence: out of 0-1: {confidence}")
    index = as_int(attrs.get("signal.message_index"), "signal.message_index")
    if index is not None and index < 0:
        raise Bad(f"signal.message_index: negative: {index}")
    metadata = attrs.get("signal.metadata")
    return SignalEvent(
        name=bound(ev.name, MAX_NAME_CHARS),
        type=as_str(attrs.get("signal.type"), "signal.type") or ev.name[len("signal."):],
        time_ns=ev.time_unix_nano or None,
        message_index=index,
        confidence=confidence,
        snippet=as_str(attrs.get("signal.snippet"), "signal.snippet"),
        metadata=metadata if isinstance(metadata, str) else None,
    )
