"""Driving the console in tests: wait for what it reads in workers, never for a timer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static


async def settled(pilot: Pilot) -> None:
    """Wait until every frame, export or load started so far has arrived and been drawn."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()  # the frame's message is handled and drawn
    await pilot.pause()  # what the draw scheduled after the refresh (the footer's keys) too


@asynccontextmanager
async def running(app: App, size: tuple[int, int] = (120, 40)) -> AsyncIterator[Pilot]:
    """``app.run_test`` that yields once the first frame is on screen."""
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        yield pilot


async def ticked(pilot: Pilot) -> None:
    """Drive the main screen's refresh timer by hand until it reads a new frame, then settle.

    A tick only reads a frame once the last one's cost allows (a frame waits several times
    what the previous one took), so a few ticks may pass first; bounded.
    """
    screen = pilot.app.screen
    before = getattr(screen, "frame", None)
    for _ in range(1_000):
        screen.tick()  # type: ignore[attr-defined]
        await settled(pilot)
        if getattr(screen, "frame", None) is not before:
            return
    raise AssertionError("the refresh timer never read a new frame")


def screen_lines(app: App) -> list[str]:
    """The text of every line on the terminal, as the user sees it now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text."""
    return str(widget.content)


async def until(pilot: Pilot, check: Callable[[], bool], seconds: float = 4.0) -> None:
    """Let the app run until ``check()`` holds (bounded: the test fails otherwise)."""
    for _ in range(max(1, int(seconds / 0.02))):
        if check():
            return
        await pilot.pause(0.02)
    assert check()
