"""A yes/no question in a modal dialog."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from plano_obs.tui.keys import QUIT_KEY
from plano_obs.tui.widgets.footer import KeysFooter


class ConfirmScreen(ModalScreen[bool]):
    """Asks ``question``; dismisses with True for yes."""

    BINDINGS = [
        QUIT_KEY,
        Binding("y", "answer(True)", "Yes", tooltip="Confirm", id="confirm_yes"),
        Binding("n,escape", "answer(False)", "No", key_display="n/esc", tooltip="Cancel",
                id="confirm_no"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question, id="confirm-question", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="confirm-yes")
                yield Button("Cancel (n, esc)", variant="primary", id="confirm-no")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
