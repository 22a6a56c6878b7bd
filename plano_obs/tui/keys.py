"""Keys every screen offers, listed first so the footer shows them even on narrow terminals."""

from __future__ import annotations

from textual.binding import Binding

__all__ = ["GLOBAL_KEYS", "GLOBAL_KEY_IDS", "QUIT_KEY"]

#: Shown on every screen and dialog, so ``q`` visibly quits from anywhere.
QUIT_KEY = Binding("q", "app.quit", "Quit", id="quit", tooltip="Quit plano obs")
GLOBAL_KEYS = [
    Binding("question_mark", "app.help", "Help", key_display="?", id="help",
            tooltip="Every key and what each panel shows"),
    QUIT_KEY,
]
GLOBAL_KEY_IDS = frozenset(b.id for b in GLOBAL_KEYS)
