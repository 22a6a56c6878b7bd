"""Counts of Textual's own bookkeeping (watchers, timers), for the soak benchmark and tests.

A long-running console must keep these flat: each entry pins a widget, and a count that grows
with every redraw is a leak whatever the memory graph says at first.
"""

from __future__ import annotations

from collections.abc import Iterator

from textual.app import App
from textual.dom import DOMNode

__all__ = ["timer_count", "watcher_count"]


def _nodes(app: App) -> Iterator[DOMNode]:
    yield app
    for screen in app.screen_stack:
        yield screen
        yield from screen.walk_children(with_self=False)


def watcher_count(app: App) -> int:
    """Reactive watchers registered on the app, its screens and every widget they hold."""
    total = 0
    for node in _nodes(app):
        # Textual keeps watchers in a name-mangled attribute of the watched object.
        watchers: dict[str, list[object]] = getattr(node, "__watchers", {})
        total += sum(len(entries) for entries in watchers.values())
    return total


def timer_count(app: App) -> int:
    """Live timers (set_interval / set_timer) of the app, its screens and their widgets."""
    return sum(len(node._timers) for node in _nodes(app))
