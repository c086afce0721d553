"""gunicorn settings for MuseHub Sessions (``gunicorn -c gunicorn.conf.py musehub.wsgi``).

Each value can be overridden with an environment variable of the same name in capitals
prefixed with GUNICORN_ (e.g. GUNICORN_WORKERS=4), or on the command line.
"""

import multiprocessing
import os

wsgi_app = "musehub.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers, one per core: the work is CPU-bound Python, and on 2 cores 4 workers were
# slower with worse tail latency than 2 (PERF-NOTES).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"
# A request that takes longer than this is a bug or a dead database: kill and restart the worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never take a worker down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Refuse absurd request lines and headers before Django sees them (414 / 431).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Django logs each request as JSON itself; gunicorn's own log goes to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
preload_app = False
