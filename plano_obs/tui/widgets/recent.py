"""Recent calls, newest first: following the newest while the cursor is on the top row,
held still (on the user's call) once the cursor moves down."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from rich.text import Text

from plano_obs.model import LLMCall
from plano_obs.tui.text import (
    CALL_COST_DIGITS,
    age,
    clean,
    ms,
    plural,
    safe,
    status_text,
    tokens,
    usd_decimals,
    usd_fixed,
)
from plano_obs.tui.view import call_key
from plano_obs.tui.widgets.quiet import set_title
from plano_obs.tui.widgets.table import Column, RowTable

#: Rows kept ready to show again (a few screens' worth of calls under several filters).
_CACHED_ROWS = 2_000


class RecentTable(RowTable):
    """Calls that pass the view's filters; ``enter`` opens one.

    ``follow``: new calls come in at the top while the cursor is on the top row; with the
    cursor further down the rows are held (ages still tick) and the title counts the newer
    calls, as a pager stops following a log once you scroll up.
    """

    COLUMNS = (
        Column("Age", numeric=True, keep=100),
        Column("🚩", keep=70, min_width=2, max_width=2),
        Column("Status", numeric=True, keep=95),
        Column("Model", keep=90, min_width=12, max_width=48, grow=True),
        Column("Asked", keep=5, min_width=8, max_width=24),
        Column("Route", keep=30, min_width=8, max_width=32, grow=True),
        Column("Session", keep=10, min_width=8, max_width=20),
        Column("In", numeric=True, keep=45),
        Column("Out", numeric=True, keep=45),
        Column("Latency", numeric=True, keep=60),
        Column("Cost", numeric=True, keep=100),
    )

    def __init__(self, *, id: str | None = None, follow: bool = True) -> None:
        super().__init__(id=id)
        self.follow = follow
        self.calls: list[LLMCall] = []
        # call key -> (cost decimals, its cells but the age, {age: whole row})
        self._cells_by_key: OrderedDict[
            str, tuple[int, tuple[Text, ...], dict[str, tuple[Text, ...]]]] = OrderedDict()
        self._offered: list[LLMCall] = []
        self._now = 0.0
        self._title = ""
        self._source: object = None

    @property
    def held(self) -> bool:
        """True while new calls wait above the rows shown (the cursor is not on top)."""
        return self.follow and bool(self.calls) and self.cursor_row > 0

    def show(self, calls: Sequence[LLMCall], now: float, title: str, source: object = None
             ) -> None:
        """Render ``calls`` under ``title``; ``source`` names the filters that chose them (a
        held list is replaced when they change)."""
        held = self.held and source == self._source
        self._offered, self._now, self._title, self._source = list(calls), now, title, source
        self._show_calls(self.calls if held else self._offered)

    def move_cursor(self, row: int) -> None:
        """Back on the top row, a held list catches up with the newest calls at once."""
        super().move_cursor(row)
        if self.follow and self.cursor_row == 0 and self.calls is not self._offered:
            self._show_calls(self._offered)

    def _show_calls(self, shown: list[LLMCall]) -> None:
        self.calls = shown
        title = self._title
        if shown is not self._offered and shown:
            top = call_key(shown[0].trace_id, shown[0].span_id)
            keys = [call_key(c.trace_id, c.span_id) for c in self._offered]
            newer = keys.index(top) if top in keys else len(keys)
            if newer:
                more = "+" if newer == len(keys) else ""
                title += f" · held · {plural(newer, 'newer call')}{more} · home follows"
        set_title(self, title)
        now = self._now
        decimals = usd_decimals((c.cost_usd for c in shown), CALL_COST_DIGITS)
        cache = self._cells_by_key
        rows = []
        for c in shown:
            key = call_key(c.trace_id, c.span_id)
            when = age(c.end_ns / 1e9, now)
            hit = cache.get(key)
            if hit is None or hit[0] != decimals:
                hit = cache[key] = (decimals, self._row_cells(c, decimals), {})
            else:
                cache.move_to_end(key)
            # Only the age moves from one refresh to the next: one row per age it showed.
            by_age = hit[2]
            cells = by_age.get(when)
            if cells is None:
                by_age.clear()
                cells = by_age[when] = (Text(when), *hit[1])
            rows.append((key, cells))
        # Rows built once are reused while their age reads the same, also across filters.
        while len(cache) > _CACHED_ROWS:
            cache.popitem(last=False)
        self.set_rows(rows, follow=self.follow)

    @staticmethod
    def _row_cells(c: LLMCall, decimals: int) -> tuple[Text, ...]:
        """Every cell of the call's row but the first (its age)."""
        asked = c.model_requested if c.model_requested != c.model else None
        return (
            Text("🚩" if c.flagged else ""),
            status_text(c.status_code),
            safe(c.model, "bold"),
            Text(clean(asked, 60), style="dim") if asked else Text(""),
            safe(c.route or "(direct)", "" if c.route else "dim"),
            safe(c.session_id, "dim"),
            Text(tokens(c.prompt_tokens)),
            Text(tokens(c.completion_tokens)),
            Text(ms(c.duration_ms)),
            Text(usd_fixed(c.cost_usd, decimals)),
        )
