# The README's two commands: `make run` and `make test`. Both work on a fresh clone with only
# python3: they create .venv, install the project, migrate the database and load the units.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench chat clean tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/bluezone-bot run

chat: $(STAMP)
	$(BIN)/bluezone-bot chat

test: $(STAMP) tools lint
	$(BIN)/python -m pytest

# The import contract in pyproject.toml ([tool.importlinter]): bot > handlers > documents > storage > texts.
lint: $(STAMP)
	$(BIN)/lint-imports --no-logo

# Tools the tests use from Debian: pdftoppm (poppler-utils) reads posters back; Chromium runs the
# browser tests (Playwright drives it by path: its own browser download cannot work here). CI runs
# as root on Debian: install what is missing there; elsewhere those tests skip, and say what to install.
tools:
	@missing=""; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (for the poster and browser tests)"; \
	    log=$$(mktemp); \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } >"$$log" 2>&1 \
	      || { cat "$$log" >&2; echo "error: could not install$$missing with apt-get" >&2; exit 1; }; \
	    rm -f "$$log"; \
	  elif [ -n "$$CI" ]; then \
	    echo "error: the poster and browser tests need$$missing (sudo apt-get install$$missing)" >&2; exit 1; \
	  else \
	    echo "note: missing$$missing, so the poster read-back or browser tests will be skipped (sudo apt-get install$$missing)" >&2; \
	  fi; \
	fi

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .import_linter_cache
