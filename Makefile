# Everything a fresh clone needs: `make run` serves the demo, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
PORT ?= 8501

.PHONY: setup db run test test-fast lint format bench browser clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check \
		-c constraints.txt -e '.[dev,bench]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# Browser tests drive Debian's Chromium; Playwright's own browser download cannot work here.
browser:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

db: setup
	$(BIN)/attune db upgrade
	$(BIN)/attune demo --if-empty

# The app and, beside it, the job runner that opens, invites, reminds and closes on schedule.
run: db
	sh deploy/serve.sh $(BIN) $(PORT)

test: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: everything but the browser tests and the slow load, fault and bench tests.
# The quick loop: no browser, load, fault or bench tests, spread over every core.
test-fast: setup
	$(BIN)/python -m pytest -m "not browser and not slow" -n auto $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
