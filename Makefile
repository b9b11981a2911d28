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

# Debian packages the tests need, each installed only when its program is missing: Chromium
# for the browser tests (Playwright's own browser download cannot work here) and poppler-utils
# (pdftoppm, pdftotext) for the PDF report's tests, and HAProxy in front of two replicas
# (tests/test_replicas.py, bench/replicas.py). One apt-get for whatever is missing.
SYSTEM_PACKAGES := chromium:/usr/bin/chromium poppler-utils:/usr/bin/pdftoppm haproxy:/usr/sbin/haproxy
browser:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
		test -x "$${entry#*:}" || missing="$$missing $${entry%%:*}"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian's$$missing for the tests..."; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; fi

db: setup
	$(BIN)/attune db upgrade
	$(BIN)/attune demo --if-empty

# The app and, beside it, the job runner that opens, invites, reminds and closes on schedule.
run: db
	sh deploy/serve.sh $(BIN) $(PORT)

# Everything else on two workers, then in one process the browser tests (so that they share
# one server and one Chromium; pytest 9 ignores xdist's groups) and the serial ones (a restart
# of the shared PostgreSQL server must not cut other tests' connections). Both parts always
# run; exit status 5 is "nothing selected", e.g. PYTEST_ARGS naming one test file.
test: setup browser
	@$(BIN)/python -m pytest -m "not browser and not serial" -n 2 $(PYTEST_ARGS); rest=$$?; \
	$(BIN)/python -m pytest -m "browser or serial" $(PYTEST_ARGS); browser=$$?; \
	for status in $$rest $$browser; do \
		[ $$status -eq 0 ] || [ $$status -eq 5 ] || exit $$status; done

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
