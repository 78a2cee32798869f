# Set-up in two commands: `make run` (serve locally) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

WEB := web
WEB_INSTALLED := $(WEB)/node_modules/.installed
WEB_BUILT := $(WEB)/dist/build.json
WEB_SOURCES := $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/build.mjs $(WEB)/.bpmnlintrc

.PHONY: run test lint bench clean web

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,serve]'
	touch $@

# The web application (studio, console): npm packages from the lock file, then one esbuild build into
# web/dist/, redone only when a source is newer than the last build.
$(WEB_INSTALLED): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUILT): $(WEB_INSTALLED) $(WEB_SOURCES)
	cd $(WEB) && npm run --silent build

web: $(WEB_BUILT)

run: $(STAMP) web
	$(BIN)/signpost db upgrade
	$(BIN)/signpost deploy processes sops
	@echo "Development server: referrals may start on pathway versions not yet clinically approved."
	@echo "Studio: http://127.0.0.1:8000/studio/ - sign in with a designer's API token, made with"
	@echo "  $(BIN)/signpost clients create --org signpost-design --role designer --person you@example.org"
	@echo "  (or at your OpenID Connect issuer: set SIGNPOST_OIDC_ISSUER, _AUDIENCE and _CLIENT_ID; see the README)"
	SIGNPOST_SKIP_PATHWAY_APPROVAL=true $(BIN)/signpost serve --host 127.0.0.1 --port 8000

test: $(TEST_STAMP) web
	$(BIN)/pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check engine api tests bench

bench: $(TEST_STAMP)
	$(BIN)/python bench/lifecycle.py --n 200

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist
