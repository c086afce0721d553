# MuseHub Sessions. Quickstart: `make run` serves the API, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint bench clean

# The venv is rebuilt when a requirements file changes.
$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

## run: install, migrate the database, collect the admin's static files, create a demo user and token, serve on $(HOST):$(PORT);
##      with a Celery worker (and its sweep) beside gunicorn when the broker answers, so webhooks are delivered
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py seed_demo
	@if $(PY) manage.py broker_ping; then \
	  echo "Starting a Celery worker beside gunicorn (celery -A musehub worker --beat): webhooks will be delivered."; \
	  $(VENV)/bin/celery -A musehub worker --beat & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	else \
	  echo "No Celery broker answers: webhook deliveries wait (pending) until a worker runs (see README, Webhooks)."; \
	fi; \
	$(VENV)/bin/gunicorn musehub.wsgi:application -c gunicorn.conf.py --bind $(HOST):$(PORT)

## test: the whole suite on the database DATABASE_URL names (default: SQLite)
test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

## bench: load benchmark on PostgreSQL with wrk; writes bench/RESULTS.md
bench: $(VENV)/.dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles .pytest_cache
