# gridmap — the two commands: `make demo` (set up, load the demo, serve) and `make test`.
# Both install what is missing first: Debian packages (as root, or through sudo) and a
# virtualenv in .venv with the project and its dev tools.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
APT_PACKAGES := postgresql postgresql-postgis chromium fonts-wqy-microhei python3-venv
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint system-deps install serve bench clean

demo: install
	$(BIN)/gridmap demo

# on every core: each xdist worker starts its own throwaway PostGIS cluster; worksteal
# keeps the cores busy when a long test (the fuzzers) lands late on one of them
test: install lint
	$(BIN)/pytest -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

serve: install
	$(BIN)/gridmap serve

install: system-deps $(STAMP)

# Debian packages: PostgreSQL with PostGIS for the embedded and test clusters, Chromium for
# the browser tests. Installed only when one is missing, so a set-up machine needs no network.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,batch]'
	touch $(STAMP)

bench: install
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks.seed --scale demo
	$(BIN)/python -m benchmarks.assign --sizes 1000000
	$(BIN)/python -m benchmarks.intake
	$(BIN)/python -m benchmarks.rebalance
	$(BIN)/python -m benchmarks.reminders

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
