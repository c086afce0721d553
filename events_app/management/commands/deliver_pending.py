"""``manage.py deliver_pending``: the webhook sweep, once."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import CommandError
from kombu.exceptions import OperationalError

from events_app.services import deliveries_sweep
from musehub.core.commands import MuseHubCommand


class Command(MuseHubCommand):
    help = (
        "Queue every webhook delivery that is pending and due and has no message on its way (after a broker "
        "outage, or a worker killed mid-delivery), for the Celery workers to send. What 'celery -A musehub beat' "
        "does every 10 seconds. Prints how many it queued."
    )
    examples = ("",)

    def handle(self, *args, **options):
        try:
            count = deliveries_sweep(grace=timedelta(0))
        except (OperationalError, OSError) as exc:  # the broker: one line, not a traceback
            raise CommandError(f"Could not reach the broker: {exc.__class__.__name__}: {exc}") from None
        self.stdout.write(f"Queued {count} delivery(ies).")
