"""gunicorn settings for MuseHub Sessions (``gunicorn -c gunicorn.conf.py``).

Environment variables read here: GUNICORN_BIND (127.0.0.1:8000), GUNICORN_WORKERS (one per
core), GUNICORN_TIMEOUT (30 s), GUNICORN_MAX_REQUESTS (0: never recycle), GUNICORN_LOGLEVEL
(info), GUNICORN_CONTROL_SOCKET (unset: no control socket). Anything else can be given on
the command line or in gunicorn's own GUNICORN_CMD_ARGS. See README "Running in production".
"""

import logging
import multiprocessing
import os

from gunicorn.glogging import Logger

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
# Django logs each request as JSON itself; gunicorn's own log goes to stderr, also as one
# JSON object per line (same formatter), so every line of the service's output parses.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "musehub.logging.JsonFormatter"}},
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
    },
    "root": {"level": loglevel.upper(), "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
        # Off: Django's access log (musehub.access) already logs each request, with its id.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}


class QuietAccessLogger(Logger):
    """gunicorn's logger, minus the access line's work when ``gunicorn.access`` drops it.

    With a ``logconfig_dict``, gunicorn builds every request's access-log fields (a dict of
    each request and response header, the environ, a formatted date) before its logger
    throws them away: ~20 µs of a worker's CPU per request (1 to 3% of a GET under ``wrk``)."""

    @property
    def access_log_enabled(self):
        return self.access_log.isEnabledFor(logging.INFO) and super().access_log_enabled


logger_class = QuietAccessLogger
preload_app = False
# gunicorn's control socket (gunicornc) defaults to one path per user: two instances on a
# host would fight over it. Off unless GUNICORN_CONTROL_SOCKET names a path for it.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def on_starting(server):
    """Load Django's settings in the master before any worker: a deployment they refuse
    (DJANGO_DEBUG=0 with a weak secret key, DEBUG on a public host, a malformed variable)
    stops here with one line and a non-zero exit, instead of workers crashing in a loop."""
    from musehub.startup import load_settings_or_exit

    load_settings_or_exit()


def post_worker_init(worker):
    """Let a streamed export tell the master the worker is alive while it makes progress
    (``musehub.api.streaming``): otherwise a download over ``timeout`` seconds is killed."""
    from musehub.api.streaming import set_heartbeat

    set_heartbeat(worker.notify)
