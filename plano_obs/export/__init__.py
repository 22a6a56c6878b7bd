"""Headless JSON export: ``plano obs export`` writes the analytics document and checks gates."""

from plano_obs.export.gates import Gate, GateError, GateResult, check_gates, parse_gate

__all__ = ["Gate", "GateError", "GateResult", "check_gates", "parse_gate"]
