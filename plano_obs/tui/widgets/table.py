"""A keyed, row-cursor table that renders only the rows on screen and fits its columns.

Textual's ``DataTable`` measures every cell of every row each time rows are replaced, which
is most of a live console's UI time at a few hundred rows a refresh. This table keeps rows as
ready-made ``Text`` cells, lays out columns once per change, and draws only visible lines.

Columns fit the width they get: numbers are never cut; text columns are shortened (ending in
``…``) and then dropped, least important first, before any number is; spare width goes to
the columns that grow (model and route names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["ESSENTIAL", "Column", "RowTable", "fit_columns"]

#: Cells between two columns.
GAP = 1
#: Marks the column a table is sorted by (largest first).
SORT_MARK = "▼"
#: Columns kept at any width (model, status, cost, age): shortened, never dropped.
ESSENTIAL = 90


@dataclass(frozen=True, slots=True)
class Column:
    """How one column shows and gives way when the table is narrow.

    ``keep``: columns with a lower value give way first; at ``ESSENTIAL`` and above they are
    never dropped. Numbers (``numeric``) are never shortened, only dropped whole.
    ``min_width``: the shortest a text column gets before it is dropped. ``max_width``: the
    most a text column takes, unless it ``grow``s into width nobody else needs.
    """

    label: str
    numeric: bool = False
    keep: int = 0
    min_width: int = 6
    max_width: int = 40
    grow: bool = False
    sort: str | None = None  # the sort this column stands for, marked in the header


def fit_columns(columns: Sequence[Column], content: Sequence[int], width: int
                ) -> list[tuple[int, int]]:
    """(column index, width) of the columns shown in ``width`` cells, in column order.

    ``content`` is each column's widest cell (header included). Least important first
    (``keep``), a text column is shortened down to its ``min_width`` and then dropped, and a
    number dropped whole, until the rest fits. Columns with ``keep`` of ``ESSENTIAL`` or more
    are never dropped: if they alone are too wide, the text among them is cut further.
    """
    sizes = [c if col.numeric else min(c, col.max_width)
             for col, c in zip(columns, content, strict=True)]
    want = list(sizes)
    shown = list(range(len(columns)))

    def total() -> int:
        return sum(sizes[i] for i in shown) + GAP * max(0, len(shown) - 1)

    for i in sorted(shown, key=lambda i: (columns[i].keep, columns[i].numeric)):
        if total() <= width:
            break
        col = columns[i]
        if not col.numeric:
            sizes[i] = max(min(want[i], col.min_width), sizes[i] - (total() - width))
            if total() <= width:
                break
        if col.keep < ESSENTIAL:
            shown.remove(i)
    for i in sorted((i for i in shown if not columns[i].numeric), key=lambda i: columns[i].keep):
        if total() <= width:
            break
        sizes[i] = max(1, sizes[i] - (total() - width))
    # Width left over goes back to shortened text first, then to the columns that grow.
    spare = width - total()
    for i in sorted(shown, key=lambda i: -columns[i].keep):
        if spare <= 0:
            break
        if sizes[i] < want[i]:
            extra = min(spare, want[i] - sizes[i])
            sizes[i] += extra
            spare -= extra
    # Growing columns may pass their max_width, up to their widest cell.
    growing = [i for i in shown if columns[i].grow and sizes[i] < content[i]]
    while spare > 0 and growing:
        share = max(1, spare // len(growing))
        for i in list(growing):
            extra = min(share, content[i] - sizes[i], spare)
            sizes[i] += extra
            spare -= extra
            if sizes[i] >= content[i]:
                growing.remove(i)
    # Still room: any text cut at its max_width is shown whole, as far as the width goes.
    for i in shown:
        if spare <= 0:
            break
        if not columns[i].numeric and sizes[i] < content[i]:
            extra = min(spare, content[i] - sizes[i])
            sizes[i] += extra
            spare -= extra
    return [(i, sizes[i]) for i in shown]


def _same_cells(a: Sequence[Text], b: Sequence[Text]) -> bool:
    """True when two rows show the same text in the same styles."""
    return a is b or (len(a) == len(b) and all(
        x is y or (x.plain == y.plain and x.spans == y.spans and x.style == y.style)
        for x, y in zip(a, b, strict=True)))


class RowTable(ScrollView, can_focus=True):
    """Rows keyed by id under a fixed header; ``enter`` selects the row under the cursor."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", id="drill",
                tooltip="On a call: open it (facts, cost, signals, trace)"),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First row", show=False),
        Binding("end", "edge(1)", "Last row", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-table--header", "row-table--cursor", "row-table--cursor-blurred",
        "row-table--odd", "row-table--empty",
    }
    DEFAULT_CSS = """
    RowTable { height: 1fr; scrollbar-size-horizontal: 0; }
    RowTable > .row-table--header { text-style: bold; color: $text-accent; }
    RowTable > .row-table--cursor { background: $block-cursor-background;
        color: $block-cursor-foreground; text-style: bold; }
    RowTable > .row-table--cursor-blurred { background: $primary 30%; }
    RowTable > .row-table--odd { background: $surface-lighten-1 40%; }
    RowTable > .row-table--empty { color: $text-muted; text-style: italic; }
    """

    class Highlighted(Message):
        """The cursor moved to another row (``key`` None: the table is empty)."""

        def __init__(self, table: RowTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    class Selected(Message):
        """``enter`` (or a click on the cursor row) chose the row ``key``."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[str] = []
        self._cells: list[Sequence[Text]] = []
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._layout: list[tuple[int, int]] = []
        self._layout_for: tuple[int, tuple[int, ...]] | None = None
        self._content = [cell_len(c.label) for c in self.COLUMNS]
        # id(cells) -> (cells, rendered row) for this layout; the cells are kept so that an
        # id is never reused by another row while its entry lives.
        self._lines: dict[int, tuple[Sequence[Text], Strip]] = {}
        self._measured: dict[int, tuple[Text, int]] = {}  # id(cell) -> (cell, its width)
        self.sort: str | None = None
        self.empty_text = "nothing yet"  # one line per "\n"
        self._last_highlight: str | None = None

    # -- reading ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def row_keys(self) -> list[str]:
        """Keys of the rows, top to bottom."""
        return list(self._keys)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        return self._keys[self._cursor] if self._keys else None

    def cells_at(self, row: int) -> Sequence[Text]:
        """The cells of row ``row`` (all columns, shown or not)."""
        return self._cells[row]

    def cell(self, key: str, label: str) -> Text:
        """The cell of row ``key`` in the column labelled ``label``."""
        return self.cell_at(self._index[key], label)

    def cell_at(self, row: int, label: str) -> Text:
        """The cell of row ``row`` in the column labelled ``label``."""
        index = [c.label for c in self.COLUMNS].index(label)
        return self._cells[row][index]

    @property
    def shown_columns(self) -> list[str]:
        """Labels of the columns that fit the current width, left to right."""
        self._ensure_layout()
        return [self.COLUMNS[i].label for i, _ in self._layout]

    @property
    def visible_rows(self) -> int:
        """How many rows fit under the header."""
        return max(0, self.scrollable_content_region.height - 1)

    # -- changing -----------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Text]]], *, follow: bool = False
                 ) -> None:
        """Show ``rows`` (key, one cell per column). The cursor stays on its key when that
        row is still here, else at the same position, and always in view; with ``follow``
        a cursor on the top row stays on the top row, on the newest data."""
        if len(rows) == len(self._keys) and all(
                key == k and _same_cells(cells, c)
                for (key, cells), k, c in zip(rows, self._keys, self._cells, strict=True)):
            return  # the same rows: nothing to lay out or paint
        keep = None if follow and self._cursor == 0 else self.highlighted_key
        old_cursor, old_scroll = self._cursor, round(self.scroll_y)
        self._keys = [key for key, _ in rows]
        self._cells = [cells for _, cells in rows]
        self._index = {key: i for i, key in enumerate(self._keys)}
        widths = [cell_len(c.label) + (2 if c.sort else 0) for c in self.COLUMNS]
        measured, known = {}, self._measured
        for cells in self._cells:
            for i, cell in enumerate(cells):
                hit = known.get(id(cell))
                n = hit[1] if hit is not None and hit[0] is cell else cell.cell_len
                measured[id(cell)] = (cell, n)
                if n > widths[i]:
                    widths[i] = n
        self._measured = measured
        if widths != self._content:
            self._content = widths
            self._layout_for = None
        live = {id(cells) for cells in self._cells}
        self._lines = {k: v for k, v in self._lines.items() if k in live}
        if keep is not None and keep in self._index:
            self._cursor = self._index[keep]
        else:
            self._cursor = min(old_cursor, max(0, len(self._keys) - 1))
        self.virtual_size = Size(0, len(self._keys) + 1)
        # The rows around the cursor stay where the eye left them.
        self._keep_cursor_in_view(old_scroll + (self._cursor - old_cursor) if keep in self._index
                        else old_scroll)
        self.refresh()
        self._announce()

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and scroll it into view."""
        if not self._keys:
            return
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            self._cursor = row
            self.refresh()
        self._keep_cursor_in_view(round(self.scroll_y))
        self._announce()

    def _announce(self) -> None:
        key = self.highlighted_key
        if key != self._last_highlight:
            self._last_highlight = key
            self.post_message(self.Highlighted(self, key))

    def _keep_cursor_in_view(self, top: int) -> None:
        """Scroll near ``top`` while keeping the cursor row in view."""
        visible = max(1, self.visible_rows)
        top = max(0, min(top, len(self._keys) - visible))
        if self._cursor < top:
            top = self._cursor
        elif self._cursor >= top + visible:
            top = self._cursor - visible + 1
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, immediate=True)

    # -- keys and mouse -----------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self._cursor + delta)

    def action_page(self, delta: int) -> None:
        self.move_cursor(self._cursor + delta * max(1, self.visible_rows - 1))

    def action_edge(self, direction: int) -> None:
        self.move_cursor(0 if direction < 0 else len(self._keys) - 1)

    def action_select(self) -> None:
        key = self.highlighted_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = round(self.scroll_y) + offset.y - 1
        if not 0 <= row < len(self._keys):
            return
        if row == self._cursor and event.chain >= 1 and self.has_focus:
            self.action_select()
        else:
            self.move_cursor(row)

    def on_focus(self) -> None:
        self._keep_cursor_in_view(round(self.scroll_y))
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._layout_for = None
        self.virtual_size = Size(0, len(self._keys) + 1)
        self._keep_cursor_in_view(round(self.scroll_y))

    # -- drawing ------------------------------------------------------------------------------

    def _ensure_layout(self) -> None:
        width = self.scrollable_content_region.width
        signature = (width, tuple(self._content))
        if signature != self._layout_for:
            self._layout_for = signature
            self._layout = fit_columns(self.COLUMNS, self._content, width)
            self._lines.clear()

    def _line_text(self, cells: Sequence[Text]) -> Text:
        line = Text(no_wrap=True, end="")
        for n, (i, width) in enumerate(self._layout):
            if n:
                line.append(" " * GAP)
            cell = cells[i]
            if cell.cell_len > width:
                cell = cell.copy()
                cell.truncate(width, overflow="ellipsis")
            pad = " " * (width - cell.cell_len)
            if self.COLUMNS[i].numeric:
                line.append(pad)
                line.append_text(cell)
            else:
                line.append_text(cell)
                line.append(pad)
        return line

    def _header(self) -> Text:
        labels = []
        for i, _ in self._layout:
            col = self.COLUMNS[i]
            label = col.label
            if col.sort is not None and col.sort == self.sort:
                label = f"{label} {SORT_MARK}" if not col.numeric else f"{SORT_MARK} {label}"
            labels.append(Text(label))
        return self._line_text_of(labels)

    def _line_text_of(self, labels: list[Text]) -> Text:
        cells: list[Text] = [Text()] * len(self.COLUMNS)
        for (i, _), label in zip(self._layout, labels, strict=True):
            cells[i] = label
        return self._line_text(cells)

    def render_line(self, y: int) -> Strip:
        self._ensure_layout()
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("row-table--header", partial=True)
            return self._strip(self._header(), style, width)
        row = round(self.scroll_y) + y - 1
        if not self._keys:
            lines = self.empty_text.split("\n")
            if 1 <= y <= len(lines):
                empty = self.get_component_rich_style("row-table--empty", partial=True)
                return self._strip(Text(f" {lines[y - 1]}"), base + empty, width)
            return Strip.blank(width, base)
        if row >= len(self._keys):
            return Strip.blank(width, base)
        cells = self._cells[row]
        cached = self._lines.get(id(cells))
        if cached is not None and cached[0] is cells:
            strip = cached[1]
        else:
            strip = Strip(self._line_text(cells).render(self.app.console)
                          ).adjust_cell_length(width)
            self._lines[id(cells)] = (cells, strip)
        if row == self._cursor:
            name = "row-table--cursor" if self.has_focus else "row-table--cursor-blurred"
            style = base + self.get_component_rich_style(name, partial=True)
            # The cursor's colours win over the cells' own, so the row reads as one bar.
            return strip.apply_style(style).apply_style(Style(bgcolor=style.bgcolor))
        if row % 2:
            return strip.apply_style(base + self.get_component_rich_style("row-table--odd",
                                                                          partial=True))
        return strip.apply_style(base)

    def _strip(self, text: Text, style: Style, width: int) -> Strip:
        segments = [Segment(s.text, style + s.style if s.style else style, s.control)
                    for s in text.render(self.app.console)]
        return Strip(segments).adjust_cell_length(width, style)
