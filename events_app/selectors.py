"""Reads: the event feed, hooks with their newest delivery, a hook's deliveries."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Max

from events_app.models import Delivery, Event, EventType, Hook
from events_app.services import event_json
from musehub.core.keyset import invalid_cursor, sign_cursor, unsign_cursor

FEED_DEFAULT_LIMIT = 100
FEED_MAX_LIMIT = 200
DELIVERIES_DEFAULT_LIMIT = 50
DELIVERIES_MAX_LIMIT = 200
_MAX_EVENT_ID = 2**63 - 1


def _integer(raw: str | None, *, name: str, default: int, low: int, high: int, message: str) -> int:
    if raw is None or raw == "":
        return default
    # ASCII digits only, few of them: int() also takes "1_0", " 5" and other scripts' digits.
    if not (len(raw) <= 19 and raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise ValidationError({name: [message]})
    return int(raw)


def parse_feed_query(params) -> tuple[int, int, list[str]]:
    """``after``, ``limit`` and ``type`` (repeatable) from the feed's query; 422 names a bad one."""
    errors: dict[str, list[str]] = {}
    after = limit = 0
    try:
        after = _integer(
            params.get("after"),
            name="after",
            default=0,
            low=0,
            high=_MAX_EVENT_ID,
            message="Must be a whole number, 0 or more (an eventId).",
        )
    except ValidationError as exc:
        errors |= exc.message_dict
    try:
        limit = _integer(
            params.get("limit"),
            name="limit",
            default=FEED_DEFAULT_LIMIT,
            low=1,
            high=FEED_MAX_LIMIT,
            message=f"Must be an integer from 1 to {FEED_MAX_LIMIT}.",
        )
    except ValidationError as exc:
        errors |= exc.message_dict
    types = params.getlist("type")
    if any(value not in EventType.values for value in types):
        errors["type"] = [f"Must be one of: {', '.join(EventType.values)}."]
    if errors:
        raise ValidationError(errors)
    return after, limit, list(dict.fromkeys(types))


def event_feed(*, repo_id: str, after: int, limit: int, types: list[str]) -> tuple[list[str], int]:
    """Events of the repo numbered above ``after``, oldest first, as JSON texts; and nextAfter.

    One statement: every event it returns is committed, and so is every smaller number of
    the repo (numbers commit in order: ``events_app.services``), so following ``nextAfter``
    never skips one.
    """
    query = Event.objects.filter(repo_id=repo_id, event_id__gt=after)
    if types:
        query = query.filter(type__in=types)
    rows = list(
        query.order_by("event_id").values(
            "event_id", "type", "repo_id", "session_id", "actor", "occurred_at", "session"
        )[:limit]
    )
    return [event_json(row) for row in rows], (rows[-1]["event_id"] if rows else after)


def hooks_with_last_delivery(*, repo_id: str, hook_id: int | None = None) -> list[Hook]:
    """The repo's hooks (or the one ``hook_id``), each with ``last_delivery``: two queries."""
    hooks = Hook.objects.filter(repo_id=repo_id).order_by("id").annotate(last_delivery_pk=Max("deliveries__id"))
    if hook_id is not None:
        hooks = hooks.filter(pk=hook_id)
    hooks = list(hooks)
    wanted = [hook.last_delivery_pk for hook in hooks if hook.last_delivery_pk is not None]
    last = {d.pk: d for d in Delivery.objects.select_related("event").filter(pk__in=wanted)} if wanted else {}
    for hook in hooks:
        hook.last_delivery = last.get(hook.last_delivery_pk)
    return hooks


def hook_of_repo(*, repo_id: str, hook_id: int) -> Hook | None:
    return Hook.objects.filter(repo_id=repo_id, pk=hook_id).first()


def _encode(delivery_pk: int) -> str:
    return sign_cursor(["d", delivery_pk])


def _decode(cursor: str) -> int:
    """The delivery id inside a cursor ``_encode`` made (signed, as every cursor: 422 else)."""
    keys = unsign_cursor(cursor)
    if not (isinstance(keys, list) and len(keys) == 2 and keys[0] == "d"):
        raise invalid_cursor()
    pk = keys[1]
    if not isinstance(pk, int) or isinstance(pk, bool) or not 0 < pk <= _MAX_EVENT_ID:
        raise invalid_cursor()
    return pk


def hook_deliveries(*, hook: Hook, limit: int, cursor: str | None) -> tuple[list[Delivery], str | None]:
    """A page of the hook's deliveries, newest first (ids grow with time), and the next cursor."""
    query = Delivery.objects.filter(hook=hook).select_related("event").order_by("-id")
    if cursor:
        query = query.filter(pk__lt=_decode(cursor))
    page = list(query[: limit + 1])
    if len(page) > limit:
        page = page[:limit]
        return page, _encode(page[-1].pk)
    return page, None


def rendered_events(texts: list[str]) -> list[dict[str, Any]]:
    return [json.loads(text) for text in texts]
