"""Sessions as files: CSV and iCalendar (``GET /repos/{repoId}/sessions/export``).

Each format turns chunks of session rows (``sessions_app.selectors.session_chunks``, with
``COLUMNS``) into
chunks of bytes, one per chunk of rows, so an export of a million sessions holds one chunk
in memory at a time. The formats' own rules (CSV quoting; RFC 5545 escaping, line folding
at 75 octets and CRLF) are left to Python's ``csv`` module and the ``icalendar`` library.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from icalendar import Calendar, Event

from musehub.core.timestamps import format_timestamp, to_utc
from sessions_app.render import AUTHOR, ROW_FIELDS

Row = Mapping[str, Any]
#: What an export reads of each session: a row without the commit ids, with their count.
COLUMNS = (*(column for column in ROW_FIELDS if column != "commits"), "commit_count")

CSV_COLUMNS = (
    "sessionId",
    "startedAt",
    "endedAt",
    "durationSeconds",
    "author",
    "participants",
    "tags",
    "intent",
    "location",
    "notes",
    "commitCount",
)
#: A session's lists (participants, tags) in one CSV cell.
LIST_SEPARATOR = ";"
DEFAULT_SUMMARY = "Recording session"


def csv_chunks(chunks: Iterable[list[Row]]) -> Iterator[bytes]:
    """A CSV file (UTF-8, CRLF rows, a header row) of the sessions in ``chunks``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for rows in chunks:
        writer.writerows(_csv_row(row) for row in rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def _csv_row(row: Row) -> list[Any]:
    started_at, ended_at = row["started_at"], row["ended_at"]
    return [
        row["session_id"],
        format_timestamp(started_at),
        format_timestamp(ended_at) or "",
        "" if ended_at is None else (ended_at - started_at).total_seconds(),
        row[AUTHOR] or "",
        LIST_SEPARATOR.join(row["participants"]),
        LIST_SEPARATOR.join(row["tags"]),
        row["intent"],
        row["location"],
        row["notes"],
        row["commit_count"],
    ]


def ics_chunks(chunks: Iterable[list[Row]]) -> Iterator[bytes]:
    """An iCalendar file (RFC 5545): one ``VEVENT`` per session in ``chunks``."""
    calendar = Calendar()
    calendar.add("prodid", "-//MuseHub//Recording sessions//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    # The library writes the calendar whole; streamed, its events go between its first
    # lines and its END line.
    whole = calendar.to_ical()
    end = b"END:VCALENDAR\r\n"
    yield whole[: -len(end)]
    for rows in chunks:
        yield b"".join(_event(row).to_ical() for row in rows)
    yield end


def _event(row: Row) -> Event:
    event = Event()
    event.add("uid", f"{row['session_id']}@musehub")
    event.add("dtstamp", to_utc(row["created_at"]))
    event.add("dtstart", to_utc(row["started_at"]))
    # An active session has no end yet; one that ended as it started has no duration to show
    # (RFC 5545 wants DTEND after DTSTART).
    if row["ended_at"] is not None and row["ended_at"] > row["started_at"]:
        event.add("dtend", to_utc(row["ended_at"]))
    event.add("summary", row["intent"] or DEFAULT_SUMMARY)
    if row["location"]:
        event.add("location", row["location"])
    if row["notes"]:
        event.add("description", row["notes"])
    if row["tags"]:
        event.add("categories", list(row["tags"]))
    return event
