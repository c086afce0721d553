"""Celery tasks that deliver webhooks, and the helpers that queue them.

Queueing never fails a caller: a web request queues after its commit, and if the broker is
down it logs a warning and moves on; the delivery rows are in the database, and the sweep
(``sweep``: beat every 10 s, or ``manage.py deliver_pending``) queues them when it is back.
After a failure to reach the broker, a process stops trying for ``BROKER_PAUSE`` seconds,
so an outage costs a request at most one connect timeout, not one per write.
"""

from __future__ import annotations

import logging
import time

from celery import current_app, shared_task

from events_app import delivery as attempts
from events_app.models import Delivery, DeliveryStatus
from events_app.services import deliveries_sweep

logger = logging.getLogger("musehub.webhooks")

#: Seconds a process skips queueing after the broker failed it (the sweep catches up).
BROKER_PAUSE = 5.0

_broker_down_until = 0.0


#: After its delivery, a task goes on sending the hook's next due ones itself (the hook is
#: its to use: one attempt per hook at a time), up to this many or this long, then hands
#: the rest to a new message so other work gets its turn.
DRAIN_MAX = 100
DRAIN_SECONDS = 30.0


@shared_task(name="events_app.tasks.deliver", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver(delivery_pk: int) -> str:
    """One attempt of a delivery (a no-op unless it is pending, due and unclaimed), then the
    hook's next due deliveries, one after another."""
    deadline = time.monotonic() + DRAIN_SECONDS
    result = attempts.attempt(delivery_pk)
    first = result.outcome
    for _ in range(DRAIN_MAX):
        if result.retry_in is not None:
            _quietly(publish_deliveries, [result.pk], countdown=result.retry_in)
        if result.next_for_hook is None or time.monotonic() >= deadline:
            break
        result = attempts.attempt(result.next_for_hook)
        if result.outcome in ("skipped", "busy"):  # another worker has the hook: it goes on
            return first
    if result.next_for_hook is not None:
        _quietly(publish_deliveries, [result.next_for_hook])
    return first


@shared_task(name="events_app.tasks.deliver_event", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_event(event_pk: int) -> int:
    """Queue one ``deliver`` per pending delivery of an event: hooks are sent to in parallel."""
    pks = list(Delivery.objects.filter(event_id=event_pk, status=DeliveryStatus.PENDING).values_list("pk", flat=True))
    publish_deliveries(pks)
    return len(pks)


@shared_task(name="events_app.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """Queue what is pending and due with no message on its way (beat runs it every 10 s)."""
    return deliveries_sweep()


def publish_deliveries(delivery_pks: list[int], *, countdown: float | None = None) -> list[int]:
    """Put a ``deliver`` message on the queue per delivery; raises if the broker is down."""
    for pk in delivery_pks:
        _publish(deliver, (pk,), countdown=countdown)
    return delivery_pks


def _publish(task, args: tuple, **options) -> None:
    """``task.apply_async``, and once more on a connection of its own if that fails: a pooled
    connection goes stale when the broker restarts, and fails once before it is replaced."""
    try:
        task.apply_async(args, retry=False, **options)
    except Exception:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            task.apply_async(args, retry=False, connection=connection, **options)


def enqueue_event(event_pk: int) -> None:
    """After an event's commit: queue its deliveries, or leave them to the sweep."""
    _from_request(_publish, deliver_event, (event_pk,))


def enqueue_deliveries(delivery_pks: list[int]) -> None:
    """After a ping's or a redelivery's commit: queue it, or leave it to the sweep."""
    _from_request(publish_deliveries, delivery_pks)


def _from_request(send, *args, **kwargs) -> None:
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        send(*args, **kwargs)
    except Exception as exc:  # any broker failure: the rows wait for the sweep
        _broker_down_until = time.monotonic() + BROKER_PAUSE
        logger.warning(
            "broker unavailable: deliveries wait for the sweep", extra={"error": f"{exc.__class__.__name__}: {exc}"}
        )


def _quietly(send, *args, **kwargs) -> None:
    try:
        send(*args, **kwargs)
    except Exception as exc:
        logger.warning(
            "could not queue a delivery; the sweep will", extra={"error": f"{exc.__class__.__name__}: {exc}"}
        )
