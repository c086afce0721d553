"""One attempt of one delivery: claim it, send it, record how it went.

A delivery task may run twice for the same row (a message queued by the sweep and by a
retry, a message redelivered after its worker died): the claim makes that harmless. It is
one conditional UPDATE that only succeeds for a row that is pending, due and not held by a
worker (``lease_until``); the winner holds it for ``MUSEHUB_WEBHOOK_LEASE`` seconds, longer
than an attempt can last. A worker killed mid-attempt never records anything, so once its
lease runs out the row is claimable again and the sweep queues it.

A hook has one attempt in flight at a time (``Hook.busy_until``, taken with the claim): a
receiver that hangs holds one worker thread for 10 s, never all of them, so other hooks'
deliveries go on. A message for a busy hook is dropped; whoever holds the hook queues the
hook's next due delivery when it is done (and the sweep covers a holder that died).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from events_app import crypto, outbound
from events_app.models import PING, Delivery, DeliveryStatus, Hook
from events_app.services import attempts_allowed, event_json, ping_json

logger = logging.getLogger("musehub.webhooks")

#: A failed attempt's retry waits on the queue (a countdown) when it is due within this;
#: a longer wait is left to the sweep, so no message sits on the broker for hours.
MAX_QUEUED_WAIT = timedelta(minutes=5)


@dataclass(frozen=True)
class Result:
    """What ``attempt`` did, and what should be queued next."""

    pk: int
    outcome: str  # "delivered", "retry", "failed", "skipped", "busy"
    retry_in: float | None = None
    next_for_hook: int | None = None


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body keyed with secret>`` (X-MuseHub-Signature-256)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def attempt(delivery_pk: int) -> Result:
    """Try delivery ``delivery_pk`` once if it is due and nobody else is trying it."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.MUSEHUB_WEBHOOK_LEASE)
    delivery = Delivery.objects.select_related("hook", "event").filter(pk=delivery_pk).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at > now:
        return Result(delivery_pk, "skipped")
    with transaction.atomic():
        claimed = (
            Delivery.objects.filter(pk=delivery_pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_until=lease, enqueued_at=None)
        )
        if not claimed:
            return Result(delivery_pk, "skipped")
        hook_free = (
            Hook.objects.filter(pk=delivery.hook_id)
            .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
            .update(busy_until=lease)
        )
        if not hook_free:
            transaction.set_rollback(True)  # give the row back: the hook's holder queues it
            return Result(delivery_pk, "busy")

    hook = delivery.hook
    body = (ping_json(delivery) if delivery.type == PING else event_json(delivery.event)).encode()
    try:
        secret = crypto.decrypt_secret(hook.secret_encrypted)
    except ValueError as exc:
        outcome = outbound.Outcome(None, f"Not sent: {exc}.", 0)
    else:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "MuseHub-Hookshot/1",
            "X-MuseHub-Event": delivery.type,
            "X-MuseHub-Delivery": str(delivery.pk),
            "X-MuseHub-Signature-256": signature(secret, body),
        }
        outcome = outbound.post(hook.url, body, headers)
    return _record(delivery, outcome)


def _record(delivery: Delivery, outcome: outbound.Outcome) -> Result:
    now = timezone.now()
    attempts = delivery.attempts + 1
    allowed = delivery.max_attempts or attempts_allowed()
    changes = {
        "attempts": F("attempts") + 1,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:500],
        "duration_ms": outcome.duration_ms,
        "lease_until": None,
    }
    retry_in = None
    if outcome.ok:
        changes |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
        result = "delivered"
    elif attempts < allowed:
        backoff = settings.MUSEHUB_WEBHOOK_BACKOFF
        delay = timedelta(seconds=backoff[min(attempts, len(backoff)) - 1])
        changes |= {"next_attempt_at": now + delay}
        if delay <= MAX_QUEUED_WAIT:
            retry_in = delay.total_seconds()
            changes["enqueued_at"] = now + delay  # its message is on the queue until then
        result = "retry"
    else:
        changes["status"] = DeliveryStatus.FAILED
        result = "failed"
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
        Hook.objects.filter(pk=delivery.hook_id).update(busy_until=None)
    logger.info(
        "webhook delivery attempt",
        extra={
            "delivery_id": delivery.pk,
            "hook_id": delivery.hook_id,
            "event_type": delivery.type,
            "attempt": attempts,
            "outcome": result,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        },
    )
    return Result(
        delivery.pk, result, retry_in=retry_in, next_for_hook=next_due_for_hook(delivery.hook_id, exclude=delivery.pk)
    )


def next_due_for_hook(hook_id: int, *, exclude: int | None = None) -> int | None:
    """The hook's oldest due delivery that no worker holds (queued when the hook frees up)."""
    now = timezone.now()
    query = (
        Delivery.objects.filter(hook_id=hook_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at", "id")
    )
    if exclude is not None:
        query = query.exclude(pk=exclude)
    return query.values_list("pk", flat=True).first()
