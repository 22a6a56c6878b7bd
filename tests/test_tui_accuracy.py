"""The console's cost-accuracy panel: the gateway's reported cost beside list price, toggled
with the routes table."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from plano_obs.ingest.decode import decode_request
from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp
from plano_obs.tui.widgets.accuracy import AccuracyTable
from plano_obs.tui.widgets.footer import KeysFooter
from plano_obs.tui.widgets.routes import RouteTable

from otlp_fixtures import T0, llm_attrs, request, span
from tui_pilot import running, settled

NOW = T0 / 1e9 + 60


def _send(runtime: Runtime, n: int, markup: float | None, **attrs: Any) -> None:
    """``n`` calls; ``markup``: the gateway reports that multiple of the list cost of each
    (input and output apart), None: it reports no cost."""
    for i in range(n):
        fields = llm_attrs(request_id=f"{attrs.get('llm__model')}-{i}", **attrs)
        if markup is not None:
            listed = runtime.pricer.price(decode_request(request(span(fields))).calls[0])
            output = listed.catalog_output_cost_usd
            assert listed.catalog_cost_usd is not None and output is not None
            fields["llm.usage.input_cost_usd"] = (listed.catalog_cost_usd - output) * markup
            fields["llm.usage.output_cost_usd"] = output * markup
        # Ids of their own, so the calls are the same whichever test ran before.
        serial = len(runtime.store.recent_calls(10_000)) + 1
        runtime.store.ingest(decode_request(request(span(
            fields, start_ns=T0 + i * 10**6, trace_id=serial.to_bytes(16, "big"),
            span_id=serial.to_bytes(8, "big")))))


def runtime_with_costs(*, reported: bool = True) -> Runtime:
    """openai at list price and anthropic 30% over it (reported when ``reported``), google
    never reported."""
    runtime = Runtime(Settings(offline=True), clock=lambda: NOW)
    _send(runtime, 25, 1.0 if reported else None)
    _send(runtime, 25, 1.3 if reported else None, llm__model="claude-sonnet-4-20250514",
          llm__provider="anthropic", model__requested="claude-sonnet-4-20250514")
    _send(runtime, 5, None, llm__model="gemini-2.5-flash", llm__provider="google",
          model__requested="gemini-2.5-flash")
    return runtime


def _row(table: AccuracyTable, key: str) -> dict[str, Any]:
    return {c.label: table.cell(key, c.label) for c in table.COLUMNS}


async def test_a_toggles_cost_accuracy_in_the_place_of_routes() -> None:
    app = ObsApp(runtime_with_costs(), clock=lambda: NOW)
    async with running(app) as pilot:
        accuracy, routes = app.screen.query_one(AccuracyTable), app.screen.query_one(RouteTable)
        assert routes.display and not accuracy.display
        footer = app.screen.query_one(KeysFooter)
        assert "toggle_accuracy" in [k.action for k in footer.keys]
        await pilot.press("a")
        await settled(pilot)
        assert accuracy.display and not routes.display
        assert accuracy.region.width > 0 and accuracy.row_count > 0
        await pilot.press("a")
        await settled(pilot)
        assert routes.display and not accuracy.display
        await pilot.press("question_mark")
        await settled(pilot)
        help_text = app.screen.markdown  # type: ignore[attr-defined]
        assert "| `a` |" in help_text and "Cost accuracy" in help_text


async def test_reported_costs_show_their_ratio_and_drift_is_flagged() -> None:
    app = ObsApp(runtime_with_costs(), clock=lambda: NOW)
    async with running(app) as pilot:
        await pilot.press("a")
        await settled(pilot)
        table = app.screen.query_one(AccuracyTable)
        keys = table.row_keys
        # Each provider, then its models under it.
        assert keys.index("p\x00anthropic") + 1 == keys.index(
            "m\x00anthropic\x00claude-sonnet-4-20250514")
        fair = _row(table, "m\x00openai\x00gpt-4o-mini-2024-07-18")
        assert fair["Basis"].plain == "reported" and fair["Calls"].plain == "25/25"
        assert fair["Ratio in/out"].plain == "1.00 (1.00/1.00)"
        assert fair["Drift"].plain in ("+0.0%", "-0.0%") and "red" not in str(fair["Drift"].style)
        # The entry that priced it, as a dim suffix, and its list rates beside the measured.
        name = fair["Provider / model"]
        assert name.plain.endswith(" · gpt-4o-mini") and "dim" in str(name.spans[-1].style)
        assert fair["Eff $/M"].plain == fair["List $/M"].plain
        over = _row(table, "m\x00anthropic\x00claude-sonnet-4-20250514")
        assert over["Ratio in/out"].plain == "1.30 (1.30/1.30)"
        assert over["Drift"].plain == "+30.0%" and "red" in str(over["Drift"].style)
        assert "▲" in over["Provider / model"].plain
        assert "red" in str(_row(table, "p\x00anthropic")["Drift"].style)
        # At 120 columns every number is there, whole.
        assert {"Calls", "Eff $/M", "List $/M", "Ratio in/out",
                "Drift"} <= set(table.shown_columns)


async def test_derived_rows_are_dim_and_never_flagged() -> None:
    app = ObsApp(runtime_with_costs(), clock=lambda: NOW)
    async with running(app) as pilot:
        await pilot.press("a")
        await settled(pilot)
        table = app.screen.query_one(AccuracyTable)
        derived = _row(table, "m\x00google\x00gemini-2.5-flash")
        assert derived["Basis"].plain == "derived"
        assert derived["Ratio in/out"].plain == "1.00 (derived)"
        assert derived["Drift"].plain == "—" and derived["Eff $/M"].plain == "—"
        assert all("dim" in str(derived[c].style)
                   for c in ("Calls", "Ratio in/out", "Drift"))
        assert "▲" not in derived["Provider / model"].plain
        assert "red" not in str(derived["Drift"].style)


async def test_without_reported_costs_the_panel_says_why() -> None:
    app = ObsApp(runtime_with_costs(reported=False), clock=lambda: NOW)
    async with running(app, (80, 24)) as pilot:
        await pilot.press("a")
        await settled(pilot)
        table = app.screen.query_one(AccuracyTable)
        assert table.row_count == 0
        assert "No gateway-reported costs" in table.empty_text
        assert "55 calls priced from the catalog only" in table.empty_text
        assert "llm.usage.*_cost_usd" in table.empty_text


async def test_numbers_are_never_cut_at_80x24() -> None:
    app = ObsApp(runtime_with_costs(), clock=lambda: NOW)
    async with running(app, (80, 24)) as pilot:
        await pilot.press("a")
        await settled(pilot)
        table = app.screen.query_one(AccuracyTable)
        assert {"Ratio in/out", "Drift", "Calls"} <= set(table.shown_columns)
        for i, width in table._layout:
            if table.COLUMNS[i].numeric:
                assert all(table.cells_at(r)[i].cell_len <= width
                           for r in range(table.row_count))


def test_snapshot_cost_accuracy(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settled(pilot)
        await pilot.press("a")
        await settled(pilot)

    app = ObsApp(runtime_with_costs(), clock=lambda: NOW)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
