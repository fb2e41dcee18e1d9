# The two commands a new user types: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= examples/opsbook.yaml
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: venv
	OPSBOOK_PORT=$(PORT) $(BIN)/opsbook serve --config $(CONFIG) --host $(HOST) --port $(PORT)

test: venv
	scripts/test.sh

lint: venv
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
