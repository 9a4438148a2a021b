# Handoff — common tasks. `make demo` and `make test` work on a fresh clone with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PROD_CHECK_ENV := DJANGO_SETTINGS_MODULE=cms.settings.production \
	SECRET_KEY=check-deploy-$$(date +%s)-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ \
	ALLOWED_HOSTS=handoff.example.org CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
	WAGTAILADMIN_BASE_URL=https://handoff.example.org

.PHONY: venv demo serve test test-api check lint format migrate bench clean messages messages-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	mkdir -p var
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python manage.py migrate --noinput

## Run the product on the embedded default (SQLite, eager tasks, database search) with demo data.
demo: migrate
	HANDOFF_HOST=$(HOST) PORT=$(PORT) DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python manage.py seed_demo --port $(PORT)
	@echo "Serving http://$(HOST):$(PORT)/ (second network: http://delnorte.localhost:$(PORT)/)"
	HANDOFF_HOST=$(HOST) PORT=$(PORT) DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python manage.py runserver $(HOST):$(PORT)

## Run the whole test suite (DATABASE_URL=postgres://... runs it on PostgreSQL), in two processes
## (pytest-xdist; each has its own test database). PYTEST_ARGS= runs it in one.
PYTEST_ARGS ?= -n 2
test: venv
	mkdir -p var
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Schemathesis against every JSON API's OpenAPI schema (tests/api/apis.py), with more generated
## requests than `make test` runs (HANDOFF_API_EXAMPLES per operation and mode; 20 there).
API_EXAMPLES ?= 200
test-api: venv
	mkdir -p var
	HANDOFF_API_EXAMPLES=$(API_EXAMPLES) $(BIN)/python -m pytest -p no:xdist tests/api

## Lint, types, the import contracts (pyproject [tool.importlinter]), Django checks, migrations
## up to date, deploy checks on production settings,
## the Spanish catalogue up to date.
check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=cms.settings.test $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=cms.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(PROD_CHECK_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(MAKE) --no-print-directory messages-check

## Benchmarks (figures, not pass/fail tests): the HSDS directory import on SQLite and PostgreSQL,
## directory search, the referral loop and the portal pages on PostgreSQL (the pages with Redis).
BENCH_SERVICES ?= 20000
BENCH_PG ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_REDIS ?= redis://127.0.0.1:6379/14
bench: venv
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.import_directory \
		--services $(BENCH_SERVICES) --quiet
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.import_directory \
		--services $(BENCH_SERVICES) --quiet --database-url $(BENCH_PG)
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.sync_feed \
		--services $(BENCH_SERVICES) --quiet --database-url $(BENCH_PG)
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.search_directory --quiet --database-url $(BENCH_PG)
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.referral_loop --quiet --database-url $(BENCH_PG)
	REDIS_URL=$(BENCH_REDIS) CELERY_TASK_ALWAYS_EAGER=true DJANGO_SETTINGS_MODULE=cms.settings.dev \
		$(BIN)/python -m bench.portal_pages --quiet --database-url $(BENCH_PG)
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.fhir_api --quiet --database-url $(BENCH_PG)

## Spanish (and any other) translations: refresh locale/*/LC_MESSAGES/django.po from the code and
## templates, then compile the .mo files the server reads (both are committed; needs GNU gettext).
MAKEMESSAGES := DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python manage.py makemessages \
	--locale es --no-obsolete --no-location --ignore '.venv/*' --ignore 'var/*' \
	--ignore 'bench/*' --ignore 'tests/*' --ignore 'test-artifacts/*' --ignore 'node_modules/*'
messages: venv
	$(MAKEMESSAGES)
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python manage.py compilemessages --locale es \
		--ignore '.venv/*'

## Fails when a translatable string in the code or templates is missing from the catalogue.
messages-check: venv
	$(MAKEMESSAGES) --verbosity 0
	git diff --quiet -I '^"POT-Creation-Date' -- locale \
		|| { git diff --stat -- locale; echo "locale/ is stale: run 'make messages'," \
		"translate, commit" >&2; exit 1; }

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/*.sqlite3 var/static var/media
