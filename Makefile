# The two commands a newcomer needs are `make run` and `make test`; both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/monitor.yaml

.PHONY: install run test bench lint demo install-service clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/monitor run --config $(CONFIG)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy monitor

demo: install
	$(BIN)/python -m monitor.demo

clean:
	rm -rf $(VENV) var/ .pytest_cache build *.egg-info
