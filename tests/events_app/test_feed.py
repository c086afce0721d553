"""The event log and its feed: numbering, filtering, paging, permissions, pruning."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from events_app.models import Event
from events_app.services import event_record
from tests.events_app.conftest import quiet_session, record, snapshot
from tests.factories import UserFactory, auth_header, make_repo, make_token, share

pytestmark = pytest.mark.django_db


def _feed(client, repo, headers=None, **params):
    return client.get(f"/api/repos/{repo.pk}/events", params, headers=headers or {})


def test_events_are_numbered_per_repo_and_shown_oldest_first(client, user, repo) -> None:
    other = make_repo(owner=user, visibility="public")
    first, second, elsewhere = quiet_session(repo), quiet_session(repo), quiet_session(other)
    record(first, actor=user)
    record(elsewhere)
    record(second)
    record(first, "session.stopped", actor=user)

    body = _feed(client, repo).json()
    assert [(e["eventId"], e["type"], e["sessionId"]) for e in body["events"]] == [
        (1, "session.created", first.pk),
        (2, "session.created", second.pk),
        (3, "session.stopped", first.pk),
    ]
    assert body["nextAfter"] == 3
    event = body["events"][0]
    assert set(event) == {"eventId", "type", "repoId", "sessionId", "actor", "occurredAt", "session"}
    assert event["actor"] == "testuser"
    assert body["events"][1]["actor"] is None
    assert event["repoId"] == repo.pk
    assert event["occurredAt"].endswith("Z")
    assert event["session"] == client.get(f"/api/repos/{repo.pk}/sessions/{first.pk}").json() | {
        "endedAt": None,
        "durationSeconds": None,
        "isActive": True,
        "notes": event["session"]["notes"],
    }
    assert [e["eventId"] for e in _feed(client, other).json()["events"]] == [1]


def test_after_limit_and_type_page_through_the_feed(client, repo) -> None:
    session = quiet_session(repo)
    for type_ in ["session.created", "session.updated", "session.commits_added", "session.updated", "session.stopped"]:
        record(session, type_)
    page = _feed(client, repo, after=1, limit=2).json()
    assert [e["eventId"] for e in page["events"]] == [2, 3]
    assert page["nextAfter"] == 3
    page = _feed(client, repo, after=3, limit=2).json()
    assert [e["eventId"] for e in page["events"]] == [4, 5]
    assert page["nextAfter"] == 5
    page = _feed(client, repo, after=5).json()
    assert page == {"events": [], "nextAfter": 5}
    updates = client.get(f"/api/repos/{repo.pk}/events?type=session.updated&type=session.stopped").json()
    assert [(e["eventId"], e["type"]) for e in updates["events"]] == [
        (2, "session.updated"),
        (4, "session.updated"),
        (5, "session.stopped"),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "x"}, "after"),
        ({"after": "1.5"}, "after"),
        ({"after": "9" * 40}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"type": "session.exploded"}, "type"),
        ({"type": "ping"}, "type"),
        ({"type": "\x00"}, "type"),
    ],
)
def test_bad_feed_parameters_are_422_naming_them(client, repo, params, field) -> None:
    response = _feed(client, repo, **params)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


def test_feed_follows_the_read_sessions_row(client, user, private_repo, outsider_headers) -> None:
    reader = UserFactory(username="reader")
    share(private_repo, reader, "read")
    record(quiet_session(private_repo))
    assert _feed(client, private_repo).status_code == 401
    assert _feed(client, private_repo, headers=outsider_headers).status_code == 404
    assert _feed(client, private_repo, headers=auth_header(make_token(reader))).json()["nextAfter"] == 1
    assert _feed(client, private_repo, headers=auth_header(make_token(user))).status_code == 200
    assert client.get(f"/api/repos/{'0' * 64}/events").status_code == 404


def test_recording_an_event_is_one_statement(repo) -> None:
    session = quiet_session(repo)
    body = snapshot(session)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        event_record(repo_id=repo.pk, session_id=session.pk, type="session.created", actor=None, session=body)
    assert len([q for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) == 1


@pytest.mark.django_db(transaction=True)
def test_event_record_refuses_to_run_outside_a_transaction(repo) -> None:
    session = quiet_session(repo)
    with pytest.raises(RuntimeError):
        event_record(repo_id=repo.pk, session_id=session.pk, type="session.created", actor=None, session={})


def test_a_rolled_back_change_leaves_no_event_and_no_gap(client, repo) -> None:
    session = quiet_session(repo)
    record(session)

    def failing_change() -> None:
        with transaction.atomic():
            event_record(
                repo_id=repo.pk, session_id=session.pk, type="session.updated", actor=None, session=snapshot(session)
            )
            raise RuntimeError("the session service fails after recording: both roll back")

    with pytest.raises(RuntimeError):
        failing_change()
    record(session, "session.stopped")
    assert [(e["eventId"], e["type"]) for e in _feed(client, repo).json()["events"]] == [
        (1, "session.created"),
        (2, "session.stopped"),
    ]


def test_prune_events_removes_old_ones_and_numbers_never_come_back(client, repo) -> None:
    session = quiet_session(repo)
    for _ in range(3):
        record(session)
    Event.objects.filter(event_id__lte=2).update(
        occurred_at=Event.objects.get(event_id=3).occurred_at - timedelta(days=40)
    )
    out = StringIO()
    call_command("prune_events", "--older-than", "30d", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "Would delete 2 event(s) older than 30 days, 0:00:00."
    assert Event.objects.count() == 3
    call_command("prune_events", "--older-than", "30d", stdout=out)
    assert [e["eventId"] for e in _feed(client, repo).json()["events"]] == [3]
    Event.objects.all().delete()  # even with every event gone, numbering goes on
    record(session)
    assert [e["eventId"] for e in _feed(client, repo).json()["events"]] == [4]


@pytest.mark.parametrize("argument", ["30", "0d", "-5d", "forever"])
def test_prune_events_refuses_a_bad_duration(argument) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="invalid duration"):
        call_command("prune_events", f"--older-than={argument}")
