"""The key footer: the most useful keys that fit the width, the rest in ``?`` help.

One line of text, not one widget per key as Textual's ``Footer`` builds: that footer mounts a
dozen widgets whenever a key appears or goes away (a filter set, a row highlighted), which cost
more than the redraw that caused it, and leaves a watcher behind for each of them
(Textualize/textual#6666).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["FOOTER_ORDER", "FooterKey", "KeysFooter"]

#: Actions in the order their keys give way to the width (first: kept longest); help and quit
#: come first so that they always show. Keys not listed give way before these.
FOOTER_ORDER: Sequence[str] = (
    "app.help", "app.quit", "back", "close", "answer(True)", "answer(False)", "select",
    "filter", "cycle_window", "toggle_accuracy", "only('flagged')", "only('errors')",
    "session", "step(1)", "step(-1)", "toggle_pause", "cycle_sort", "dismiss_error",
    "copy_id('request')", "pager", "copy_id('trace')", "export", "export_trace", "clear",
    "command_palette",
)


@dataclass(frozen=True, slots=True)
class FooterKey:
    """One key as the footer shows it."""

    key: str  # what the key sends (for a click)
    display: str  # how the key is written (``⏎``, ``^p``, ``?``)
    description: str
    action: str
    enabled: bool


class KeysFooter(Widget):
    """The keys of the screen it is on, as one line that fits the width."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keys-footer--key", "keys-footer--description", "keys-footer--disabled"}
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeysFooter > .keys-footer--key { color: $footer-key-foreground; text-style: bold; }
    KeysFooter > .keys-footer--description { color: $footer-description-foreground; }
    KeysFooter > .keys-footer--disabled { color: $text-disabled; }
    """

    def __init__(self, *, show_command_palette: bool = False) -> None:
        super().__init__()
        self.show_command_palette = show_command_palette
        self.keys: list[FooterKey] = []  # the keys shown, left to right
        self._spans: list[tuple[int, int, FooterKey]] = []
        self._text = Text()
        self._for: tuple[object, ...] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.rebuild)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self.rebuild()

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.rebuild()

    def _available(self) -> list[FooterKey]:
        """Every key the screen offers now, one per action, in the screen's order."""
        app, out, seen = self.app, [], set()
        for active in self.screen.active_bindings.values():
            binding: Binding = active.binding
            if not binding.show or not binding.description:
                continue
            name = (binding.action, binding.description)
            if name in seen:
                continue
            seen.add(name)
            out.append(FooterKey(binding.key.split(",")[0], app.get_key_display(binding),
                                 binding.description, binding.action, active.enabled))
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            palette = Binding(app.COMMAND_PALETTE_BINDING, "command_palette", "Palette")
            out.append(FooterKey(palette.key, app.get_key_display(palette), "Palette",
                                 palette.action, True))
        return out

    def rebuild(self) -> None:
        """Lay out the keys that fit, most useful first, in their usual order."""
        if not self.is_attached:
            return
        available = self._available()

        def rank(key: FooterKey) -> int:
            try:
                return FOOTER_ORDER.index(key.action)
            except ValueError:
                return len(FOOTER_ORDER)

        room = self.size.width
        kept: set[FooterKey] = set()
        for key in sorted(available, key=rank):
            width = len(key.display) + 1 + len(key.description) + 1
            if width > room:
                break  # a shorter key further down would jump the order
            kept.add(key)
            room -= width
        shown = [key for key in available if key in kept]
        signature = (tuple(shown), self.size.width)
        if signature == self._for:
            return
        self._for = signature
        self.keys = shown
        key_style = self.get_component_rich_style("keys-footer--key")
        description_style = self.get_component_rich_style("keys-footer--description")
        disabled_style = self.get_component_rich_style("keys-footer--disabled")
        text, spans = Text(no_wrap=True, overflow="crop", end=""), []
        for key in shown:
            start = len(text)
            text.append(" ")
            text.append(key.display, style=key_style if key.enabled else disabled_style)
            text.append(" ")
            text.append(key.description,
                        style=description_style if key.enabled else disabled_style)
            spans.append((start, len(text), key))
        self._text, self._spans = text, spans
        self.refresh()

    def render(self) -> Text:
        return self._text

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it."""
        for start, end, key in self._spans:
            if start <= event.x < end and key.enabled:
                self.app.simulate_key(key.key)
                return
