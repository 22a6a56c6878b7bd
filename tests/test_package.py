"""Package hygiene: the headless core never imports Textual; public surfaces are declared."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

CORE = [
    "plano_obs.model",
    "plano_obs.settings",
    "plano_obs.demo",
    "plano_obs.ingest.decode",
    "plano_obs.ingest.store",
    "plano_obs.ingest.receiver",
    "plano_obs.pricing",
    "plano_obs.analytics",
    "plano_obs.export",
    "plano_obs.cli.export",
    "plano_obs.runtime",
    "plano_obs.cli",
]


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_textual(module):
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("module", [m for m in CORE if m != "plano_obs.cli"])
def test_public_names_are_declared_and_exist(module):
    mod = importlib.import_module(module)
    assert hasattr(mod, "__all__")
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_help_shows_defaults_everywhere():
    for args in (["obs", "--help"], ["obs", "export", "--help"], ["obs", "pricing", "--help"]):
        out = subprocess.run([sys.executable, "-m", "plano_obs", *args], capture_output=True,
                             text=True, check=True).stdout
        assert "usage:" in out
        if args == ["obs", "--help"]:
            assert "(default: 4317)" in out and "(default: 127.0.0.1)" in out
            assert "default: None" not in out
