"""A Celery worker SIGKILLed in the middle of a delivery: the delivery is retried and arrives.

Its own module: no other worker may be consuming the queue while this one is killed.
"""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import call_command

from tests.events_app.conftest import hook_for, quiet_session, record, settled
from tests.events_app.harness import TEST_LEASE, Worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]


def test_a_worker_killed_mid_delivery_is_retried_and_it_arrives(client, repo, auth_headers, broker, receiver) -> None:
    receiver.behave = lambda path, n: ("sleep", 60, 200) if n == 0 else 200
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/killed"))
    first = Worker(broker.url, broker.queue)
    first.start()
    try:
        record(quiet_session(repo))
        try:
            wait_for(lambda: receiver.at("/killed"), timeout=30, what="the first attempt")
        except AssertionError:
            import redis

            from events_app.models import Delivery, Event

            print(first.log()[-4000:])
            print(
                "QUEUE",
                redis.Redis.from_url(broker.url).llen(broker.queue),
                list(Delivery.objects.values()),
                Event.objects.count(),
            )
            raise
        first.kill()
        killed_at = time.monotonic()
    finally:
        first.stop()
    second = Worker(broker.url, broker.queue)
    second.start()
    try:

        def sweep_until_delivered():
            call_command("deliver_pending", stdout=StringIO())
            return len(receiver.at("/killed")) >= 2

        wait_for(sweep_until_delivered, timeout=TEST_LEASE + 15, interval=1, what="the retried attempt")
        assert time.monotonic() - killed_at >= TEST_LEASE - 1  # once the dead worker's lease ran out
        [delivery] = settled(client, repo, auth_headers, hook_id)
        assert delivery["status"] == "delivered"
        one, two = receiver.at("/killed")[:2]
        assert one.delivery_id == two.delivery_id == delivery["deliveryId"]
        assert two.signature_ok
    finally:
        second.stop()
