"""The key footer: the most useful keys that fit the width, the rest in ``?`` help."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Footer

__all__ = ["KeysFooter"]

#: Actions in the order their keys give way to the width (first: kept longest). Help and
#: quit are always shown; keys not listed give way first.
FOOTER_ORDER: Sequence[str] = (
    "app.help", "app.quit", "back", "select", "filter", "cycle_window", "toggle_accuracy",
    "only('flagged')", "only('errors')", "session", "step(1)", "step(-1)", "toggle_pause",
    "cycle_sort", "dismiss_error", "copy_id", "pager", "export", "export_trace", "clear",
)


class KeysFooter(Footer):
    """Textual's compact ``Footer`` that fits its width and forgets the keys it replaced.

    Every rebuild binds each new key to the footer's ``compact`` flag, and Textual only drops
    the watchers of removed keys when that flag changes, which it never does here
    (Textualize/textual#6666): without pruning, each rebuild pins the old keys in memory.
    """

    def __init__(self, *, show_command_palette: bool = False) -> None:
        super().__init__(compact=True, show_command_palette=show_command_palette)

    async def recompose(self) -> None:
        await super().recompose()
        self.prune_watchers()
        self.fit_keys()

    def on_resize(self) -> None:
        self.fit_keys()

    def prune_watchers(self) -> None:
        """Drop the watchers of widgets that were removed from the screen."""
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not getattr(node, "_closing", False)
                          and not getattr(node, "_closed", False)]

    def fit_keys(self) -> None:
        """Show the keys that fit, most useful first, in their usual order."""
        keys = list(self.query("FooterKey"))  # Textual does not export the class
        if not keys:
            return

        def rank(key: Widget) -> int:
            try:
                return FOOTER_ORDER.index(getattr(key, "action", ""))
            except ValueError:
                return len(FOOTER_ORDER)

        room = self.size.width
        kept: set[Widget] = set()
        for key in sorted(keys, key=rank):
            label = key.render()
            width = (label.cell_len if isinstance(label, Text) else key.outer_size.width) + 1
            if width <= room:
                kept.add(key)
                room -= width
            else:
                room = 0  # a shorter key further down would jump the order
        for key in keys:
            key.display = key in kept
