"""The one JSON shape of a session: what the API answers, and what events and webhooks carry.

A session is read as a row (``ROW_FIELDS``: its columns, with the author's username in
place of the author's id) and ``session_body`` turns that row into the camelCase body.
Both are derived from the model's columns, so a new column shows up here by itself.
Built by hand rather than by a serializer: a page of 50 sessions is the hot path, and
this is several times faster than serializing model instances field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import DateTimeField

from musehub.api.conditional import etag_of
from musehub.api.renderers import Camelized
from musehub.core.naming import camel
from musehub.core.timestamps import format_timestamp
from sessions_app.models import Session

#: The author is shown by name: ``.values()`` reads it through the join.
AUTHOR = "author__username"
#: The columns of a session row, as ``.values(*ROW_FIELDS)`` reads them.
ROW_FIELDS: tuple[str, ...] = tuple(
    AUTHOR if field.name == "author" else field.attname for field in Session._meta.concrete_fields
)
_TIMESTAMPS = tuple(
    (camel(field.attname), field.attname) for field in Session._meta.concrete_fields if isinstance(field, DateTimeField)
)
_AS_STORED = tuple(
    ("author" if column == AUTHOR else camel(column), column)
    for column in ROW_FIELDS
    if column not in dict(_TIMESTAMPS).values()
)


def session_body(row: Mapping[str, Any]) -> Camelized:
    """A session row as the API shows it: camelCase keys, ``Z`` timestamps, ``durationSeconds``."""
    body = Camelized({key: row[column] for key, column in _AS_STORED})
    for key, column in _TIMESTAMPS:
        body[key] = format_timestamp(row[column])
    started_at, ended_at = row["started_at"], row["ended_at"]
    body["durationSeconds"] = None if ended_at is None else (ended_at - started_at).total_seconds()
    return body


def session_etag(row: Mapping[str, Any]) -> str:
    """The session's strong ETag: what a GET of it carries, and what ``If-Match`` is
    compared with (``musehub.api.conditional``)."""
    return etag_of(session_body(row))


def stats_body(stats: Mapping[str, Any]) -> dict[str, Any]:
    """``sessions_app.selectors.session_stats`` as the API shows it: seconds as float
    seconds (like ``durationSeconds``), dates as ``YYYY-MM-DD`` (UTC)."""

    def groups(rows, key: str) -> list[dict[str, Any]]:
        return [{key: row[key], "sessions": row["sessions"], "seconds": row["seconds"].total_seconds()} for row in rows]

    return {
        "sessions": stats["sessions"],
        "active": stats["active"],
        "totalSeconds": stats["seconds"].total_seconds(),
        "commits": stats["commits"],
        "participants": groups(stats["participants"], "name"),
        "locations": groups(stats["locations"], "name"),
        "byDay": [
            {"date": day["date"].isoformat(), "sessions": day["sessions"], "seconds": day["seconds"].total_seconds()}
            for day in stats["by_day"]
        ],
    }
