"""Every session change records exactly the event SPEC lists, from the API, the admin and the
commands alike, with the session as the API shows it; a write that changes nothing, or
fails, records none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from events_app.models import Event
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share

pytestmark = pytest.mark.django_db

C1, C2 = "a" * 64, "b" * 64


def _events(client, repo, after: int = 0) -> list[dict]:
    return client.get(f"/api/repos/{repo.pk}/events", {"after": after}).json()["events"]


def _new(client, repo, seen: list) -> list[tuple]:
    """The events since the last call: (type, actor, sessionId)."""
    events = _events(client, repo, after=seen[-1]["eventId"] if seen else 0)
    seen.extend(events)
    return [(e["type"], e["actor"], e["sessionId"]) for e in events]


def test_every_session_route_records_its_event_and_no_ops_record_none(client, repo, auth_headers) -> None:
    url, seen = f"/api/repos/{repo.pk}/sessions", []
    created = client.post(url, {"startedAt": "2026-05-01T10:00:00Z", "intent": "Chorus"}, headers=auth_headers)
    assert created.status_code == 201
    sid = created.json()["sessionId"]
    assert _new(client, repo, seen) == [("session.created", "testuser", sid)]
    assert seen[-1]["session"] == created.json()

    retry = client.post(url, {"startedAt": "2026-05-01T10:00:00Z", "intent": "Chorus"}, headers=auth_headers)
    conflict = client.post(url, {"startedAt": "2026-05-01T10:00:00Z", "intent": "Verse"}, headers=auth_headers)
    assert (retry.status_code, conflict.status_code) == (200, 409)
    assert _new(client, repo, seen) == []

    patched = client.patch(f"{url}/{sid}", {"location": "Studio 2"}, headers=auth_headers)
    assert _new(client, repo, seen) == [("session.updated", "testuser", sid)]
    assert seen[-1]["session"] == patched.json()
    for same in ({"location": "Studio 2"}, {}, {"intent": "Chorus", "location": "Studio 2"}):
        assert client.patch(f"{url}/{sid}", same, headers=auth_headers).status_code == 200
    assert _new(client, repo, seen) == []

    appended = client.post(f"{url}/{sid}/commits", {"commits": [C1, C2, C1]}, headers=auth_headers)
    assert _new(client, repo, seen) == [("session.commits_added", "testuser", sid)]
    assert seen[-1]["session"]["commits"] == [C1, C2] == appended.json()["commits"]
    assert client.post(f"{url}/{sid}/commits", {"commits": [C2]}, headers=auth_headers).status_code == 200
    assert client.post(f"{url}/{sid}/commits", {"commits": []}, headers=auth_headers).status_code == 200
    assert _new(client, repo, seen) == []

    too_early = client.post(f"{url}/{sid}/stop", {"endedAt": "2020-01-01T00:00:00Z"}, headers=auth_headers)
    assert too_early.status_code == 422
    assert _new(client, repo, seen) == []
    stopped = client.post(f"{url}/{sid}/stop", {"notes": "Done"}, headers=auth_headers)
    assert _new(client, repo, seen) == [("session.stopped", "testuser", sid)]
    assert seen[-1]["session"] == stopped.json()
    assert seen[-1]["session"]["isActive"] is False
    assert client.post(f"{url}/{sid}/stop", {"notes": "Again"}, headers=auth_headers).status_code == 200
    assert _new(client, repo, seen) == []

    before = client.get(f"{url}/{sid}").json()
    assert client.delete(f"{url}/{sid}", headers=auth_headers).status_code == 204
    assert _new(client, repo, seen) == [("session.deleted", "testuser", sid)]
    assert seen[-1]["session"] == before  # as it was
    assert client.delete(f"{url}/{sid}", headers=auth_headers).status_code == 404
    assert _new(client, repo, seen) == []

    assert [e["eventId"] for e in seen] == [1, 2, 3, 4, 5]


def test_the_actor_is_whoever_made_the_change(client, user, repo, auth_headers) -> None:
    writer = UserFactory(username="writer")
    share(repo, writer, "write")
    session = make_session(repo)  # through the service, no actor: like a command
    url = f"/api/repos/{repo.pk}/sessions/{session.pk}"
    client.patch(url, {"intent": "by writer"}, headers=auth_header(make_token(writer)))
    client.post(f"{url}/stop", {}, headers=auth_headers)
    assert [(e["type"], e["actor"]) for e in _events(client, repo)] == [
        ("session.created", None),
        ("session.updated", "writer"),
        ("session.stopped", "testuser"),
    ]


def test_refused_writes_record_nothing(client, repo, private_repo, outsider_headers, auth_headers) -> None:
    session = make_session(repo)
    url = f"/api/repos/{repo.pk}/sessions/{session.pk}"
    assert client.patch(url, {"intent": "x"}, headers=outsider_headers).status_code == 403
    assert client.patch(url, {"intent": "x"}).status_code == 401
    assert client.patch(url, {"participants": "nope"}, headers=auth_headers).status_code == 422
    assert client.post(f"{url}/commits", {"commits": ["not-a-commit"]}, headers=auth_headers).status_code == 422
    assert client.post(f"/api/repos/{repo.pk}/sessions", {"isActive": 1}, headers=auth_headers).status_code == 422
    assert [e["type"] for e in _events(client, repo)] == ["session.created"]


def test_admin_changes_record_events_with_the_admin_as_actor(admin_client, admin_user, client, repo) -> None:
    active, other = make_session(repo, participants=["ana"]), make_session(repo)
    change = reverse("admin:sessions_app_session_change", args=[active.pk])
    form = {
        "intent": "Fixed by staff",
        "location": active.location,
        "notes": "",
        "participants": '["ana"]',
        "tags": "[]",
    }
    assert admin_client.post(change, form).status_code == 302
    assert admin_client.post(change, form).status_code == 302  # the same again: no change, no event
    changelist = reverse("admin:sessions_app_session_changelist")
    admin_client.post(changelist, {"action": "stop_selected_sessions", "_selected_action": [active.pk]})
    admin_client.post(changelist, {"action": "stop_selected_sessions", "_selected_action": [active.pk]})
    admin_client.post(reverse("admin:sessions_app_session_delete", args=[other.pk]), {"post": "yes"})
    events = [(e["type"], e["actor"], e["sessionId"]) for e in _events(client, repo)]
    assert events == [
        ("session.created", None, active.pk),
        ("session.created", None, other.pk),
        ("session.updated", admin_user.username, active.pk),
        ("session.stopped", admin_user.username, active.pk),
        ("session.deleted", admin_user.username, other.pk),
    ]
    assert _events(client, repo)[2]["session"]["intent"] == "Fixed by staff"


def test_commands_record_events_without_an_actor(client, user) -> None:
    repo = make_repo(owner=user, visibility="public")
    old = make_session(repo, started_at=datetime.now(UTC) - timedelta(days=2))
    fresh = make_session(repo)
    call_command("stop_stale_sessions", "--older-than", "1d", "--dry-run", stdout=StringIO(), stderr=StringIO())
    call_command("stop_stale_sessions", "--older-than", "1d", stdout=StringIO(), stderr=StringIO())
    call_command("stop_stale_sessions", "--older-than", "1d", stdout=StringIO(), stderr=StringIO())
    assert [(e["type"], e["actor"], e["sessionId"]) for e in _events(client, repo)] == [
        ("session.created", None, old.pk),
        ("session.created", None, fresh.pk),
        ("session.stopped", None, old.pk),
    ]
    call_command("seed_demo", stdout=StringIO())
    seeded = Event.objects.filter(repo__owner__username="demo")
    assert seeded.exists()
    assert set(seeded.values_list("actor", flat=True)) == {None}
