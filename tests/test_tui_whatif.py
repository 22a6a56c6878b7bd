"""The what-if screen: from the Routes and Models tables to a replay on another model."""

from __future__ import annotations

from textual.widgets import OptionList, Static

from plano_obs.tui.app import ObsApp
from plano_obs.tui.sample import SAMPLE_NOW, sample_runtime
from plano_obs.tui.screens.main import MainScreen
from plano_obs.tui.screens.whatif import WhatIfScreen
from plano_obs.tui.widgets.models import ModelTable
from plano_obs.tui.widgets.routes import RouteTable

from tui_pilot import running, settled


def result_text(app: ObsApp) -> str:
    return str(app.screen.query_one("#whatif-result", Static).content)


async def test_o_on_a_route_replays_it_on_a_priced_model_in_a_worker() -> None:
    app = ObsApp(sample_runtime(minutes=10), clock=lambda: SAMPLE_NOW)
    async with running(app) as pilot:
        routes = app.screen.query_one(RouteTable)
        routes.focus()
        route = routes.highlighted_route
        await pilot.press("o")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, WhatIfScreen) and screen.route == route
        targets = screen.query_one(OptionList)
        assert targets.option_count > 0
        assert all("/" in str(targets.get_option_at_index(i).id)
                   for i in range(targets.option_count))  # catalog entries, priced
        await pilot.press("enter")
        await settled(pilot)
        text = result_text(app)
        assert "savings" in text and "95% CI" in text and "rules (by name)" in text
        assert f"route {route} to " in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_o_on_a_model_offers_every_priced_model_but_its_own() -> None:
    app = ObsApp(sample_runtime(minutes=10), clock=lambda: SAMPLE_NOW)
    async with running(app) as pilot:
        models = app.screen.query_one(ModelTable)
        models.focus()
        model = models.highlighted_model
        await pilot.press("o")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, WhatIfScreen) and screen.model == model
        offered = [str(screen.query_one(OptionList).get_option_at_index(i).id)
                   for i in range(screen.query_one(OptionList).option_count)]
        assert offered and not any(o.endswith("/" + str(model)) for o in offered)
