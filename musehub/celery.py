"""The Celery application: ``celery -A musehub worker`` (and ``celery -A musehub beat``).

Its configuration is the ``CELERY_*`` names in ``musehub.settings`` (broker, pool,
concurrency, acks), so the worker needs no flags. The tasks are in ``events_app.tasks``.
"""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import setup_logging, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musehub.settings")

app = Celery("musehub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**kwargs) -> None:
    """Log as the web processes do (JSON lines, DJANGO_LOG_LEVEL), not in Celery's format at
    its default WARNING level: connecting this signal keeps Celery's own setup out."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_ready.connect
def _announce_ready(sender=None, **kwargs) -> None:
    """One log line when the worker consumes: operators (and the tests) wait for it."""
    logging.getLogger("musehub.webhooks").info(
        "celery worker ready", extra={"queue": app.conf.task_default_queue, "pool": app.conf.worker_pool}
    )
