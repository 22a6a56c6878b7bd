"""``?``: the keys of every screen and what the panels mean, rendered from Markdown."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget

from plano_obs.tui.keys import QUIT_KEY
from plano_obs.tui.widgets.footer import KeysFooter

_KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc", "enter": "enter"}

INTRO = """\
# plano obs

A live console for the OpenTelemetry spans of a Plano gateway. Data keeps flowing while you
look around; **p** pauses the screen, never the ingest. Unknown values read as **—**, never 0.

**esc** or **?** closes this help; **↑ ↓ PgUp PgDn** scroll it; **q** quits from anywhere.

## Moving around

* **Tab** / **shift+Tab** go from table to table (Flagged, Models, Routes, Recent calls);
  the table with the focus has a bright border and its cursor row is always on screen.
* **↑ ↓ PgUp PgDn Home End** move the cursor; **enter** opens the call under it (on Models
  and Routes: filters by that row). A click on a row moves there, a second click opens it.
* **esc** goes back one step: closes the filter box, then drops the filters; on a call or a
  session, returns to where you were; in a dialog, answers no.
* **ctrl+p** opens the command palette: every action of this screen by name, searchable.
* **q** or **ctrl+c** quit at once, from any screen (in the filter box, q is a letter).

## What the panels show

* **Header**: where the console listens, pricing source and age, calls held, rejected,
  refused or evicted spans; `reading…` while a new window's rollups are on their way.
* **Latest call** and **Totals** of the current window (**w**), with **Trends** per minute.
* **Error banner**: the most recent failed call, red for 5xx, yellow for 4xx (**d** hides it).
* **🚩 Flagged**: calls the gateway flagged, worst first (quality, then severity, then cost).
* **Models** and **Routes**: rollups of the window; ▼ marks the column a table is sorted by.
* **Cost accuracy** (**a**, in the place of Routes): per provider and model, the gateway's
  reported cost per million tokens beside the list price, their ratio (input/output) and the
  drift, flagged red beyond 15% over at least 20 compared calls. **derived** rows (no reported
  cost) are dim: 1.00 by construction, never flagged.
* **Recent calls**: the newest on top while the cursor is on the top row; move the cursor
  down and the list holds still on your call, counting the newer calls; **Home** follows
  again.

## Reading the numbers

* **Quality** (🚩 severe 11): the gateway's verdict on the conversation, from worst to best
  severe, poor, neutral, good, excellent; the number is its **quality score**, 0–100,
  lower is worse.
* **Severity dots** (Signals on a call): ●○○ 1–2 instances of a category, ●●○ 3–4, ●●● 5 or
  more. A category's count is how many times it fired in the conversation.
* **Cost**: every row of a column has the same number of decimals, so the points line up.
  A call has no cost either because its model has no price (**unpriced**) or because it
  reported no token usage, as most failed calls do (**no usage**); Totals count them apart.
  Neither ever counts as $0.
* **Age**: time since the call ended (`45s`, `12m`, `3h`).
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


def render_markdown(markdown: str, width: int) -> list[Strip]:
    """``markdown`` as Rich renders it ``width`` cells wide, one strip per line."""
    console = Console(width=width, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    lines = console.render_lines(RichMarkdown(markdown, hyperlinks=False),
                                 console.options.update_width(width), pad=False)
    return [Strip([s for s in line if not s.control]) for line in lines]


class RenderedHelp:
    """The help text rendered once per width: Rich's Markdown takes a good part of a second
    for this text on a busy machine, and a widget holding it would render it again for each
    layout pass. A worker renders it ahead (``render``), before anyone presses ``?``."""

    def __init__(self, markdown: str) -> None:
        self.markdown = markdown
        self._by_width: dict[int, list[Strip]] = {}

    def render(self, width: int) -> list[Strip]:
        """The lines ``width`` cells wide (rendered now unless they already were)."""
        lines = self._by_width.get(width)
        if lines is None:
            lines = self._by_width[width] = render_markdown(self.markdown, width)
        return lines


def help_text_width(columns: int) -> int:
    """How wide the help's text is on a terminal ``columns`` wide (see ``#help-body``: 90%
    of the width up to 100, a border, padding and a scrollbar)."""
    return min(columns * 9 // 10, 100) - 2 - 2 - 2


class HelpText(Widget):
    """The help's Markdown, drawn line by line from its rendering for the width it gets
    (only the lines in view are drawn)."""

    DEFAULT_CSS = "HelpText { height: auto; }"

    def __init__(self, rendered: RenderedHelp, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rendered = rendered

    @property
    def plain(self) -> str:
        """The text it shows at its current width."""
        return "\n".join(line.text for line in self.rendered.render(max(1, self.size.width)))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.rendered.render(max(1, width)))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self.rendered.render(max(1, width))
        base = self.rich_style
        if y >= len(lines):
            return Strip.blank(width, base)
        return lines[y].adjust_cell_length(width, base).apply_style(base)


class HelpScreen(ModalScreen[None]):
    """The help text; ``escape`` or ``?`` closes it (``q`` quits, as everywhere)."""

    BINDINGS = [
        QUIT_KEY,
        Binding("escape,question_mark", "close", "Close help", key_display="esc",
                tooltip="Close help", id="close_help"),
    ]

    def __init__(self, markdown: str, rendered: RenderedHelp | None = None) -> None:
        super().__init__()
        self.markdown = markdown
        self.rendered = rendered if rendered is not None else RenderedHelp(markdown)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpText(self.rendered, id="help-text")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss()
