"""What every screen needs from the outside world: the runtime, the clock, where files go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plano_obs.files import write_atomic
from plano_obs.runtime import Runtime

__all__ = ["Context"]


@dataclass(frozen=True, slots=True)
class Context:
    """The runtime, an injectable clock (unix seconds) and the directory exports go to."""

    runtime: Runtime
    clock: Callable[[], float]
    export_dir: Path

    def write_json(self, prefix: str, text: str) -> Path:
        """Write ``text`` atomically to ``<export_dir>/<prefix>-<UTC time>.json`` ; no overwrite."""
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%d-%H%M%S")
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = self.export_dir / f"{prefix}-{stamp}.json"
        n = 1
        while path.exists():
            n += 1
            path = self.export_dir / f"{prefix}-{stamp}-{n}.json"
        write_atomic(path, text + "\n")
        return path.resolve()
