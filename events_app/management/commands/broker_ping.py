"""``manage.py broker_ping``: does the Celery broker answer? (``make run`` asks.)"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from kombu.exceptions import OperationalError

from musehub.celery import app
from musehub.core.commands import MuseHubCommand


class Command(MuseHubCommand):
    help = "Exit 0 and say so when the Celery broker (CELERY_BROKER_URL) answers within 2 seconds; 1 otherwise."
    examples = ("",)

    def handle(self, *args, **options):
        connection = app.connection_for_write()
        try:
            connection.ensure_connection(max_retries=1, timeout=2)
        except (OperationalError, OSError) as exc:
            raise CommandError(f"The broker does not answer: {exc.__class__.__name__}") from None
        finally:
            connection.release()
        self.stdout.write(f"The broker answers ({connection.as_uri()}, queue {settings.CELERY_TASK_DEFAULT_QUEUE}).")
