"""SVG snapshots of every screen, from deterministic demo data and a fixed clock."""

from __future__ import annotations

from plano_obs.runtime import Runtime
from plano_obs.settings import Settings
from plano_obs.tui.app import ObsApp
from plano_obs.tui.sample import SAMPLE_NOW, sample_runtime

SIZE = (120, 40)


def demo_app() -> ObsApp:
    return ObsApp(sample_runtime(), clock=lambda: SAMPLE_NOW)


def test_empty_state(snap_compare) -> None:
    app = ObsApp(Runtime(Settings(offline=True)), clock=lambda: SAMPLE_NOW)
    assert snap_compare(app, terminal_size=SIZE)


def test_main_screen_with_demo_data(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE)


def test_main_screen_at_80x24(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(80, 24))


def test_error_banner_over_errors_only(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, press=["e"])


def test_flagged_only_view(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, press=["f"])


def test_detail_screen(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, press=["enter"])


def test_help(snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=SIZE, press=["question_mark"])
