# opsflow — two commands on a fresh clone:
#   make run    set everything up, migrate, deploy processes/, serve on http://127.0.0.1:5000
#   make test   set everything up, lint, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: setup run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "opsflow needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Browser assets: bpmn-js and friends from npm (package-lock.json), bundled by esbuild.
NODE_STAMP := node_modules/.installed
ASSETS     := api/web/static/build/.built

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(ASSETS): $(NODE_STAMP) $(wildcard api/web/js/* api/web/js/*/*)
	npm run --silent build
	touch $(ASSETS)

setup: $(STAMP) $(ASSETS)
	mkdir -p var

run: setup
	$(BIN)/python run.py init
	$(BIN)/python run.py serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy engine api run.py

test: lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache node_modules api/web/static/build
