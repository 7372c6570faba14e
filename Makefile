# The README's two commands: `make run` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint chromium gettext bench bench-relay bench-instructions bench-pages bench-admin

$(VENV)/.installed-run: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

## Run Webchat on http://127.0.0.1:8000/ (keyless providers use the bundled emulator).
run: $(VENV)/.installed-run
	WEBCHAT_DEMO=$${WEBCHAT_DEMO:-1} $(BIN)/python manage.py serve $(ARGS)

## Run every test (needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379).
test: $(VENV)/.installed-test chromium gettext
	$(BIN)/python -m pytest $(ARGS)

# The end-to-end tests drive Debian's Chromium (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# tests/test_translations.py checks locale/fr against every marked string with GNU gettext's
# tools (running Webchat needs none: the compiled catalog is committed).
gettext:
	@command -v msgmerge >/dev/null || { apt-get update -qq && apt-get install -y -qq gettext >/dev/null; }

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Benchmarks (docs/benchmarks.md): the relay (about 4 minutes) and the pages (about 1 minute).
bench: bench-relay bench-pages bench-admin

bench-relay: $(VENV)/.installed-test
	$(BIN)/python benchmarks/relay.py $(ARGS)

## The relay's instructions per event under callgrind (about 4 minutes; steadier than seconds).
bench-instructions: $(VENV)/.installed-test
	$(BIN)/python benchmarks/relay_instructions.py $(ARGS)

bench-pages: $(VENV)/.installed-test
	$(BIN)/python benchmarks/pages.py

## The admin on PostgreSQL (BENCH_POSTGRES_URL): 100,000 conversations, 1,000,000 messages.
bench-admin: $(VENV)/.installed-test
	$(BIN)/python benchmarks/admin.py $(ARGS)
