"""Keyset (cursor) pagination, newest first, shared by every list.

A page is the rows strictly after the cursor in ``ORDER BY k1 DESC, k2 DESC``; the cursor
is the last row's keys, signed by the server (Django's signing, keyed by SECRET_KEY): a
cursor it did not issue, or one altered, is refused before anything reaches the database.
Unlike offsets, a page stays correct while new rows arrive, and a page deep in a million
rows costs the same as the first.

``limit`` is a maximum: a page also stops once its rows pass ``MAX_PAGE_BYTES`` as JSON (a
session can hold 10,000 commit ids), and still gives the next cursor, so a walk sees every
row exactly once while no response (nor the worker building it) grows past about 1 MiB
and one row.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from musehub.core.timestamps import format_timestamp, to_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Cursors we issue are about 170 characters; anything far longer is not one of ours.
MAX_CURSOR_LENGTH = 512
#: A page stops adding rows once they pass this many bytes of JSON.
MAX_PAGE_BYTES = 1024 * 1024
#: About what a row's keys, punctuation and numbers add to its JSON, per column.
_BYTES_PER_COLUMN = 32
#: Cursors are signed with this salt: a value signed for anything else is not a cursor.
_SALT = "musehub.keyset.cursor"


def _signer() -> signing.Signer:
    """Made per use, so it signs with the current ``SECRET_KEY`` (and accepts the
    ``SECRET_KEY_FALLBACKS`` of a key rotation). ``.`` separates value and signature: a
    ``:`` would be percent-encoded in the ``Link`` header."""
    return signing.Signer(salt=_SALT, sep=".")


class KeysetPage(NamedTuple):
    """One page: its rows, how many rows match in all, and the cursor of the next page."""

    rows: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def sign_cursor(keys: list[Any]) -> str:
    """A cursor holding ``keys`` (JSON values): base64url JSON, then ``.`` and the signature
    (URL-safe: ``A-Z a-z 0-9 - _ .``). Every cursor the API issues is made here."""
    raw = json.dumps(keys, separators=(",", ":")).encode()
    return _signer().sign(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def unsign_cursor(cursor: str) -> Any:
    """The JSON value inside a cursor ``sign_cursor`` made; any other cursor is a 422
    naming ``cursor`` (``invalid_cursor()``). The caller still checks its shape."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid_cursor()
    try:
        payload = _signer().unsign(cursor)
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (signing.BadSignature, binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid_cursor() from None


def invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: pass back a nextCursor value unchanged."]})


def encode_cursor(time_key: datetime, id_key: str) -> str:
    """The cursor after the row with these keys."""
    return sign_cursor([format_timestamp(time_key), id_key])


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) keys inside a cursor we issued; any other cursor is a 422."""
    keys = unsign_cursor(cursor)
    # Checked even though we signed it: a cursor of an older release, or of a key that leaked.
    if not (isinstance(keys, list) and len(keys) == 2 and all(isinstance(key, str) for key in keys)):
        raise invalid_cursor()
    time_text, id_key = keys
    try:
        time_key = parse_datetime(time_text)
    except ValueError:
        raise invalid_cursor() from None
    if time_key is None or not _storable(id_key):
        raise invalid_cursor()
    try:
        return to_utc(time_key), id_key
    except OverflowError:  # an instant with no UTC equivalent: not one of ours
        raise invalid_cursor() from None


def _storable(text: str) -> bool:
    """No NUL and no unpaired surrogate: text a database can compare with a column."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def approx_json_bytes(row: dict[str, Any]) -> int:
    """About how many bytes ``row`` takes in a JSON response: its strings and lists of
    strings measured (UTF-8, quotes and commas), the rest a constant per column. Cheap
    enough for every row of every page (no encoding of the row itself)."""
    size = _BYTES_PER_COLUMN * len(row)
    for value in row.values():
        if isinstance(value, str):
            size += _utf8_length(value)
        elif isinstance(value, list):
            size += sum(_utf8_length(item) + 3 if isinstance(item, str) else 16 for item in value)
    return size


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


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
    fetch: Callable[[tuple[datetime, str] | None], Iterable[dict[str, Any]]] | None = None,
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
    found = (
        fetch(after)
        if fetch is not None
        else keyset_rows(rows, keys=keys, limit=limit, after=after).iterator(chunk_size=32)
    )
    page, more = _take(iter(found), limit)
    next_cursor = encode_cursor(page[-1][time_field], page[-1][id_field]) if more else None
    if total is None:
        if not cursor and next_cursor is None:
            total = len(page)
        else:
            total = count() if count is not None else rows.order_by().count()
    return KeysetPage(rows=page, total=total, next_cursor=next_cursor)


def _take(found: Iterator[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` rows of ``found``, stopping once they pass ``MAX_PAGE_BYTES``; and
    whether any row is left after them. Rows past the cut are never converted."""
    try:
        page, size = [], 0
        for row in islice(found, limit):
            page.append(row)
            size += approx_json_bytes(row)
            if size > MAX_PAGE_BYTES:
                break
        return page, next(found, None) is not None
    finally:
        close = getattr(found, "close", None)
        if close is not None:
            close()  # a generator holding a database cursor lets it go now
