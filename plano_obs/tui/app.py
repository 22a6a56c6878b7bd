"""``plano obs``: the Textual app a person watches while gateway traffic flows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from plano_obs.runtime import Runtime
from plano_obs.tui.context import Context
from plano_obs.tui.keys import GLOBAL_KEY_IDS, GLOBAL_KEYS
from plano_obs.tui.screens.detail import DetailScreen
from plano_obs.tui.screens.help import HelpScreen, help_markdown
from plano_obs.tui.screens.main import MainScreen
from plano_obs.tui.screens.session import SessionScreen
from plano_obs.tui.widgets.models import ModelTable
from plano_obs.tui.widgets.routes import RouteTable
from plano_obs.tui.widgets.table import KeptCursorTable

__all__ = ["ObsApp", "run_console"]


def _own(bindings: Sequence[BindingType]) -> list[Binding]:
    """A screen's bindings without the global ones (help lists those once)."""
    return [b for b in Binding.make_bindings(bindings) if b.id not in GLOBAL_KEY_IDS]


class ObsApp(App[int]):
    """The live console over a started (or, in tests, merely built) ``Runtime``."""

    CSS_PATH = "obs.tcss"
    TITLE = "plano obs"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [*GLOBAL_KEYS]

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], float] = time.time,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.ctx = Context(runtime=runtime, clock=clock, export_dir=export_dir or Path.cwd())

    def get_default_screen(self) -> Screen:
        return MainScreen(self.ctx)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(help_markdown([
            ("Everywhere", GLOBAL_KEYS),
            ("Main screen", [*KeptCursorTable.BINDINGS, *ModelTable.BINDINGS,
                             *RouteTable.BINDINGS, *_own(MainScreen.BINDINGS)]),
            ("Call detail", _own(DetailScreen.BINDINGS)),
            ("Session", [*KeptCursorTable.BINDINGS, *_own(SessionScreen.BINDINGS)]),
        ])))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers every key that applies on this screen, then Textual's own."""
        for active in screen.active_bindings.values():
            binding, node = active.binding, active.node
            if active.enabled and binding.show and binding.description:
                yield SystemCommand(
                    binding.description, binding.tooltip or binding.description,
                    lambda b=binding, n=node: self.run_action(b.action, n))
        yield from super().get_system_commands(screen)


def run_console(runtime: Runtime) -> int:
    """Run the console until the user quits; returns the exit code."""
    app = ObsApp(runtime, clock=runtime.clock)
    app.run()
    return app.return_code or 0
