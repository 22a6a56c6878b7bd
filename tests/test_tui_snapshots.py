"""SVG snapshots of every screen, from deterministic demo data and a fixed clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot

from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp
from plano_obs.tui.sample import SAMPLE_NOW, sample_runtime

from tui_pilot import settled

SIZE = (120, 40)


def demo_app() -> ObsApp:
    return ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)


def keys(*pressed: str) -> Callable[[Pilot], Awaitable[None]]:
    """Wait for the first frame, then press ``pressed`` one by one, each fully drawn."""
    async def run_before(pilot: Pilot) -> None:
        await settled(pilot)
        for key in pressed:
            await pilot.press(key)
            await settled(pilot)
    return run_before


def test_empty_state(snap_compare) -> None:
    app = ObsApp(Runtime(Settings(offline=True)), clock=lambda: SAMPLE_NOW)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys())


def test_main_screen_with_demo_data(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=keys())


def test_main_screen_at_80x24(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=keys())


def test_error_banner_over_errors_only(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=keys("e"))


def test_flagged_only_view(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=keys("f"))


def test_detail_screen(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=keys("enter"))


def test_help(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=keys("question_mark"))


def test_main_screen_at_200x60(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(200, 60), run_before=keys())


def test_detail_screen_at_80x24(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=keys("enter"))


def test_detail_screen_walking_the_trace_at_200x60(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(200, 60),
                        run_before=keys("enter", "tab", "home"))


def test_session_at_80x24(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=keys("enter", "t"))


def test_confirm_clear_at_80x24(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=keys("c"))


def test_empty_filter_explains_itself_at_120x40(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE,
                        run_before=keys("e", "slash", *"no-such-model", "enter"))
