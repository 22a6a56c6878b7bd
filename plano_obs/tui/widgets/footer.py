"""The key footer, without the watcher each rebuild used to leave behind."""

from __future__ import annotations

from textual.widgets import Footer

__all__ = ["KeysFooter"]


class KeysFooter(Footer):
    """Textual's compact ``Footer`` that forgets the keys it replaced.

    Every rebuild binds each new key to the footer's ``compact`` flag, and Textual only drops
    the watchers of removed keys when that flag changes, which it never does here
    (Textualize/textual#6666): without pruning, each rebuild pins the old keys in memory.
    """

    def __init__(self, *, show_command_palette: bool = False) -> None:
        super().__init__(compact=True, show_command_palette=show_command_palette)

    async def recompose(self) -> None:
        await super().recompose()
        self.prune_watchers()

    def prune_watchers(self) -> None:
        """Drop the watchers of widgets that were removed from the screen."""
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not getattr(node, "_closing", False)
                          and not getattr(node, "_closed", False)]
