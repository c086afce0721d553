"""Settings for ``make bench``: the production settings, plus the reference views.

Everything that shapes a request's cost is the project's own (middleware, transaction per
request, token auth, throttles, renderer, persistent connections with prepared
statements). What differs, and why:
- ``ROOT_URLCONF`` adds the two references (``bench/urls.py``);
- ``DEBUG`` is off, as in production;
- throttle rates are high enough for a load generator that signs in with one token. The
  throttles themselves, and where they count (``THROTTLE_COUNTERS``: Redis with
  ``REDIS_URL``, else the database), are the service's own: ``make bench`` runs the
  service both ways.
"""

from __future__ import annotations

from musehub.settings import *  # noqa: F403
from musehub.settings import REST_FRAMEWORK

ROOT_URLCONF = "bench.urls"
DEBUG = False

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "100000000/min", "user": "100000000/min"},
}
