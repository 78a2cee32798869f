# Set-up in two commands: `make run` (serve locally) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,serve]'
	touch $@

run: $(STAMP)
	$(BIN)/signpost db upgrade
	$(BIN)/signpost deploy processes sops
	@echo "Development server: referrals may start on pathway versions not yet clinically approved."
	SIGNPOST_SKIP_PATHWAY_APPROVAL=true $(BIN)/signpost serve --host 127.0.0.1 --port 8000

test: $(TEST_STAMP)
	$(BIN)/pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check engine api tests bench

bench: $(TEST_STAMP)
	$(BIN)/python bench/lifecycle.py --n 200

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
