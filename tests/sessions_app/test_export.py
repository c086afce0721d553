"""``GET /repos/{repoId}/sessions/export?format=csv|ics`` (SPEC "Reports"): the whole
filtered set, newest first, streamed; read back with Python's ``csv`` module and the
``icalendar`` library, it equals the sessions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from musehub.api import streaming
from sessions_app import selectors
from tests.factories import UserFactory, auth_header, make_session, make_token, share

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
HEADER = [
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
]
#: Text that CSV must quote and iCalendar must escape or fold.
AWKWARD_NOTES = 'Take 3, "the good one"; bass\\drums\nsecond line\r\nthird, ' + "très long " * 20
AWKWARD_INTENT = "Mix; master, and \\ more"


def export_url(repo) -> str:
    return f"/api/repos/{repo.pk}/sessions/export"


def body_of(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


@pytest.fixture
def sessions(repo):
    """Three sessions, oldest first: awkward text, an active one, one that ended as it began."""
    awkward = make_session(
        repo,
        started_at=T0,
        ended_at=T0 + timedelta(hours=2, microseconds=500_000),
        participants=["ana", "bo, the drummer"],
        tags=["mix", "take-3"],
        intent=AWKWARD_INTENT,
        location="Studio A, room 2",
        notes=AWKWARD_NOTES,
        commits=["a" * 64, "b" * 64],
    )
    active = make_session(repo, started_at=T0 + timedelta(days=1), intent="", location="")
    instant = make_session(repo, started_at=T0 + timedelta(days=2), ended_at=T0 + timedelta(days=2), intent="Blip")
    return [awkward, active, instant]


def test_csv_round_trips_through_the_csv_module(client, auth_headers, repo, sessions):
    response = client.get(export_url(repo), {"format": "csv"}, headers=auth_headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="{repo.slug}-sessions.csv"'
    rows = list(csv.reader(io.StringIO(body_of(response).decode(), newline="")))
    assert rows[0] == HEADER
    by_id = {row[0]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == [s.pk for s in reversed(sessions)]  # newest first

    awkward, active, instant = sessions
    assert by_id[awkward.pk] == {
        "sessionId": awkward.pk,
        "startedAt": "2026-04-01T09:30:00Z",
        "endedAt": "2026-04-01T11:30:00.500000Z",
        "durationSeconds": "7200.5",
        "author": "testuser",
        "participants": "ana;bo, the drummer",
        "tags": "mix;take-3",
        "intent": AWKWARD_INTENT,
        "location": "Studio A, room 2",
        "notes": AWKWARD_NOTES,
        "commitCount": "2",
    }
    assert (by_id[active.pk]["endedAt"], by_id[active.pk]["durationSeconds"]) == ("", "")
    assert by_id[active.pk]["commitCount"] == "0"
    assert by_id[instant.pk]["durationSeconds"] == "0.0"


def test_ics_parses_with_icalendar_and_equals_the_sessions(client, auth_headers, repo, sessions):
    response = client.get(export_url(repo), {"format": "ics"}, headers=auth_headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    raw = body_of(response)
    # RFC 5545: CRLF line ends, lines folded at 75 octets.
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    calendar = Calendar.from_ical(raw)
    events = calendar.walk("VEVENT")
    assert [str(event["UID"]) for event in events] == [f"{s.pk}@musehub" for s in reversed(sessions)]

    instant, active, awkward = events
    assert awkward.decoded("DTSTART") == T0
    assert awkward.decoded("DTEND") == T0 + timedelta(hours=2)  # iCalendar keeps whole seconds
    assert awkward.decoded("DTSTAMP") == sessions[0].created_at.replace(microsecond=0)
    assert str(awkward["SUMMARY"]) == AWKWARD_INTENT
    assert str(awkward["LOCATION"]) == "Studio A, room 2"
    assert str(awkward["DESCRIPTION"]) == AWKWARD_NOTES.replace("\r\n", "\n")
    assert b"DTSTART:20260401T093000Z" in raw  # UTC, with the Z
    # The escapes are in the file itself, not only undone by the parser.
    assert b"SUMMARY:Mix\\; master\\, and \\\\ more" in raw

    assert "DTEND" not in active  # still running
    assert str(active["SUMMARY"]) == "Recording session"
    assert "LOCATION" not in active
    assert "DTEND" not in instant  # ended as it started: no DTEND before/at DTSTART
    assert str(instant["SUMMARY"]) == "Blip"


@pytest.mark.parametrize("params", [{}, {"format": ""}, {"format": "xlsx"}, {"format": "CSV"}])
def test_a_missing_or_unknown_format_is_422_naming_format(client, auth_headers, repo, params):
    response = client.get(export_url(repo), params, headers=auth_headers)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["errors"]) == ["format"]


def test_bad_filters_are_422_before_anything_streams(client, auth_headers, repo):
    response = client.get(export_url(repo), {"format": "csv", "startedAfter": "nope"}, headers=auth_headers)
    assert response.status_code == 422
    assert not response.streaming
    assert list(response.json()["errors"]) == ["startedAfter"]


def test_the_list_filters_apply(client, auth_headers, repo, sessions):
    response = client.get(export_url(repo), {"format": "csv", "active": "false"}, headers=auth_headers)
    rows = list(csv.reader(io.StringIO(body_of(response).decode(), newline="")))
    assert [row[0] for row in rows[1:]] == [sessions[2].pk, sessions[0].pk]
    tagged = client.get(export_url(repo), {"format": "ics", "tag": "take-3"}, headers=auth_headers)
    assert [str(e["UID"]) for e in Calendar.from_ical(body_of(tagged)).walk("VEVENT")] == [f"{sessions[0].pk}@musehub"]


def test_an_empty_export_is_a_header_or_an_empty_calendar(client, auth_headers, repo):
    csv_body = body_of(client.get(export_url(repo), {"format": "csv"}, headers=auth_headers))
    assert csv_body == (",".join(HEADER) + "\r\n").encode()
    ics = Calendar.from_ical(body_of(client.get(export_url(repo), {"format": "ics"}, headers=auth_headers)))
    assert ics.walk("VEVENT") == []
    assert str(ics["VERSION"]) == "2.0"


def test_export_reads_in_chunks_and_yields_every_session_once_newest_first(client, auth_headers, repo, monkeypatch):
    # Several sessions share a start (different authors): the chunk edges must not skip or repeat them.
    made = [make_session(repo, started_at=T0 + timedelta(minutes=n)) for n in range(7)]
    for n in range(3):
        player = UserFactory(username=f"player{n}")
        share(repo, player, "write")
        made.append(make_session(repo, author=player, started_at=T0 + timedelta(minutes=3)))
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 3)

    response = client.get(export_url(repo), {"format": "csv"}, headers=auth_headers)
    with CaptureQueriesContext(connection) as captured:
        rows = list(csv.reader(io.StringIO(body_of(response).decode(), newline="")))[1:]

    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)) == 10
    newest_first = sorted(made, key=lambda s: (s.started_at, s.pk), reverse=True)
    assert ids == [s.pk for s in newest_first]
    # Read while streaming, three rows a query: ceil(10 / 3) = 4 reads.
    assert len([q for q in captured.captured_queries if "SELECT" in q["sql"]]) == 4


def test_export_follows_the_read_sessions_row(client, outsider_headers, repo, private_repo):
    reader = UserFactory(username="reader")
    share(private_repo, reader, "read")
    assert client.get(export_url(repo), {"format": "csv"}).status_code == 200  # anonymous, public
    assert client.get(export_url(private_repo), {"format": "csv"}).status_code == 401
    assert client.get(export_url(private_repo), {"format": "csv"}, headers=outsider_headers).status_code == 404
    as_reader = auth_header(make_token(reader))
    assert client.get(export_url(private_repo), {"format": "ics"}, headers=as_reader).status_code == 200


def test_an_accept_header_for_the_file_type_is_fine(client, auth_headers, repo, sessions):
    response = client.get(export_url(repo), {"format": "csv"}, headers={**auth_headers, "Accept": "text/csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize(
    ("params", "accept"),
    [({"format": "csv"}, "text/html"), ({"format": "csv"}, "application/json"), ({}, "text/csv")],
)
def test_an_accept_that_excludes_the_answer_is_406(client, auth_headers, repo, params, accept):
    response = client.get(export_url(repo), params, headers={**auth_headers, "Accept": accept})
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"


def test_the_stream_beats_the_worker_heartbeat_once_per_chunk(client, auth_headers, repo, monkeypatch):
    """gunicorn kills a sync worker silent for its timeout: a long export tells it, after
    each chunk written, that it is alive (musehub.api.streaming)."""
    for n in range(5):
        make_session(repo, started_at=T0 + timedelta(minutes=n))
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 2)
    beats = []
    monkeypatch.setattr(streaming, "_heartbeat", lambda: beats.append(len(beats)))

    response = client.get(export_url(repo), {"format": "csv"}, headers=auth_headers)
    assert beats == []  # nothing is read or written before the stream is consumed
    chunks = list(response.streaming_content)

    assert len(chunks) == 3  # 2 + 2 + 1 sessions
    assert len(beats) == len(chunks)
