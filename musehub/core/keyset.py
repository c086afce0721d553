"""Keyset (cursor) pagination, newest first, shared by every list.

A page is the rows strictly after the cursor in ``ORDER BY k1 DESC, k2 DESC``; the cursor
is the last row's keys, base64url-encoded. Unlike offsets, a page stays correct while new
rows arrive, and a page deep in a million rows costs the same as the first.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from musehub.core.timestamps import format_timestamp, to_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Cursors we issue are about 130 characters; anything far longer is not one of ours.
MAX_CURSOR_LENGTH = 512


class KeysetPage(NamedTuple):
    """One page: its rows, how many rows match in all, and the cursor of the next page."""

    rows: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def encode_cursor(time_key: datetime, id_key: str) -> str:
    raw = json.dumps([format_timestamp(time_key), id_key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) keys inside a cursor; a cursor that cannot be decoded is a 422."""
    invalid = ValidationError({"cursor": ["Invalid cursor: pass back a nextCursor value unchanged."]})
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        time_text, id_key = json.loads(raw)
        time_key = parse_datetime(time_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid from None
    if time_key is None or not isinstance(id_key, str) or "\x00" in id_key:
        raise invalid
    try:
        return to_utc(time_key), id_key
    except OverflowError:  # an instant with no UTC equivalent: not one of ours
        raise invalid from None


def keyset_rows(
    rows: QuerySet, *, keys: tuple[str, str], limit: int, after: tuple[datetime, str] | None = None
) -> QuerySet:
    """The query for one page: ``rows`` after the ``after`` keys (if any), newest first, and
    one row more than ``limit`` (it tells whether there is a next page)."""
    time_field, id_field = keys
    page_qs = rows.order_by(f"-{time_field}", f"-{id_field}")
    if after is not None:
        after_time, after_id = after
        page_qs = page_qs.filter(
            # Implied by the OR below, but only this plain bound lets the database start the
            # index scan at the cursor: without it PostgreSQL reads and discards every newer
            # row (900,000 of them for a page deep in a million-session repo).
            Q(**{f"{time_field}__lte": after_time}),
            Q(**{f"{time_field}__lt": after_time}) | Q(**{time_field: after_time, f"{id_field}__lt": after_id}),
        )
    return page_qs[: limit + 1]


def keyset_page(
    rows: QuerySet | None,
    *,
    keys: tuple[str, str],
    limit: int,
    cursor: str | None = None,
    total: int | None = None,
    fetch: Callable[[tuple[datetime, str] | None], list[dict[str, Any]]] | None = None,
    count: Callable[[], int] | None = None,
) -> KeysetPage:
    """One page of ``rows`` (a ``.values()`` queryset) ordered by ``keys``, both descending.

    ``total`` is the count of all rows when the caller keeps it (a counter column);
    otherwise it is counted (by ``count()`` when given), except when the first page
    already holds every row. ``fetch(after)``, when given, reads the page's rows instead of
    ``keyset_rows`` (a compiled query of the same shape: ``sessions_app.selectors``). With
    ``fetch`` and a ``total`` or ``count``, ``rows`` is not used and may be None (building a
    ``.values()`` query is not free).
    """
    if rows is None and (fetch is None or (total is None and count is None)):
        raise TypeError("keyset_page needs rows unless fetch, and total or count, are given")
    time_field, id_field = keys
    after = decode_cursor(cursor) if cursor else None
    page = fetch(after) if fetch is not None else list(keyset_rows(rows, keys=keys, limit=limit, after=after))
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        last = page[-1]
        next_cursor = encode_cursor(last[time_field], last[id_field])
    if total is None:
        if not cursor and next_cursor is None:
            total = len(page)
        else:
            total = count() if count is not None else rows.order_by().count()
    return KeysetPage(rows=page, total=total, next_cursor=next_cursor)
