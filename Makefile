# tap-nexudus-jobs developer tasks. Needs only python3 (>=3.10) and make:
# every target installs what it needs into .venv on first use.
#
#   make demo    sandbox -> tap -> DuckDB -> dbt models via `meltano run`, then a summary
#   make test    lint + typecheck + pytest (incl. the end-to-end meltano tests), then
#                the unit tests on the lowest and highest other supported CPython found
#
# The PostgreSQL end-to-end test needs a PostgreSQL server from Debian's packages
# (initdb/pg_ctl under /usr/lib/postgresql/*/bin): `make postgres-deps` installs it
# with apt-get when it is missing (as root), and `make pytest` runs it first. The test
# starts and stops its own throwaway server; nothing is left running. The BigQuery
# end-to-end test needs the BigQuery and GCS emulators: `make bigquery-emulator` installs
# them into .venv-bigquery-emulator (run by `make pytest`); the test starts and stops them.
#
# Meltano shares .venv with the tap's dev dependencies: meltano 4.x and
# singer-sdk 0.54.x resolve together without conflicts, and `pip check` runs
# after every install so a future conflict fails here, loudly. (Meltano still
# installs each plugin in its own venv under .meltano/.)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MELTANO_VERSION ?= 4.4.1
MELTANO := $(BIN)/meltano

VENV_STAMP := $(VENV)/.tap-nexudus-jobs.installed
BQEMU_VENV := .venv-bigquery-emulator
BQEMU_STAMP := $(BQEMU_VENV)/.installed
MELTANO_STAMP := .meltano/.plugins.installed
# dbt with the BigQuery and Snowflake adapters, only to compile the dbt package (transform/)
# for warehouses the tests cannot reach (tests/test_dbt_warehouses.py). dbt-core 1.11: see
# plugins/utilities/dbt-duckdb.yml for why not 1.12.
DBT_WAREHOUSES ?= .venv-dbt-warehouses
DBT_WAREHOUSES_PINS := 'dbt-core~=1.11.0' 'dbt-bigquery~=1.11.3' 'dbt-snowflake~=1.11.6'
DBT_WAREHOUSES_STAMP := $(DBT_WAREHOUSES)/.installed

export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Meltano installs plugins with uv. Let uv trust the OS certificate store, so
# installs also work where the CA bundle lives there (TLS-inspecting proxies) without
# SSL_CERT_FILE (UV_SYSTEM_CERTS for new uv, UV_NATIVE_TLS for older releases).
export UV_SYSTEM_CERTS ?= 1
export UV_NATIVE_TLS ?= 1

.PHONY: release help venv meltano-install dbt-warehouses postgres-deps bigquery-emulator demo test lint typecheck pytest pytest-parallel pytest-meltano other-pythons benchmarks benchmarks-quick clean distclean

help:
	@echo "make demo             run the pipeline against the local sandbox and summarise"
	@echo "make test             lint + typecheck + pytest (sets everything up itself)"
	@echo "make lint             ruff check + ruff format --check"
	@echo "make typecheck        mypy tap_nexudus_jobs sandbox/nexudus_sandbox tests scripts benchmarks"
	@echo "make pytest           the tests: pytest-parallel (no Meltano), then pytest-meltano"
	@echo "make other-pythons    unit tests on the lowest/highest other supported CPython found"
	@echo "make release          build the sdist and wheel into dist/ and check them (twine)"
	@echo "make benchmarks       every figure in benchmarks/README.md (an hour or so; see there)"
	@echo "make benchmarks-quick every benchmark at small sizes, a minute or two"
	@echo "make venv             create/refresh $(VENV) (dev deps + meltano $(MELTANO_VERSION))"
	@echo "make meltano-install  install the Meltano plugins (once; redone when inputs change)"
	@echo "make dbt-warehouses   dbt for BigQuery/Snowflake in $(DBT_WAREHOUSES) (compile checks)"
	@echo "make postgres-deps    install PostgreSQL (Debian packages) for the Postgres e2e test"
	@echo "make bigquery-emulator  install the BigQuery + GCS emulators for the BigQuery e2e test"
	@echo "make clean            remove outputs, caches, .meltano (plugins + demo state)"
	@echo "make distclean        clean, and remove $(VENV)"

venv: $(VENV_STAMP)

# Re-run when the dependencies (pyproject.toml, sandbox/pyproject.toml) or the pinned
# meltano (Makefile) change. The tap and the sandbox (nexudus_sandbox, a distribution of
# its own under sandbox/) are both installed editable.
$(VENV_STAMP): pyproject.toml sandbox/pyproject.toml Makefile
	@if [ ! -x "$(BIN)/python" ]; then \
		echo "Creating $(VENV) with $$($(PYTHON) --version)"; \
		$(PYTHON) -m venv "$(VENV)"; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./sandbox 'meltano==$(MELTANO_VERSION)'
	$(BIN)/python -m pip check
	@touch "$@"

meltano-install: $(MELTANO_STAMP)

# Plugins: the tap (editable, so code edits need no reinstall), target-duckdb,
# target-postgres, target-jsonl, and the dbt-duckdb and dbt-postgres utilities. Redone
# only when meltano.yml or the tap's dependencies change.
$(MELTANO_STAMP): meltano.yml pyproject.toml | $(VENV_STAMP)
	$(MELTANO) install
	@mkdir -p "$(@D)" && touch "$@"

dbt-warehouses: $(DBT_WAREHOUSES_STAMP)

$(DBT_WAREHOUSES_STAMP): Makefile
	@if [ ! -x "$(DBT_WAREHOUSES)/bin/python" ]; then $(PYTHON) -m venv "$(DBT_WAREHOUSES)"; fi
	$(DBT_WAREHOUSES)/bin/python -m pip install --quiet --upgrade pip
	$(DBT_WAREHOUSES)/bin/python -m pip install --quiet $(DBT_WAREHOUSES_PINS)
	$(DBT_WAREHOUSES)/bin/python -m pip check
	@touch "$@"

# PostgreSQL server binaries for tests/test_postgres_end_to_end.py. Only installs
# (Debian's `postgresql` package) when no initdb/pg_ctl is found; needs root for
# apt-get, otherwise it stops with what to run. Installing the package does not
# need a running server: the test starts its own, as the `postgres` user.
postgres-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		&& { [ "$$(id -u)" != 0 ] || id -u postgres >/dev/null 2>&1; }; then \
		echo "PostgreSQL: $$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "PostgreSQL not found: installing Debian's postgresql package"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			postgresql >/dev/null; \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null; \
	else \
		echo "ERROR: PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl)" \
			"are missing, and this is not root with apt-get to install them." >&2; \
		echo "Install them: sudo apt-get update && sudo apt-get install -y postgresql" >&2; \
		exit 1; \
	fi

# The BigQuery and GCS emulators for tests/test_bigquery_end_to_end.py, in a venv of their
# own (pins in requirements/bigquery-emulator.txt); the test starts and stops them.
bigquery-emulator: $(BQEMU_STAMP)

$(BQEMU_STAMP): requirements/bigquery-emulator.txt
	@if [ ! -x "$(BQEMU_VENV)/bin/python" ]; then $(PYTHON) -m venv "$(BQEMU_VENV)"; fi
	$(BQEMU_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BQEMU_VENV)/bin/python -m pip install --quiet -r requirements/bigquery-emulator.txt
	$(BQEMU_VENV)/bin/python -m pip check
	@touch "$@"

demo: $(VENV_STAMP) $(MELTANO_STAMP)
	$(BIN)/python scripts/demo.py

test: lint typecheck pytest other-pythons

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV_STAMP)
	$(BIN)/mypy tap_nexudus_jobs sandbox/nexudus_sandbox tests scripts benchmarks

# Most of the suite waits (the tap's pacing against the sandbox runs in real time), so the
# tests that need no Meltano run on PYTEST_WORKERS pytest-xdist workers, more than the
# machine has cores. The Meltano tests share this repository's Meltano project (its
# catalog cache, its run directory) and keep the cores busy: they run one at a time.
PYTEST_WORKERS ?= 6

pytest: pytest-parallel pytest-meltano

pytest-parallel: $(VENV_STAMP) $(DBT_WAREHOUSES_STAMP)
	$(BIN)/pytest -m "not meltano" -n $(PYTEST_WORKERS) --dist worksteal --durations=5

pytest-meltano: $(VENV_STAMP) $(MELTANO_STAMP) postgres-deps bigquery-emulator
	$(BIN)/pytest -m meltano --durations=5

# The supported versions are pyproject.toml's classifiers; each one run gets its own
# .venv-py3.X. Says which it ran, and skips (exit 0) when the machine has none of them.
other-pythons: $(VENV_STAMP)
	$(BIN)/python scripts/other_pythons.py --workers $(PYTEST_WORKERS)

# The release: the tap's sdist and wheel (the wheel built from the sdist) in a clean dist/,
# checked as the package index would (twine check --strict). The version is pyproject.toml's
# alone; CHANGELOG.md says what it holds. tests/test_release.py builds, checks and installs
# the same artifacts. The sandbox is not released (pip install ./sandbox from a checkout).
release: $(VENV_STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*
	@ls -l dist

# One command per figure set: benchmarks/README.md says which script made each figure.
benchmarks: $(VENV_STAMP)
	$(BIN)/python -m benchmarks all

benchmarks-quick: $(VENV_STAMP)
	$(BIN)/python -m benchmarks all --quick

clean:
	rm -rf output .meltano .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf "$(VENV)" .venv-meltano .venv-py3.* "$(BQEMU_VENV)" "$(DBT_WAREHOUSES)"
