"""Intents widgets post for the App to act on (screens never push each other)."""

from __future__ import annotations

from textual.message import Message

__all__ = ["TryOnAnotherModel"]


class TryOnAnotherModel(Message):
    """Open the what-if screen: these calls (a route, direct traffic or a model) elsewhere."""

    def __init__(self, *, route: str | None = None, direct: bool = False,
                 model: str | None = None) -> None:
        super().__init__()
        self.route = route
        self.direct = direct
        self.model = model
