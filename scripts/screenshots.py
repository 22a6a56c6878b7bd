"""Regenerate ``screenshots/`` (SVG and PNG) from deterministic demo data.

Usage: ``python scripts/screenshots.py [OUTPUT_DIR]``. Every screen is rendered with the demo
traffic of :func:`plano_obs.tui.sample.sample_runtime` and a fixed clock, so the images only
change when the console does. PNGs need cairosvg (and the system libcairo) and an installed
monospace font; the SVG's Fira Code is swapped for DejaVu Sans Mono, with Noto Color Emoji for 🚩
(or a red ⚑ where no installed font has it).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp
from plano_obs.tui.sample import SAMPLE_NOW, sample_runtime

FONT = "'DejaVu Sans Mono', monospace"
EMOJI_FONT = "Noto Color Emoji"  # cairosvg does not fall back per glyph, so 🚩 gets its own
PNG_WIDTH_PER_COLUMN = 13


@dataclass(frozen=True)
class Scene:
    """One screenshot: a name, a terminal size, the keys pressed first, and the data."""

    name: str
    keys: Sequence[str] = ()
    size: tuple[int, int] = (120, 40)
    empty: bool = False


SCENES = (
    Scene("empty-state", empty=True),
    Scene("main"),
    Scene("main-80x24", size=(80, 24)),
    Scene("main-200x60", size=(200, 60)),
    Scene("errors-only", keys=("e",)),
    Scene("flagged-only", keys=("f",)),
    Scene("filter", keys=("slash", *"code generation", "enter")),
    Scene("empty-filter", keys=("e", "slash", *"no-such-model", "enter")),
    Scene("detail", keys=("enter",)),
    Scene("detail-trace", keys=("enter", "tab", "home"), size=(120, 50)),
    Scene("session", keys=("enter", "t")),
    Scene("help", keys=("question_mark",)),
    Scene("confirm-clear", keys=("c",)),
)


async def render(scene: Scene) -> str:
    """The SVG of ``scene``."""
    runtime = Runtime(Settings(offline=True)) if scene.empty else sample_runtime()
    app = ObsApp(runtime, clock=lambda: SAMPLE_NOW)
    async with app.run_test(size=scene.size) as pilot:
        await _settled(pilot)
        for key in scene.keys:
            await pilot.press(key)
            await _settled(pilot)
        app.clear_notifications()
        await pilot.pause()
        return app.export_screenshot(title=f"plano obs · {scene.name}")


async def _settled(pilot: Pilot) -> None:
    """Wait for every frame or load started so far to be drawn."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()  # what the draw scheduled after the refresh (the footer's keys)


def _flag_glyph() -> str:
    """🚩 in a font that has it, else DejaVu's red ⚑ (cairosvg draws a box for a missing glyph)."""
    try:
        found = subprocess.run(["fc-list", ":charset=1f6a9"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found = ""
    if found:
        return f'<tspan font-family="{EMOJI_FONT}">🚩</tspan>'
    return '<tspan font-family="DejaVu Sans Mono" fill="#e0304a">⚑</tspan>'


def to_png(svg: str, path: Path, columns: int) -> None:
    """Write ``svg`` as a PNG, with fonts this machine has."""
    import cairosvg

    svg = re.sub(r"font-family:\s*\"?Fira Code\"?,\s*monospace", f"font-family: {FONT}", svg)
    svg = re.sub(r"font-family:\s*\"Fira Code\"", f"font-family: {FONT}", svg)
    svg = svg.replace("🚩", _flag_glyph())
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(path),
                     output_width=columns * PNG_WIDTH_PER_COLUMN)


def main(argv: Sequence[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for scene in SCENES:
        svg = asyncio.run(render(scene))
        (out / f"{scene.name}.svg").write_text(svg, encoding="utf-8")
        to_png(svg, out / f"{scene.name}.png", scene.size[0])
        print(out / f"{scene.name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
