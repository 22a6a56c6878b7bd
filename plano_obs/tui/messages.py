"""What a screen asks the App to do: open a call, open a session, confirm something.

Screens post these and never import each other; the App decides which screen to push.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from textual.message import Message

__all__ = ["Confirm", "OpenCall", "OpenSession", "TryOnAnotherModel"]


@dataclass
class OpenCall(Message):
    """Open the detail of the call with row key ``key``; ``n``/``p`` walk ``flagged``."""

    key: str
    flagged: tuple[str, ...] = ()


@dataclass
class OpenSession(Message):
    """Open every turn of session ``session_id``."""

    session_id: str
    flagged: tuple[str, ...] = ()


@dataclass
class Confirm(Message):
    """Ask ``question``; ``on_answer(True)`` runs only when the user says ``yes``."""

    question: str
    yes: str
    on_answer: Callable[[bool], object] = field(repr=False)


class TryOnAnotherModel(Message):
    """Open the what-if screen: these calls (a route, direct traffic or a model) elsewhere,
    over the window the screen shows (its name and end, unix seconds; the screen fills them in
    as the message passes)."""

    def __init__(self, *, route: str | None = None, direct: bool = False,
                 model: str | None = None) -> None:
        super().__init__()
        self.route = route
        self.direct = direct
        self.model = model
        self.window = "all"
        self.now: float | None = None

