"""Settings for MuseHub Sessions, read from environment variables.

The defaults are safe for local development only: a fresh clone runs on an embedded
SQLite database with ``DEBUG`` on. Production sets ``DJANGO_DEBUG=0``, a real
``DJANGO_SECRET_KEY``, ``DATABASE_URL`` (PostgreSQL), ``DJANGO_HTTPS=1`` behind TLS and
``REDIS_URL`` for the shared cache; see README "Running in production".
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable (1/0, true/false, yes/no, on/off)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0), got {raw!r}")


def env_seconds(name: str, default: float) -> float:
    """Read a duration in seconds (a number, 0 or more)."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ImproperlyConfigured(f"{name} must be a number of seconds (0 or more), got {raw!r}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEV_SECRET_KEY = "django-insecure-musehub-development-only-key-do-not-deploy"
#: The only hosts DEBUG may serve: its pages (tracebacks, settings) are for the developer's machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def refuse_unsafe_start(*, debug: bool, secret_key: str, allowed_hosts: list[str]) -> None:
    """Raise ``ImproperlyConfigured`` for a configuration that must not serve anything.

    The one place that decides it (SPEC "Limits added"); ``musehub.startup`` turns the
    error into the one-line refusal of ``manage.py`` and gunicorn. The secret rules are
    Django's own deploy check (security.W009), so ``check --deploy`` can never disagree.
    """
    if debug:
        public = [host for host in allowed_hosts if host.lower() not in LOOPBACK_HOSTS]
        if public:
            # A deployment that forgot DJANGO_DEBUG=0 would serve tracebacks and sign with
            # the public development key; refuse rather than run like that silently.
            raise ImproperlyConfigured(
                f"DJANGO_DEBUG is on (the default) while DJANGO_ALLOWED_HOSTS names {', '.join(public)}: "
                "debug mode serves only localhost, 127.0.0.1 and [::1]; set DJANGO_DEBUG=0 to deploy"
            )
        return
    weak = (
        secret_key == DEV_SECRET_KEY
        or secret_key.startswith(SECRET_KEY_INSECURE_PREFIX)
        or len(secret_key) < SECRET_KEY_MIN_LENGTH
        or len(set(secret_key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
    )
    if weak:
        # Signed data (admin sessions, CSRF) would be forgeable by anyone who read this
        # file, or who guessed a short key.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a real secret when DJANGO_DEBUG=0: "
            f"at least {SECRET_KEY_MIN_LENGTH} characters, {SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them "
            f"distinct, not the development key (generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))")'
        )


DEBUG = env_bool("DJANGO_DEBUG", True)
# Unset or empty means the development key (refused below with DEBUG off).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEV_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
refuse_unsafe_start(debug=DEBUG, secret_key=SECRET_KEY, allowed_hosts=ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, not a CDN
    "musehub.core",
    "musehub.api",  # the throttle counters' table
    "repos_app",
    "sessions_app",
    "events_app",
]

MIDDLEWARE = [
    "musehub.api.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside ApiErrorMiddleware, so the refusals it answers itself (413, ...) are framed too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "musehub.api.middleware.ApiErrorMiddleware",
    "musehub.api.throttling.RateLimitHeadersMiddleware",
    # Django's sessions, auth and messages, for the admin: API requests skip them.
    "musehub.api.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "musehub.api.middleware.AuthenticationMiddleware",
    "musehub.api.middleware.MessageMiddleware",
]

ROOT_URLCONF = "musehub.urls"
WSGI_APPLICATION = "musehub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ── Database ──────────────────────────────────────────────────────────────────
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
#: Seconds a statement may run before PostgreSQL cancels it (the request answers 503); 0: no limit.
DATABASE_STATEMENT_TIMEOUT = env_seconds("DATABASE_STATEMENT_TIMEOUT", 15)
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that polls the socket instead of a SELECT 1
    # round trip on every request (musehub/db/postgresql/base.py).
    _db["ENGINE"] = "musehub.db.postgresql"
    _url_options = _db.get("OPTIONS", {})
    _statement_timeout = f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT * 1000)}"
    _db["OPTIONS"] = {
        # A dead database must answer 503 quickly, not hang a worker.
        "connect_timeout": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "3")),
        # The server cancels a statement running longer (QueryCanceled: 503). A `-c` in the
        # URL's own `options` comes later, so it wins.
        "options": f"{_statement_timeout} {_url_options.pop('options', '')}".strip(),
        # ... and a server too frozen to cancel anything is given up on one second later,
        # client side (musehub/db/postgresql/base.py says why TCP cannot tell).
        "answer_timeout": DATABASE_STATEMENT_TIMEOUT + 1 if DATABASE_STATEMENT_TIMEOUT else None,
        # Bind parameters on the server so psycopg can prepare the hot statements after
        # their second use: PostgreSQL then skips planning (PERF-NOTES: ~+35% on lists).
        "server_side_binding": True,
        "prepare_threshold": 2,
        **_url_options,
    }
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # Take the write lock when a transaction begins: a read-then-write transaction
        # would otherwise fail at once with "database is locked" under concurrency.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Not ATOMIC_REQUESTS: it would also roll back the throttle's count of a refused request.
# Each write runs in a transaction of its own instead, after authentication and throttling:
# the handler's (musehub.api.transactions), or for sessions the service's, which on
# PostgreSQL is often one statement and no transaction; the admin's views are atomic where
# they write.
_db["ATOMIC_REQUESTS"] = False
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ── Cache ─────────────────────────────────────────────────────────────────────
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": 300,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "musehub_cache",
        }
    }

# ── Throttle counters (shared by every worker and instance) ───────────────────
# One atomic statement per request, no disk flush waited for (musehub/api/counters.py):
# Redis when REDIS_URL is set; else an UNLOGGED table on PostgreSQL, or on SQLite a small
# database file of its own beside the main one.
if REDIS_URL:
    THROTTLE_COUNTERS = {"BACKEND": "musehub.api.counters.RedisCounters", "LOCATION": REDIS_URL}
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    THROTTLE_COUNTERS = {
        "BACKEND": "musehub.api.counters.SQLiteCounters",
        "LOCATION": f"{_db['NAME']}-throttle",
    }
else:
    THROTTLE_COUNTERS = {"BACKEND": "musehub.api.counters.DatabaseCounters", "LOCATION": "default"}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `make run` collects the admin's assets here; WhiteNoise serves them under gunicorn.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "musehub.storage.StaticFilesStorage"},
}
# Serve the admin's assets straight from the installed apps too, so a fresh clone works
# under gunicorn without a collectstatic step; collectstatic still speeds it up.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

# ── API ───────────────────────────────────────────────────────────────────────
MAX_REQUEST_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["musehub.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["musehub.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["musehub.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "musehub.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "musehub.api.throttling.AnonRateThrottle",
        "musehub.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("DJANGO_THROTTLE_ANON", "3000/min"),
        "user": os.environ.get("DJANGO_THROTTLE_USER", "12000/min"),
    },
    # How many proxies in front append to X-Forwarded-For. 0 (the default) ignores that
    # header: with None DRF would trust it, and anyone could dodge the anonymous limit by
    # sending a new made-up address with each request.
    "NUM_PROXIES": int(os.environ.get("DJANGO_NUM_PROXIES") or "0"),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Seconds a worker keeps accepting a token it has checked, without asking the database
# (musehub/api/authentication.py): a revoked token is refused within this long. 0: ask
# the database on every request.
TOKEN_CACHE_SECONDS = float(os.environ.get("DJANGO_TOKEN_CACHE_SECONDS") or "5")

REST_KNOX = {
    # Tokens are long-lived API keys: they last until revoked.
    "TOKEN_TTL": None,
    "AUTH_HEADER_PREFIX": "Bearer",
}

SPECTACULAR_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {"EventTypeEnum": "events_app.models.EventType"},
    "TITLE": "MuseHub Sessions API",
    "DESCRIPTION": (
        "Recording sessions of Muse repositories: who played, where, what for, which "
        "commits came out of it, and when it started and stopped."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "CAMELIZE_NAMES": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "musehub.api.schema.camelize_path_parameters",
        "musehub.api.schema.document_common_errors",
        "musehub.api.schema.document_rate_limit_headers",
        "musehub.api.schema.link_created_resources",
    ],
}


# ── Events and webhooks (events_app) ─────────────────────────────────────────
def _env_backoff(name: str, default: str) -> tuple[int, ...]:
    raw = os.environ.get(name) or default
    try:
        delays = tuple(int(part) for part in raw.split(","))
    except ValueError:
        delays = ()
    if not delays or any(delay < 0 for delay in delays):
        raise ImproperlyConfigured(f"{name} must be seconds between attempts, like 10,60,300; got {raw!r}")
    return delays


def _env_seconds(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of seconds, got {raw!r}")
    return int(raw)


#: Seconds between a delivery's attempts: N delays, N + 1 attempts, then it is failed.
MUSEHUB_WEBHOOK_BACKOFF = _env_backoff("MUSEHUB_WEBHOOK_BACKOFF", "10,60,300,1800,7200,21600")
#: Let hooks point at loopback, private, link-local, multicast or reserved addresses
#: (on-premises receivers, tests). Off: such URLs are refused at creation and at delivery.
MUSEHUB_WEBHOOK_ALLOW_PRIVATE = env_bool("MUSEHUB_WEBHOOK_ALLOW_PRIVATE", False)
#: Fernet keys for hook secrets, comma-separated, the first one encrypting (rotate by putting a
#: new key first). Unset: one derived from SECRET_KEY, so changing that makes the stored
#: secrets unreadable: set this in production.
MUSEHUB_WEBHOOK_KEY = os.environ.get("MUSEHUB_WEBHOOK_KEY", "")
#: How long a worker holds a delivery (and its hook) for one attempt: more than the 10 s an
#: attempt may last. A worker killed mid-attempt holds it this long, then it is retried.
MUSEHUB_WEBHOOK_LEASE = _env_seconds("MUSEHUB_WEBHOOK_LEASE", 30)

# Celery (``celery -A musehub worker``; musehub/celery.py reads the CELERY_* names below).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "redis://127.0.0.1:6379/0"
#: The queue deliveries go through; separate deployments (or test runs) sharing a broker
#: each name their own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("MUSEHUB_CELERY_QUEUE") or "musehub"
# A delivery waits on the network, not the CPU: threads, many of them, each taking one
# message at a time, so one slow receiver never holds messages other threads could send.
CELERY_WORKER_POOL = os.environ.get("CELERY_WORKER_POOL") or "threads"
CELERY_WORKER_CONCURRENCY = _env_seconds("CELERY_WORKER_CONCURRENCY", 32)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A message is acknowledged after its task ran: a worker killed mid-delivery leaves it to
# be delivered again (and the delivery's lease and the sweep cover brokers that lose it).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # our JSON lines, not Celery's format
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request enqueues after its commit: with the broker down that must fail fast (the
# sweep sends it later), not hold the request for Celery's default retries.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    # Redis: an unacknowledged message goes back on the queue after this; retries wait at
    # most five minutes on the queue (longer ones wait for the sweep), well under it.
    "visibility_timeout": 3600,
}
CELERY_BEAT_SCHEDULE = {
    "deliver-pending": {"task": "events_app.tasks.sweep", "schedule": 10.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME") or str(
    Path(os.environ.get("TMPDIR", "/tmp")) / "musehub-celerybeat-schedule"
)

# ── Security ──────────────────────────────────────────────────────────────────
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# ── Logging: one JSON object per line on stderr ───────────────────────────────
LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "musehub.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "musehub.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # Django logs every 4xx as a warning with the request attached; our access log says it once.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.db.backends": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # A Celery worker's "received" and "succeeded" lines, twice per task: the delivery
        # attempt's own line (musehub.webhooks) says what happened.
        "celery.app.trace": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "celery.worker.strategy": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
