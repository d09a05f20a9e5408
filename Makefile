# The two quick-start commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench-quick clean

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "outdial needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

run: $(BIN)/.installed  ## start outdial on SQLite with the simulator and a demo tenant
	$(BIN)/outdial serve --demo

test: $(BIN)/.installed  ## the whole suite (PostgreSQL too when OUTDIAL_TEST_DATABASE_URL is set)
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/outdial

clean:
	rm -rf $(VENV) outdial-data .pytest_cache
