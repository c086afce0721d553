"""Event and webhook rules: record an event, manage hooks, ping, redeliver, sweep, prune.

``event_record`` is the one entry point the session services call, inside their own
transaction, after their change: the event, and a delivery row for each active hook that
wants it, commit with the change or not at all (the outbox). Messages for the workers are
sent after the commit (``transaction.on_commit``); if that fails, the sweep sends them.

Gap-free numbering (``GET /repos/{repoId}/events``): a repo's events are numbered by its
``EventSequence`` row, bumped with ``INSERT ... ON CONFLICT (repo_id) DO UPDATE SET last =
last + 1`` by the writing transaction itself. That row stays locked until the transaction
ends, so the transaction that took number N commits (or rolls back, giving N back) before
any other can take N + 1: within a repo, events commit in number order, and a reader that
sees N + 1 also sees N. On PostgreSQL the bump, the event and its deliveries are one
statement (data-modifying CTEs); on SQLite, where writers take the database lock in turn,
one INSERT whose triggers bump the sequence and fan out the deliveries (migration 0002).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from events_app import crypto, outbound
from events_app.models import (
    EVENT_BITS,
    PING,
    Delivery,
    DeliveryStatus,
    Event,
    EventSequence,
    EventType,
    Hook,
    events_to_mask,
)
from musehub.core.errors import NotFoundError
from musehub.core.timestamps import format_timestamp

logger = logging.getLogger("musehub.events")

MIN_SECRET = 16
MAX_SECRET = 200


# ── Recording ────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Change:
    """A write, for PostgreSQL, as the data-modifying CTEs of the statement that also records
    its event (``event_record(change=...)``).

    ``ctes``: ``name AS (...)`` clauses, comma-separated; ``params``: theirs, in order;
    ``made``: the CTE that returns a row when the write was made (no row: no event);
    ``returning``: the values the caller wants back, as SELECT expressions over the CTEs.
    """

    ctes: str
    params: list[Any]
    made: str
    returning: str


def event_record(
    *, repo_id: str, session_id: str, type: str, actor, session: dict[str, Any], change: Change | None = None
) -> tuple[Any, ...]:
    """Record that session ``session_id`` of repo ``repo_id`` changed (``type``).

    ``actor`` is the user who made the change, or None (commands); ``session`` is the session
    as the API renders it (camelCase), after the change (before it, for ``session.deleted``).
    One statement, deliveries included; the repo's sequence row stays locked from it to the
    commit. Two ways to call it:

    - without ``change``: inside the transaction that made the change, last;
    - with ``change`` (PostgreSQL): the write itself goes in the same statement, and the
      event is recorded only if the write was made (``Change.made``). A statement is atomic
      on its own, so this needs no transaction around it: outside one it commits at once,
      and nothing holds the sequence row across a round trip. Returns ``Change.returning``.
    """
    if type not in EVENT_BITS:
        raise ValueError(f"unknown event type {type!r}")
    if change is None and not connection.in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction that makes the change")
    actor_name = actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else None
    occurred_at = connection.ops.adapt_datetimefield_value(timezone.now())
    snapshot = json.dumps(session, separators=(",", ":"), ensure_ascii=False)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            event_params = [
                repo_id,
                repo_id,
                type,
                session_id,
                actor_name,
                occurred_at,
                snapshot,
                type,
                occurred_at,
                occurred_at,
                repo_id,
                EVENT_BITS[type],
            ]
            if change is None:
                cursor.execute(_record_sql_postgresql(), event_params)
            else:
                cursor.execute(_record_sql_postgresql(change), [*change.params, *event_params])
        elif change is None:
            cursor.execute(
                _record_sql_sqlite(),
                [repo_id, repo_id, type, session_id, actor_name, occurred_at, snapshot, repo_id, EVENT_BITS[type]],
            )
        else:
            raise ValueError("a Change is PostgreSQL's: elsewhere the write is its own statement")
        *returned, event_pk, deliveries = cursor.fetchone()
    if deliveries:
        from events_app.tasks import enqueue_event

        # After the commit: at once when the statement was its own transaction.
        transaction.on_commit(partial(enqueue_event, event_pk))
    return tuple(returned)


def _tables() -> dict[str, str]:
    return {
        "seq": EventSequence._meta.db_table,
        "event": Event._meta.db_table,
        "hook": Hook._meta.db_table,
        "delivery": Delivery._meta.db_table,
    }


def _record_sql_postgresql(change: Change | None = None) -> str:
    """One statement: bump the repo's sequence (its row stays locked until commit), insert the
    event with that number, insert a pending delivery per active hook that wants the type.
    With a ``change``: its CTEs first, and the sequence bumped only if it was made."""
    if change is None:
        return _event_sql(ctes="", made="TRUE", returning="")
    return _event_sql(
        ctes=f"{change.ctes},", made=f"EXISTS (SELECT 1 FROM {change.made})", returning=f"{change.returning},"
    )


@cache
def _event_sql(*, ctes: str, made: str, returning: str) -> str:
    return """
        WITH {ctes} seq AS (
            INSERT INTO {seq} (repo_id, last) SELECT %s::varchar, 1 WHERE {made}
            ON CONFLICT (repo_id) DO UPDATE SET last = {seq}.last + 1
            RETURNING last
        ), ev AS (
            INSERT INTO {event} (repo_id, event_id, type, session_id, actor, occurred_at, session)
            SELECT %s::varchar, seq.last, %s::varchar, %s::varchar, %s::varchar, %s::timestamptz, %s::text FROM seq
            RETURNING id, event_id
        ), dl AS (
            INSERT INTO {delivery} (hook_id, event_id, type, status, attempts, next_attempt_at, last_error, created_at)
            SELECT h.id, ev.id, %s::varchar, 'pending', 0, %s::timestamptz, '', %s::timestamptz
            FROM ev, {hook} h
            WHERE h.repo_id = %s AND h.active AND (h.events_mask & %s::integer) <> 0
            RETURNING 1
        )
        SELECT {returning} (SELECT id FROM ev), (SELECT count(*) FROM dl)
    """.format(ctes=ctes, made=made, returning=returning, **_tables())


@cache
def _record_sql_sqlite() -> str:
    # SQLite has no data-modifying CTEs: the INSERT's triggers bump the sequence and add the
    # deliveries (migration 0002); RETURNING says how many hooks will get one. Writers hold
    # the database lock in turn (IMMEDIATE transactions), so reading ``last`` here is safe.
    return """
        INSERT INTO {event} (repo_id, event_id, type, session_id, actor, occurred_at, session)
        VALUES (%s, COALESCE((SELECT last FROM {seq} WHERE repo_id = %s), 0) + 1, %s, %s, %s, %s, %s)
        RETURNING id,
            (SELECT count(*) FROM {hook} h WHERE h.repo_id = %s AND h.active AND (h.events_mask & %s) != 0)
    """.format(**_tables())


# ── Rendering (one shape for the feed and the deliveries) ────────────────────


def event_json(event: Event | dict[str, Any]) -> str:
    """The event as its JSON text: the feed's item and the delivery's body, byte for byte.

    Built by hand so the stored session snapshot goes in as it was stored: every attempt of
    a delivery sends, and signs, the same bytes.
    """
    get = event.get if isinstance(event, dict) else partial(getattr, event)
    head = {
        "eventId": get("event_id"),
        "type": get("type"),
        "repoId": get("repo_id"),
        "sessionId": get("session_id"),
        "actor": get("actor"),
        "occurredAt": format_timestamp(get("occurred_at")),
    }
    return json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"session":' + get("session") + "}"


def ping_json(delivery: Delivery) -> str:
    body = {
        "type": PING,
        "hookId": str(delivery.hook_id),
        "repoId": delivery.hook.repo_id,
        "occurredAt": format_timestamp(delivery.created_at),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


# ── Hooks ────────────────────────────────────────────────────────────────────


def _clean_url(url: str) -> str:
    try:
        outbound.check_url(url)
    except outbound.UnsafeURLError as exc:
        raise ValidationError({"url": [str(exc)]}) from None
    return url


def hook_create(*, repo_id: str, url: str, secret: str, events: list[str] | None = None, active: bool = True) -> Hook:
    """A new hook of ``repo_id``; its URL is checked against the SSRF rules (422 on ``url``)."""
    hook = Hook(
        repo_id=repo_id,
        url=_clean_url(url),
        secret_encrypted=crypto.encrypt_secret(secret),
        events_mask=events_to_mask(EventType.values if events is None else events),
        active=active,
    )
    hook.save(force_insert=True)
    return hook


def hook_update(*, hook: Hook, **fields: Any) -> Hook:
    """Change a hook's ``url``, ``secret``, ``events`` or ``active``; only those given."""
    changes: dict[str, Any] = {}
    if "url" in fields:
        changes["url"] = _clean_url(fields["url"])
    if "secret" in fields:
        changes["secret_encrypted"] = crypto.encrypt_secret(fields["secret"])
    if "events" in fields:
        changes["events_mask"] = events_to_mask(fields["events"])
    if "active" in fields:
        changes["active"] = fields["active"]
    if changes:
        if not Hook.objects.filter(pk=hook.pk).update(**changes):
            raise NotFoundError("Hook not found.")
        for name, value in changes.items():
            setattr(hook, name, value)
    return hook


def hook_delete(*, hook: Hook) -> None:
    """Delete a hook and its deliveries (a pending one is never sent)."""
    Hook.objects.filter(pk=hook.pk).delete()


def hook_ping(*, hook: Hook) -> Delivery:
    """A ``ping`` delivery to ``hook``, whatever its ``events`` and ``active``; sent after commit."""
    now = timezone.now()
    delivery = Delivery.objects.create(hook=hook, event=None, type=PING, next_attempt_at=now, created_at=now)
    _enqueue_after_commit([delivery.pk])
    return delivery


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """One more attempt of ``delivery`` (same id, same body), now, whatever its status."""
    now = timezone.now()
    allowed = max(delivery.max_attempts or attempts_allowed(), delivery.attempts + 1)
    if delivery.status != DeliveryStatus.PENDING:
        allowed = delivery.attempts + 1  # one more, not a new round of backoff
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, max_attempts=allowed, next_attempt_at=now, enqueued_at=None
    )
    delivery.refresh_from_db()
    _enqueue_after_commit([delivery.pk])
    return delivery


def attempts_allowed() -> int:
    """Attempts a delivery gets: one, then one after each backoff delay."""
    return len(settings.MUSEHUB_WEBHOOK_BACKOFF) + 1


def _enqueue_after_commit(delivery_pks: Iterable[int]) -> None:
    from events_app.tasks import enqueue_deliveries

    transaction.on_commit(partial(enqueue_deliveries, list(delivery_pks)))


# ── The sweep and pruning ────────────────────────────────────────────────────

#: The sweep leaves a delivery alone this long after it fell due: its own message is
#: probably on its way (sent after commit, or a retry's).
SWEEP_GRACE = timedelta(seconds=10)
#: A delivery the sweep queued is queued again if still pending this long after.
REQUEUE_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 1000


def deliveries_due(*, grace: timedelta = SWEEP_GRACE, limit: int = SWEEP_BATCH) -> list[int]:
    """Pending deliveries that are due and that no worker holds or has a message for."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now - grace)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REQUEUE_AFTER))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_sweep(*, grace: timedelta = SWEEP_GRACE) -> int:
    """Queue every delivery that is due and has no message on its way; returns how many.

    What a broker outage, a lost message or a killed worker left behind goes out here. It
    marks what it queued (``enqueued_at``) so the next sweep does not queue it again while
    the message waits its turn; a row queued twice anyway is sent once (the lease).
    """
    from events_app.tasks import publish_deliveries

    total = 0
    while True:
        due = deliveries_due(grace=grace)
        if not due:
            return total
        sent = publish_deliveries(due)  # raises when the broker is down: nothing is marked
        Delivery.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())
        total += len(sent)
        if len(due) < SWEEP_BATCH:
            return total


def events_prune(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Delete events (and their deliveries) that occurred more than ``older_than`` ago.

    In batches, each its own transaction: a big prune never holds a long lock. The repos'
    sequences are kept, so numbers never come back.
    """
    cutoff = timezone.now() - older_than
    old = Event.objects.filter(occurred_at__lt=cutoff)
    if dry_run:
        return old.count()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(old.order_by("occurred_at").values_list("pk", flat=True)[:1000])
            if not batch:
                return total
            Delivery.objects.filter(event_id__in=batch).delete()
            Event.objects.filter(pk__in=batch).delete()
        total += len(batch)
