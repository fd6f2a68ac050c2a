# The README's two commands: `make run` and `make test`. Both work on a fresh clone with only
# python3: they create .venv, install the project, migrate the database and load the units.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench chat clean tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/bluezone-bot run

chat: $(STAMP)
	$(BIN)/bluezone-bot chat

test: $(STAMP) tools
	$(BIN)/python -m pytest

# The poster tests read PDFs back with pdftoppm (Debian's poppler-utils). CI runs as root on
# Debian: install it there when it is missing; elsewhere those tests skip, and say what to install.
tools:
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing poppler-utils (pdftoppm, for the poster tests)"; \
	    log=$$(mktemp); \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends poppler-utils; } >"$$log" 2>&1 \
	      || { cat "$$log" >&2; echo "error: could not install poppler-utils with apt-get" >&2; exit 1; }; \
	    rm -f "$$log"; \
	  elif [ -n "$$CI" ]; then \
	    echo "error: the poster tests need pdftoppm: install poppler-utils (sudo apt-get install poppler-utils)" >&2; exit 1; \
	  else \
	    echo "note: pdftoppm is missing, so the poster read-back tests will be skipped (sudo apt-get install poppler-utils)" >&2; \
	  fi; }

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
