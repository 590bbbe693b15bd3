# The two commands of the README: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run test install browser lint scan scan-code scan-deps worker bench bench-intake bench-api bench-live lock lock-upgrade deploy-check screens clean

# requirements-dev.txt is the lock of everything (the runtime set at requirements.txt's versions, plus tools), pip
# included: every file is checked against its hash, so nothing unpinned or altered gets in.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
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

# The dependency audit fails on a known vulnerability of any locked pin and on any pin the index's data cannot speak
# for (app/tools/dependency_audit.py has the rule); `# audit-accept:` lines in the .in files are its dated exceptions.
scan-deps: install
	$(BIN)/python -m app.tools.dependency_audit requirements.txt requirements-dev.txt \
		--accept requirements.in --accept requirements-dev.in $(AUDIT_ARGS)

# `make lock` compiles requirements*.in into the hashed lock files, keeping locked versions where it can;
# `make lock-upgrade` also moves every transitive pin to its latest release (top-level pins move in the .in files).
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links
# Screenshots of the main pages at 1366 and 390 px for the README (demo data, a throwaway database).
screens: install browser
	$(BIN)/python docs/screens/capture.py

lock: install
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements-dev.txt requirements-dev.in

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

worker: install
	$(BIN)/flask worker

bench: install
	$(BIN)/python bench/run.py

bench-intake: install
	$(BIN)/python bench/intake.py

bench-api: install
	$(BIN)/python bench/api.py

bench-live: install
	$(BIN)/python bench/live.py

# hadolint on deploy/Dockerfile, deploy/compose.yaml against the Procfile, and the image's build steps in a clean
# virtualenv (no Docker daemon needed): see deploy/check.
deploy-check: install
	deploy/check

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
