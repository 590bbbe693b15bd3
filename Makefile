# The two commands of the README: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run test install browser lint scan scan-code scan-deps worker bench bench-intake bench-api clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	@echo ""
	@echo "  LeadFlow PM is running at http://127.0.0.1:5000  (password for every demo login: demo-pass-2026)"
	@echo ""
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# Browser tests need Debian's chromium, and PDFs need DejaVu fonts for non-ASCII names. Install them when we
# can (root with apt); otherwise the browser tests skip with a reason.
SYSTEM_PACKAGES := chromium fonts-dejavu-core
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-dejavu-core >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1; } || \
			echo "could not install $(SYSTEM_PACKAGES): browser tests will skip"; \
		else echo "chromium or fonts-dejavu-core missing (not root): browser tests will skip"; fi; \
	fi

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# bandit: medium and high findings fail (each justified in place with `# nosec Bxxx: reason` if it is safe).
scan: scan-code scan-deps

scan-code: install
	$(BIN)/bandit -q -r app -c pyproject.toml --severity-level medium $(BANDIT_ARGS)

scan-deps: install
	$(BIN)/pip-audit -r requirements.txt $(PIP_AUDIT_ARGS)

worker: install
	$(BIN)/flask worker

bench: install
	$(BIN)/python bench/run.py

bench-intake: install
	$(BIN)/python bench/intake.py

bench-api: install
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
