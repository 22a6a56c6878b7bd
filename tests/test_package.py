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
    "plano_obs.ingest.http",
    "plano_obs.ingest.service",
    "plano_obs.pricing",
    "plano_obs.analytics",
    "plano_obs.export",
    "plano_obs.cli.export",
    "plano_obs.cli.pricing",
    "plano_obs.files",
    "plano_obs.shutdown",
    "plano_obs.cli.whatif",
    "plano_obs.replay",
    "plano_obs.ledger",
    "plano_obs.cli.ledger",
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
    for args in (["obs", "--help"], ["obs", "export", "--help"], ["obs", "pricing", "--help"],
                 ["obs", "whatif", "--help"], ["obs", "ledger", "--help"]):
        out = subprocess.run([sys.executable, "-m", "plano_obs", *args], capture_output=True,
                             text=True, check=True).stdout
        assert "usage:" in out
        if args == ["obs", "--help"]:
            assert "(default: 4317)" in out and "(default: 127.0.0.1)" in out
            assert "(default: 4318)" in out
            assert "default: None" not in out


def test_every_package_has_a_place_in_the_import_layers():
    """A new top-level module must be put in a layer, or its imports go unchecked."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    present = {
        f"plano_obs.{p.stem if p.is_file() else p.name}"
        for p in (root / "plano_obs").iterdir()
        if (p.suffix == ".py" and not p.name.startswith("__"))
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert present <= placed, f"not in any layer of [tool.importlinter]: {present - placed}"
