"""A row-cursor table that keeps the cursor on the same row while its rows are replaced."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


class KeptCursorTable(DataTable[Text]):
    """A ``DataTable`` keyed by id whose rows can be swapped without moving the user's place."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Drill in", id="drill",
                tooltip="On a call: open it (facts, cost, signals, trace)"),
    ]
    DEFAULT_CSS = """
    KeptCursorTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[str | Text], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._column_labels = list(columns)
        self._row_keys: list[str] = []

    def on_mount(self) -> None:
        self.add_columns(*self._column_labels)

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self._row_keys or not 0 <= self.cursor_row < len(self._row_keys):
            return None
        return self._row_keys[self.cursor_row]

    def replace_rows(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        """Show ``rows`` (key, cells); the cursor stays on its row's key when it is still shown."""
        keep = self.highlighted_key
        cursor_row, scroll_y = self.cursor_row, self.scroll_y
        self.clear()
        self._row_keys = [key for key, _ in rows]
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if not rows:
            return
        row = self._row_keys.index(keep) if keep in self._row_keys else min(
            cursor_row, len(rows) - 1)
        self.move_cursor(row=row, animate=False, scroll=False)
        self.call_after_refresh(self._restore_scroll, scroll_y)

    def _restore_scroll(self, scroll_y: float) -> None:
        self.scroll_to(y=scroll_y, animate=False, immediate=True)
        if self.has_focus:
            self.move_cursor(row=self.cursor_row, animate=False, scroll=True)
