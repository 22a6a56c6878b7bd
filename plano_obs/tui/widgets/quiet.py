"""Updates that cost nothing when nothing changed: content, titles and visibility.

A redraw twice a second sets every panel again; Textual repaints (and for content, lays the
whole screen out again) on every set, even of the same value. These skip what did not change,
and content is set without a layout pass: every panel that uses them has a fixed size.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

__all__ = ["set_content", "set_display", "set_title"]

_shown: WeakKeyDictionary[Widget, object] = WeakKeyDictionary()
_titles: WeakKeyDictionary[Widget, str] = WeakKeyDictionary()


def _signature(content: Text) -> object:
    return content.plain, tuple(content.spans), content.style


def set_content(widget: Static, content: Text) -> None:
    """Show ``content`` in ``widget`` unless it already shows the same text and styles."""
    signature = _signature(content)
    if _shown.get(widget) != signature:
        _shown[widget] = signature
        widget.update(content, layout=False)


def set_title(widget: Widget, title: str | Text) -> None:
    """Set ``widget``'s border title unless it is already that (a ``Text`` is never markup)."""
    key = title.plain if isinstance(title, Text) else title
    if _titles.get(widget) != key:
        _titles[widget] = key
        widget.border_title = title


def set_display(widget: Widget, shown: bool) -> None:
    """Show or hide ``widget``, only when that changes (it lays the screen out again)."""
    if widget.display != shown:
        widget.display = shown
