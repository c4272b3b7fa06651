# One command per habit. Every target sets up the virtual environment first on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8080

.PHONY: venv console browsers run token test mutate lint format typecheck check bench sweep watchdog fuzz clean

$(STAMP): requirements.txt requirements-dev.txt requirements-emulators.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The Cloud Tasks emulator must stay out of the resolver (see requirements-emulators.txt).
	$(PY) -m pip install --quiet --no-deps -r requirements-emulators.txt
	# The `synq` command (pyproject.toml), editable: it runs this tree's code.
	$(PY) -m pip install -qq --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# The console (console/): npm packages as package-lock.json pins them, built into console/dist.
CONSOLE_DEPS  := console/node_modules/.package-lock.json
CONSOLE_BUILD := console/dist/index.html

$(CONSOLE_DEPS): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_DEPS)

$(CONSOLE_BUILD): $(CONSOLE_DEPS) console/index.html console/vite.config.js $(shell find console/src -type f 2>/dev/null)
	cd console && npm run --silent build -- --logLevel warn

console: $(CONSOLE_BUILD)  ## build the console (served at /console)

# The browser tests drive Debian's Chromium through its chromedriver; CI runs as root on a clean machine.
browsers:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing chromium and chromium-driver (Debian packages) for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

run: venv console  ## the whole local stack in the foreground (Ctrl-C stops it)
	PORT=$(PORT) $(PY) -m local.stack

token: venv  ## a bearer token for the running stack (TENANT_ID, ORG_ID, ROLE, EMAIL choose claims)
	@$(PY) -m local.tokens

test: venv console browsers  ## the whole test suite, in a random order (pytest-randomly); starts and stops the emulators itself
	$(PY) -m pytest

mutate: venv  ## mutation testing of the modules that hold the promises (slow; MODULES= to choose)
	nice -n 10 $(PY) -m tests.mutation.run $(MODULES)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/shellcheck --external-sources infra/*.sh

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: venv
	$(PY) -m mypy shared synq

check: lint typecheck test

sweep: venv  ## run the validation sweep against the running local stack
	$(PY) -m local.sweep

watchdog: venv  ## run the job watchdog once against the running local stack
	$(PY) -m local.watchdog

fuzz: venv  ## schemathesis against the running local stack: no 5xx, no undocumented answer (FUZZ_EXAMPLES, FUZZ_ARGS)
	PORT=$(PORT) $(PY) -m local.fuzz $(FUZZ_ARGS)

bench: venv  ## benchmarks through the local stack (see docs/benchmarks.md)
	$(PY) -m bench.bulk_import
	$(PY) -m bench.sweep
	$(PY) -m bench.export
	$(PY) -m bench.upload_import
	$(PY) -m bench.reevaluation

clean:
	rm -rf $(VENV) .local .mutate console/node_modules console/dist .pytest_cache .mypy_cache .ruff_cache
