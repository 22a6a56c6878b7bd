"""Reading recorded traffic: OTLP/JSON files as the OpenTelemetry Collector writes them.

A leaf, like ``_args``: the commands that read files import it, never each other.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from plano_obs.cli.diagnostics import UsageError

__all__ = ["read_otlp_json_files"]


def read_otlp_json_files(
    files: list[str], store: Any, decode: Any
) -> tuple[int, int, str | None]:
    """Ingest every line of every file; returns (good lines, bad lines, where the first bad was).

    A good line is an ``ExportTraceServiceRequest`` with at least one span in it.
    """
    good, bad, first = 0, 0, None
    for name in files:
        try:
            f: TextIO = open(name, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as e:
            raise UsageError(f"cannot read {name}: {e.strerror or e}") from None
        with f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError("not a JSON object")
                    result = decode(obj)
                    if not (result.calls or result.spans or result.rejected):
                        raise ValueError("no spans: not an OTLP/JSON ExportTraceServiceRequest")
                except (ValueError, TypeError, KeyError, RecursionError) as e:
                    bad += 1
                    if first is None:
                        first = f"{name}:{lineno}: {str(e).splitlines()[0][:200] if str(e) else e}"
                    continue
                good += 1
                store.ingest(result)
    return good, bad, first
