# Two entry points for a fresh machine: `make demo` (the main job end to end on the
# embedded defaults) and `make test` (the whole suite). Both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

# --compile-bytecode: every `dagster` process starts ~4 s sooner where Python may not write
# .pyc files itself (PYTHONDONTWRITEBYTECODE, read-only installs).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stripe-assets demo

test: $(STAMP)
	$(BIN)/ruff check stripe_assets stripe_assets_tests
	$(BIN)/ruff format --check stripe_assets stripe_assets_tests
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m stripe_assets_tests.benchmarks

clean:
	rm -rf $(VENV) .demo
