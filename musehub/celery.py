"""The Celery application: ``celery -A musehub worker`` (and ``celery -A musehub beat``).

Its configuration is the ``CELERY_*`` names in ``musehub.settings`` (broker, pool,
concurrency, acks), so the worker needs no flags. The tasks are in ``events_app.tasks``.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musehub.settings")

app = Celery("musehub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
