# Two entry points: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: demo test bench soak screenshots lint pricing-snapshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/plano obs --demo --offline $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(VENV)/.installed-test
	-$(BIN)/python benchmarks/ingest.py
	-$(BIN)/python benchmarks/decode.py
	-$(BIN)/python benchmarks/ingest_http.py
	$(BIN)/python benchmarks/refresh.py
	$(BIN)/python benchmarks/pricing.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/whatif.py
	-$(BIN)/python benchmarks/console_load.py
	-$(BIN)/python benchmarks/quit.py

soak: $(VENV)/.installed-test
	$(BIN)/python benchmarks/soak.py $(ARGS)

screenshots: $(VENV)/.installed-test
	$(BIN)/python scripts/screenshots.py

# ruff, mypy, and the import-layer contracts in pyproject.toml ([tool.importlinter]).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check plano_obs tests benchmarks scripts
	$(BIN)/mypy plano_obs
	$(BIN)/lint-imports --no-cache --no-logo

pricing-snapshot: $(VENV)/.installed
	$(BIN)/python scripts/build_pricing_snapshot.py $(SOURCE)

clean:
	rm -rf $(VENV)
