"""``?``: the keys of every screen and what the panels mean, rendered from Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

_KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc", "enter": "enter"}

INTRO = """\
# plano obs

A live console for the OpenTelemetry spans of a Plano gateway. Data keeps flowing while you
look around; **p** pauses the screen, never the ingest. Unknown values read as **—**, never 0.

* **Header**: where the console listens, pricing source and age, calls held, dropped spans.
* **Latest call** and **Totals** of the current window (**w**), with **Trends** per minute.
* **Models** and **Routes**: rollups of the window; **enter** on a row filters by it.
* **Cost accuracy** (**a**, in the place of Routes): per provider and model, the gateway's
  reported cost per million tokens beside the list price, their ratio (input/output) and the
  drift, flagged red beyond 15% over at least 20 compared calls. **derived** rows (no reported
  cost) are dim: 1.00 by construction, never flagged.
* **Error banner**: the most recent failed call, red for 5xx, yellow for 4xx.
* **🚩 Flagged**: calls the gateway flagged, worst quality first; **enter** opens one.
* **Recent calls**: newest first; the cursor stays on its call while new ones stream in.
"""


def _key(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return " / ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def help_markdown(sections: Sequence[tuple[str, Sequence[BindingType]]]) -> str:
    """The help text: an introduction, then one key table per screen."""
    parts = [INTRO]
    for title, bindings in sections:
        parts.append(f"\n## {title}\n\n| key | does |\n|---|---|")
        for b in Binding.make_bindings(bindings):
            if b.description:
                what = b.tooltip or b.description
                parts.append(f"| `{_key(b)}` | {what} |")
    return "\n".join(parts) + "\n"


class HelpScreen(ModalScreen[None]):
    """The help text; ``escape`` or ``?`` closes it (``q`` quits, as everywhere)."""

    BINDINGS = [
        Binding("escape,question_mark", "close", "Close help", tooltip="Close help",
                id="close_help"),
    ]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(self.markdown)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss()
