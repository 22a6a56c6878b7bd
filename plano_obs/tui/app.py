"""``plano obs``: the Textual app a person watches while gateway traffic flows."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from plano_obs.runtime import Runtime
from plano_obs.shutdown import QUIT_SIGNALS, on_signals
from plano_obs.tui.context import Context
from plano_obs.tui.keys import GLOBAL_KEY_IDS, GLOBAL_KEYS
from plano_obs.tui.messages import Confirm, OpenCall, OpenSession, TryOnAnotherModel
from plano_obs.tui.quit import DaemonThreads, QuitDeadline
from plano_obs.tui.screens.confirm import ConfirmScreen
from plano_obs.tui.screens.detail import DetailScreen
from plano_obs.tui.screens.help import HelpScreen, RenderedHelp, help_markdown, help_text_width
from plano_obs.tui.screens.main import MainScreen
from plano_obs.tui.screens.session import SessionScreen
from plano_obs.tui.screens.whatif import WhatIfScreen
from plano_obs.tui.widgets.accuracy import AccuracyTable
from plano_obs.tui.widgets.models import ModelTable
from plano_obs.tui.widgets.routes import RouteTable
from plano_obs.tui.widgets.table import RowTable

__all__ = ["ObsApp", "run_console"]


def _own(bindings: Sequence[BindingType]) -> list[Binding]:
    """A screen's bindings without the global ones (help lists those once)."""
    return [b for b in Binding.make_bindings(bindings) if b.id not in GLOBAL_KEY_IDS]


def _help_markdown() -> str:
    """The help of every screen: its keys (from the bindings) under the intro."""
    return help_markdown([
        ("Everywhere", GLOBAL_KEYS),
        ("Main screen", [*RowTable.BINDINGS, *ModelTable.BINDINGS, *RouteTable.BINDINGS,
                         *AccuracyTable.BINDINGS, *_own(MainScreen.BINDINGS)]),
        ("Call detail", _own(DetailScreen.BINDINGS)),
        ("Session", [*RowTable.BINDINGS, *_own(SessionScreen.BINDINGS)]),
        ("What if", _own(WhatIfScreen.BINDINGS)),
    ])


class HelpReady(Message):
    """The help, rendered ahead by a worker."""

    def __init__(self, rendered: RenderedHelp) -> None:
        super().__init__()
        self.rendered = rendered


class ObsApp(App[int]):
    """The live console over a started (or, in tests, merely built) ``Runtime``."""

    CSS_PATH = "obs.tcss"
    TITLE = "plano obs"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        *GLOBAL_KEYS,
        # Textual only hints at ctrl+q on ctrl+c; people watching a console expect it to quit.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c"),
        Binding("ctrl+p", "command_palette", "Commands", id="command_palette",
                tooltip="Every action of this screen by name, searchable"),
    ]

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], float] = time.time,
        export_dir: Path | None = None,
        on_quit: Callable[[int], None] | None = None,
    ) -> None:
        """``on_quit(exit_code)`` is told first whenever the user or a signal asks to quit."""
        super().__init__()
        self.ctx = Context(runtime=runtime, clock=clock, export_dir=export_dir or Path.cwd())
        self._on_quit = on_quit

    async def action_quit(self) -> None:
        self.quit_now()

    def post_message(self, message: Message) -> bool:
        """``ctrl+c`` starts the quit deadline as the key is queued, not once the app has
        worked through the messages queued before it (it always quits: a priority binding)."""
        if isinstance(message, events.Key) and message.key == "ctrl+c" and self._on_quit:
            self._on_quit(0)
        return super().post_message(message)

    def quit_now(self, exit_code: int = 0) -> None:
        """Leave the console with ``exit_code``, whatever screen is open."""
        if self._on_quit is not None:
            self._on_quit(exit_code)
        self.exit(return_code=exit_code)

    def get_default_screen(self) -> Screen:
        return MainScreen(self.ctx)

    def on_mount(self) -> None:
        self._prepare_help(self.size.width)

    @work(thread=True, exclusive=True, group="help", exit_on_error=False)
    def _prepare_help(self, columns: int) -> None:
        """Render the help in a worker at start, so the first ``?`` opens as fast as the next."""
        rendered = RenderedHelp(_help_markdown())
        width = help_text_width(columns)
        for fits in (width + 2, width):  # laid out without its scrollbar first, then with it
            rendered.render(fits)
        self.post_message(HelpReady(rendered))

    def on_help_ready(self, message: HelpReady) -> None:
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(message.rendered.markdown, message.rendered),
                                name="help")

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        if not self.is_screen_installed("help"):  # built once, kept for the next ?
            self.install_screen(HelpScreen(_help_markdown()), name="help")
        self.push_screen("help")

    # -- what screens ask for -------------------------------------------------------------

    def on_open_call(self, message: OpenCall) -> None:
        self.push_screen(DetailScreen(self.ctx, message.key, message.flagged))

    def on_open_session(self, message: OpenSession) -> None:
        self.push_screen(SessionScreen(self.ctx, message.session_id, message.flagged))

    def on_confirm(self, message: Confirm) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                message.on_answer(True)

        self.push_screen(ConfirmScreen(message.question, yes=message.yes), answered)

    def on_try_on_another_model(self, message: TryOnAnotherModel) -> None:
        """A Models or Routes row asks what its calls would have cost on another model."""
        self.push_screen(WhatIfScreen(self.ctx, route=message.route, direct=message.direct,
                                      model=message.model, window=message.window,
                                      now=message.now))

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
    """Run the console until the user quits or a quit signal arrives; returns the exit code."""
    deadline = QuitDeadline(sys.__stdin__.fileno() if sys.__stdin__ else None,
                            sys.__stderr__.fileno() if sys.__stderr__ else None)
    app = ObsApp(runtime, clock=runtime.clock, on_quit=deadline.arm)
    loop = asyncio.new_event_loop()
    loop.set_default_executor(DaemonThreads())

    def on_signal(_signum: int) -> None:
        # Runs between two bytecodes of the main thread: only hand the request to the loop.
        # Quitting on a signal is a normal stop, as in the plain status line: exit code 0.
        deadline.arm(0)
        loop.call_soon_threadsafe(app.quit_now, 0)

    try:
        with on_signals(on_signal, QUIT_SIGNALS):
            app.run(loop=loop)
    finally:
        loop.close()
    return app.return_code or 0
