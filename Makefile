# broadcast: `make demo` runs everything on embedded defaults; `make test` is lint + types + tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types pytest browser bench screenshots install clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) introuvable : installez Python 3.11 ou passez PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@rm -rf var/metrics && mkdir -p var/metrics
	BROADCAST_ENV=dev PROMETHEUS_MULTIPROC_DIR=var/metrics $(BIN)/broadcast demo

lint: $(STAMP)
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

# The browser tests drive the system's Chromium: installed here where it is missing and can be
# (root with apt-get); elsewhere those tests say so in one line and are skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installation de Chromium pour les tests du navigateur..."; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium >/dev/null || echo "Chromium n'a pas pu être installé."; \
	  else echo "Chromium absent : les tests du navigateur seront ignorés."; fi; }

pytest: $(STAMP) browser
	$(BIN)/pytest -n auto  # one process per core: the suite waits on real servers as much as it computes

test: lint types pytest

# The console's main screens and a status page at 1280 px and 360 px, from the real demo.
screenshots: $(STAMP) browser
	$(BIN)/python -m broadcast.sandbox.screenshots

bench: $(STAMP)
	$(BIN)/python -m bench.fanout --recipients $${N:-100000}

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
