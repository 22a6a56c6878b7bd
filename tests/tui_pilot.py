"""Driving the console in tests: wait for what it reads in workers, never for a timer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App
from textual.pilot import Pilot


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
