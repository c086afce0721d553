"""Edits, commits, deletes, finished sessions and stops, as the CLI drives them over HTTP.

SPEC "Routes" (sessions) beyond the seed: PATCH, POST .../commits, DELETE, a create body
with ``endedAt``/``isActive``, and stop with closing notes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from musehub.core.errors import NotFoundError
from repos_app.models import Repo
from sessions_app import services
from sessions_app.models import Session
from tests.factories import make_session

pytestmark = pytest.mark.django_db


def commit_id(n: int) -> str:
    """A well-formed, distinct commit id (64 lowercase hex characters)."""
    return f"{n:064x}"


def sessions_url(repo) -> str:
    return f"/api/repos/{repo.repo_id}/sessions"


def session_url(repo, session_id: str, tail: str = "") -> str:
    return f"/api/repos/{repo.repo_id}/sessions/{session_id}{tail}"


def create(client, repo, headers, body=None):
    return client.post(sessions_url(repo), body or {}, headers=headers)


@pytest.fixture
def session(repo):
    return make_session(
        repo,
        started_at=datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
        participants=["alice"],
        location="Abbey Road",
        intent="Write the chorus",
        notes="first notes",
        commits=[commit_id(1), commit_id(2)],
    )


def session_count(repo) -> int:
    return Repo.objects.get(pk=repo.pk).session_count


# ── PATCH ─────────────────────────────────────────────────────────────────────
class TestPatch:
    def test_patch_changes_each_editable_field(self, client, auth_headers, repo, session):
        body = {
            "intent": "Finish the bridge",
            "location": "Studio 2",
            "notes": "Bass too loud",
            "participants": ["alice", "bob"],
            "commits": [commit_id(9), commit_id(3)],
        }
        resp = client.patch(session_url(repo, session.session_id), body, headers=auth_headers)
        assert resp.status_code == 200
        data = resp.json()
        for field, value in body.items():
            assert data[field] == value
        # What the response shows is what is stored.
        assert client.get(session_url(repo, session.session_id)).json() == data

    def test_patch_leaves_fields_not_sent_alone(self, client, auth_headers, repo, session):
        resp = client.patch(session_url(repo, session.session_id), {"location": "Studio 2"}, headers=auth_headers)
        assert resp.status_code == 200
        data = resp.json()
        assert data["location"] == "Studio 2"
        assert data["intent"] == "Write the chorus"
        assert data["notes"] == "first notes"
        assert data["participants"] == ["alice"]
        assert data["commits"] == [commit_id(1), commit_id(2)]

    def test_patch_can_clear_text_and_lists(self, client, auth_headers, repo, session):
        body = {"intent": "", "notes": "", "participants": [], "commits": []}
        resp = client.patch(session_url(repo, session.session_id), body, headers=auth_headers)
        assert resp.status_code == 200
        data = resp.json()
        assert (data["intent"], data["notes"], data["participants"], data["commits"]) == ("", "", [], [])

    def test_patch_commits_drops_duplicates_keeping_order(self, client, auth_headers, repo, session):
        body = {"commits": [commit_id(5), commit_id(4), commit_id(5), commit_id(4), commit_id(6)]}
        resp = client.patch(session_url(repo, session.session_id), body, headers=auth_headers)
        assert resp.status_code == 200
        assert resp.json()["commits"] == [commit_id(5), commit_id(4), commit_id(6)]

    def test_patch_ignores_ids_and_timestamps(self, client, auth_headers, repo, session):
        before = client.get(session_url(repo, session.session_id)).json()
        body = {
            "sessionId": "f" * 64,
            "repoId": "e" * 64,
            "author": "mallory",
            "startedAt": "2020-01-01T00:00:00Z",
            "endedAt": "2020-01-01T01:00:00Z",
            "createdAt": "2020-01-01T00:00:00Z",
            "isActive": False,
            "durationSeconds": 3600,
            "notes": "edited",
        }
        resp = client.patch(session_url(repo, session.session_id), body, headers=auth_headers)
        assert resp.status_code == 200
        after = resp.json()
        assert after["notes"] == "edited"
        for field in ("sessionId", "repoId", "author", "startedAt", "endedAt", "createdAt", "isActive"):
            assert after[field] == before[field], field
        assert after["durationSeconds"] is None
        assert client.get(session_url(repo, session.session_id)).json() == after
        assert not Session.objects.filter(pk="f" * 64).exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"location": "x" * 256}, "location"),
            ({"intent": 5}, "intent"),
            ({"notes": "bad\x00byte"}, "notes"),
            ({"participants": [""]}, "participants"),
            ({"participants": ["p"] * 101}, "participants"),
            ({"commits": ["not-a-commit"]}, "commits"),
            ({"commits": "a" * 64}, "commits"),
            ({"commits": [commit_id(n) for n in range(10_001)]}, "commits"),
        ],
        ids=["location", "intent", "notes", "empty-participant", "participants", "commit", "commits", "10001"],
    )
    def test_patch_bad_value_is_422_naming_the_field(self, client, auth_headers, repo, session, body, field):
        resp = client.patch(session_url(repo, session.session_id), body, headers=auth_headers)
        assert resp.status_code == 422
        assert field in resp.json()["errors"]
        assert Session.objects.get(pk=session.pk).location == "Abbey Road"

    def test_patch_costs_four_queries_on_postgresql_and_five_elsewhere(self, client, auth_headers, repo, session):
        # token, repo + role, the session row locked (with its author), UPDATE, its event
        # (events_app.services.event_record: the event and its deliveries in one statement,
        # which on PostgreSQL is the UPDATE's own)
        with CaptureQueriesContext(connection) as captured:
            resp = client.patch(session_url(repo, session.session_id), {"notes": "x"}, headers=auth_headers)
        assert resp.json()["author"] == "testuser"
        transaction_control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
        statements = [q["sql"] for q in captured if not q["sql"].lstrip().upper().startswith(transaction_control)]
        assert len(statements) == (4 if connection.vendor == "postgresql" else 5), statements

    def test_edit_of_a_session_deleted_meanwhile_is_not_found(self, repo, session):
        services.session_delete(repo_id=repo.pk, session_id=session.session_id)
        with pytest.raises(NotFoundError):
            services.session_update(repo_id=repo.pk, session_id=session.session_id, notes="too late")

    def test_patch_unknown_session_is_404(self, client, auth_headers, repo):
        resp = client.patch(session_url(repo, "a" * 64), {"notes": "x"}, headers=auth_headers)
        assert resp.status_code == 404

    def test_patch_session_of_another_repo_is_404(self, client, auth_headers, user, session):
        from tests.factories import make_repo

        other = make_repo(owner=user)
        resp = client.patch(session_url(other, session.session_id), {"notes": "x"}, headers=auth_headers)
        assert resp.status_code == 404
        assert Session.objects.get(pk=session.pk).notes == "first notes"

    def test_patch_by_anonymous_is_401_and_outsider_403(self, client, outsider_headers, repo, session):
        assert client.patch(session_url(repo, session.session_id), {"notes": "x"}).status_code == 401
        resp = client.patch(session_url(repo, session.session_id), {"notes": "x"}, headers=outsider_headers)
        assert resp.status_code == 403
        assert Session.objects.get(pk=session.pk).notes == "first notes"


# ── POST .../commits ──────────────────────────────────────────────────────────
class TestAppendCommits:
    def test_append_keeps_order_and_drops_ids_already_present(self, client, auth_headers, repo, session):
        body = {"commits": [commit_id(3), commit_id(1), commit_id(4)]}
        resp = client.post(session_url(repo, session.session_id, "/commits"), body, headers=auth_headers)
        assert resp.status_code == 200
        assert resp.json()["commits"] == [commit_id(1), commit_id(2), commit_id(3), commit_id(4)]

    def test_append_drops_duplicates_inside_the_request(self, client, auth_headers, repo, session):
        body = {"commits": [commit_id(7), commit_id(8), commit_id(7), commit_id(2), commit_id(8)]}
        resp = client.post(session_url(repo, session.session_id, "/commits"), body, headers=auth_headers)
        assert resp.status_code == 200
        assert resp.json()["commits"] == [commit_id(1), commit_id(2), commit_id(7), commit_id(8)]
        assert Session.objects.get(pk=session.pk).commits == resp.json()["commits"]

    def test_append_twice_is_cumulative(self, client, auth_headers, repo, session):
        url = session_url(repo, session.session_id, "/commits")
        client.post(url, {"commits": [commit_id(3)]}, headers=auth_headers)
        resp = client.post(url, {"commits": [commit_id(4), commit_id(3)]}, headers=auth_headers)
        assert resp.json()["commits"] == [commit_id(1), commit_id(2), commit_id(3), commit_id(4)]

    def test_append_nothing_changes_nothing(self, client, auth_headers, repo, session):
        resp = client.post(session_url(repo, session.session_id, "/commits"), {"commits": []}, headers=auth_headers)
        assert resp.status_code == 200
        assert resp.json()["commits"] == [commit_id(1), commit_id(2)]

    def test_append_works_on_a_stopped_session(self, client, auth_headers, repo, session):
        client.post(session_url(repo, session.session_id, "/stop"), {}, headers=auth_headers)
        resp = client.post(
            session_url(repo, session.session_id, "/commits"), {"commits": [commit_id(3)]}, headers=auth_headers
        )
        assert resp.status_code == 200
        assert resp.json()["commits"][-1] == commit_id(3)
        assert resp.json()["isActive"] is False

    def test_more_than_10000_commits_in_total_is_422(self, client, auth_headers, repo):
        session = make_session(repo, commits=[commit_id(n) for n in range(9_999)])
        url = session_url(repo, session.session_id, "/commits")
        # A duplicate does not count: this reaches exactly 10,000.
        resp = client.post(url, {"commits": [commit_id(0), commit_id(10_000)]}, headers=auth_headers)
        assert resp.status_code == 200
        assert len(resp.json()["commits"]) == 10_000
        resp = client.post(url, {"commits": [commit_id(10_001)]}, headers=auth_headers)
        assert resp.status_code == 422
        assert "commits" in resp.json()["errors"]
        assert len(Session.objects.get(pk=session.pk).commits) == 10_000

    @pytest.mark.parametrize(
        "body",
        [{}, {"commits": None}, {"commits": ["A" * 64]}, {"commits": ["a" * 63]}, {"commits": [64]}],
    )
    def test_bad_commit_body_is_422(self, client, auth_headers, repo, session, body):
        resp = client.post(session_url(repo, session.session_id, "/commits"), body, headers=auth_headers)
        assert resp.status_code == 422
        assert "commits" in resp.json()["errors"]

    def test_append_to_unknown_session_is_404(self, client, auth_headers, repo):
        resp = client.post(session_url(repo, "b" * 64, "/commits"), {"commits": [commit_id(1)]}, headers=auth_headers)
        assert resp.status_code == 404

    def test_outsider_cannot_append(self, client, outsider_headers, repo, session):
        resp = client.post(
            session_url(repo, session.session_id, "/commits"), {"commits": [commit_id(3)]}, headers=outsider_headers
        )
        assert resp.status_code == 403
        assert Session.objects.get(pk=session.pk).commits == [commit_id(1), commit_id(2)]


# ── DELETE ────────────────────────────────────────────────────────────────────
class TestDelete:
    def test_delete_is_204_and_the_session_is_gone(self, client, auth_headers, repo, session):
        resp = client.delete(session_url(repo, session.session_id), headers=auth_headers)
        assert resp.status_code == 204
        assert resp.content == b""
        assert client.get(session_url(repo, session.session_id)).status_code == 404
        assert client.get(sessions_url(repo)).json()["sessions"] == []

    def test_repo_session_count_follows_creates_and_deletes(self, client, auth_headers, repo):
        ids = [create(client, repo, auth_headers).json()["sessionId"] for _ in range(3)]
        assert client.get(f"/api/repos/{repo.repo_id}").json()["sessionCount"] == 3
        client.delete(session_url(repo, ids[1]), headers=auth_headers)
        assert client.get(f"/api/repos/{repo.repo_id}").json()["sessionCount"] == 2
        listing = client.get(sessions_url(repo)).json()
        assert listing["total"] == 2
        assert {s["sessionId"] for s in listing["sessions"]} == {ids[0], ids[2]}

    def test_deleting_twice_is_404_and_counts_once(self, client, auth_headers, repo, session):
        assert client.delete(session_url(repo, session.session_id), headers=auth_headers).status_code == 204
        assert client.delete(session_url(repo, session.session_id), headers=auth_headers).status_code == 404
        assert session_count(repo) == 0

    def test_delete_session_of_another_repo_is_404(self, client, auth_headers, user, session):
        from tests.factories import make_repo

        other = make_repo(owner=user)
        assert client.delete(session_url(other, session.session_id), headers=auth_headers).status_code == 404
        assert Session.objects.filter(pk=session.pk).exists()

    def test_anonymous_and_outsider_cannot_delete(self, client, outsider_headers, repo, session):
        assert client.delete(session_url(repo, session.session_id)).status_code == 401
        assert client.delete(session_url(repo, session.session_id), headers=outsider_headers).status_code == 403
        assert Session.objects.filter(pk=session.pk).exists()
        assert session_count(repo) == 1


# ── Create: finished sessions ─────────────────────────────────────────────────
class TestCreateFinished:
    def test_create_with_ended_at_pushes_a_finished_session(self, client, auth_headers, repo):
        body = {"startedAt": "2025-06-01T10:00:00Z", "endedAt": "2025-06-01T12:30:00Z", "notes": "Good take"}
        resp = create(client, repo, auth_headers, body)
        assert resp.status_code == 201
        data = resp.json()
        assert data["isActive"] is False
        assert data["startedAt"] == "2025-06-01T10:00:00Z"
        assert data["endedAt"] == "2025-06-01T12:30:00Z"
        assert data["durationSeconds"] == 9000.0
        assert data["notes"] == "Good take"
        assert session_count(repo) == 1

    def test_ended_at_with_offset_is_stored_in_utc(self, client, auth_headers, repo):
        body = {"startedAt": "2025-06-01T10:00:00Z", "endedAt": "2025-06-01T14:00:00+02:00"}
        data = create(client, repo, auth_headers, body).json()
        assert data["endedAt"] == "2025-06-01T12:00:00Z"

    def test_ended_at_before_started_at_is_422(self, client, auth_headers, repo):
        body = {"startedAt": "2025-06-01T10:00:00Z", "endedAt": "2025-06-01T09:00:00Z"}
        resp = create(client, repo, auth_headers, body)
        assert resp.status_code == 422
        assert "endedAt" in resp.json()["errors"]
        assert session_count(repo) == 0

    def test_is_active_false_without_ended_at_ends_at_server_time(self, client, auth_headers, repo):
        before = datetime.now(tz=UTC)
        resp = create(client, repo, auth_headers, {"isActive": False})
        assert resp.status_code == 201
        data = resp.json()
        assert data["isActive"] is False
        ended = datetime.fromisoformat(data["endedAt"])
        assert before <= ended <= datetime.now(tz=UTC)
        assert data["durationSeconds"] >= 0

    def test_is_active_false_with_a_future_start_ends_at_the_start(self, client, auth_headers, repo):
        resp = create(client, repo, auth_headers, {"startedAt": "2999-01-01T00:00:00Z", "isActive": False})
        assert resp.status_code == 201
        assert resp.json()["endedAt"] == "2999-01-01T00:00:00Z"
        assert resp.json()["durationSeconds"] == 0.0

    def test_is_active_true_with_ended_at_is_422(self, client, auth_headers, repo):
        body = {"startedAt": "2025-06-01T10:00:00Z", "endedAt": "2025-06-01T12:00:00Z", "isActive": True}
        resp = create(client, repo, auth_headers, body)
        assert resp.status_code == 422
        assert "isActive" in resp.json()["errors"]
        assert session_count(repo) == 0

    def test_is_active_false_with_ended_at_is_a_finished_session(self, client, auth_headers, repo):
        body = {"startedAt": "2025-06-01T10:00:00Z", "endedAt": "2025-06-01T11:00:00Z", "isActive": False}
        resp = create(client, repo, auth_headers, body)
        assert resp.status_code == 201
        assert resp.json()["durationSeconds"] == 3600.0

    def test_create_with_commits_drops_duplicates(self, client, auth_headers, repo):
        body = {"commits": [commit_id(2), commit_id(1), commit_id(2)]}
        resp = create(client, repo, auth_headers, body)
        assert resp.status_code == 201
        assert resp.json()["commits"] == [commit_id(2), commit_id(1)]

    @pytest.mark.parametrize("value", ["yes", 1, None, "true"])
    def test_is_active_must_be_a_boolean(self, client, auth_headers, repo, value):
        resp = create(client, repo, auth_headers, {"isActive": value})
        assert resp.status_code == 422
        assert "isActive" in resp.json()["errors"]
        assert session_count(repo) == 0


# ── Stop ──────────────────────────────────────────────────────────────────────
class TestStop:
    def test_stop_with_notes_stores_them(self, client, auth_headers, repo, session):
        resp = client.post(
            session_url(repo, session.session_id, "/stop"), {"notes": "Chorus done"}, headers=auth_headers
        )
        assert resp.status_code == 200
        assert resp.json()["notes"] == "Chorus done"
        assert resp.json()["isActive"] is False
        assert client.get(session_url(repo, session.session_id)).json()["notes"] == "Chorus done"

    def test_stop_without_notes_keeps_existing_notes(self, client, auth_headers, repo, session):
        resp = client.post(session_url(repo, session.session_id, "/stop"), {}, headers=auth_headers)
        assert resp.json()["notes"] == "first notes"

    def test_stop_with_explicit_ended_at(self, client, auth_headers, repo, session):
        resp = client.post(
            session_url(repo, session.session_id, "/stop"), {"endedAt": "2025-06-01T11:15:00Z"}, headers=auth_headers
        )
        assert resp.status_code == 200
        assert resp.json()["endedAt"] == "2025-06-01T11:15:00Z"
        assert resp.json()["durationSeconds"] == 4500.0

    def test_stop_at_the_start_instant_is_allowed(self, client, auth_headers, repo, session):
        resp = client.post(
            session_url(repo, session.session_id, "/stop"), {"endedAt": "2025-06-01T10:00:00Z"}, headers=auth_headers
        )
        assert resp.status_code == 200
        assert resp.json()["durationSeconds"] == 0.0

    def test_stop_before_start_is_422_and_leaves_it_active(self, client, auth_headers, repo, session):
        resp = client.post(
            session_url(repo, session.session_id, "/stop"),
            {"endedAt": "2025-06-01T09:59:59Z", "notes": "too early"},
            headers=auth_headers,
        )
        assert resp.status_code == 422
        assert "endedAt" in resp.json()["errors"]
        data = client.get(session_url(repo, session.session_id)).json()
        assert data["isActive"] is True
        assert data["endedAt"] is None
        assert data["notes"] == "first notes"

    def test_stop_of_a_session_started_in_the_future_ends_at_its_start(self, client, auth_headers, repo):
        future = make_session(repo, started_at=datetime(2999, 1, 1, tzinfo=UTC))
        resp = client.post(session_url(repo, future.session_id, "/stop"), {}, headers=auth_headers)
        assert resp.status_code == 200
        assert resp.json()["endedAt"] == "2999-01-01T00:00:00Z"

    def test_stop_is_idempotent_and_keeps_the_first_end(self, client, auth_headers, repo, session):
        url = session_url(repo, session.session_id, "/stop")
        first = client.post(url, {"endedAt": "2025-06-01T11:00:00Z", "notes": "done"}, headers=auth_headers)
        assert first.status_code == 200
        again = client.post(url, {"endedAt": "2025-06-01T13:00:00Z", "notes": "other"}, headers=auth_headers)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.json()["endedAt"] == "2025-06-01T11:00:00Z"
        assert again.json()["notes"] == "done"
        # Nor does a stop with an end before the start: there is nothing left to stop.
        late = client.post(url, {"endedAt": "2000-01-01T00:00:00Z"}, headers=auth_headers)
        assert late.status_code == 200
        assert late.json()["endedAt"] == "2025-06-01T11:00:00Z"

    @pytest.mark.parametrize(
        ("body", "field"),
        [({"endedAt": "yesterday"}, "endedAt"), ({"endedAt": 5}, "endedAt"), ({"notes": ["x"]}, "notes")],
    )
    def test_stop_bad_body_is_422(self, client, auth_headers, repo, session, body, field):
        resp = client.post(session_url(repo, session.session_id, "/stop"), body, headers=auth_headers)
        assert resp.status_code == 422
        assert field in resp.json()["errors"]
        assert Session.objects.get(pk=session.pk).is_active is True

    def test_outsider_cannot_stop(self, client, outsider_headers, repo, session):
        resp = client.post(session_url(repo, session.session_id, "/stop"), {}, headers=outsider_headers)
        assert resp.status_code == 403
        assert Session.objects.get(pk=session.pk).is_active is True


# ── Scoping and ignored fields ────────────────────────────────────────────────
@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("get", "", None),
        ("patch", "", {"notes": "x"}),
        ("delete", "", None),
        ("post", "/stop", {}),
        ("post", "/commits", {"commits": [commit_id(9)]}),
    ],
)
def test_session_under_another_repos_url_is_404(client, auth_headers, user, session, method, tail, body):
    from tests.factories import make_repo

    other = make_repo(owner=user)
    kwargs = {"headers": auth_headers} if body is None else {"data": body, "headers": auth_headers}
    resp = getattr(client, method)(session_url(other, session.session_id, tail), **kwargs)
    assert resp.status_code == 404
    stored = Session.objects.get(pk=session.pk)
    assert (stored.is_active, stored.notes, stored.commits) == (True, "first notes", [commit_id(1), commit_id(2)])


def test_create_ignores_read_only_and_unknown_fields(client, auth_headers, repo):
    body = {
        "sessionId": "f" * 64,
        "repoId": "e" * 64,
        "author": "mallory",
        "createdAt": "2020-01-01T00:00:00Z",
        "durationSeconds": 5,
        "colour": "blue",
        "startedAt": "2025-06-01T10:00:00Z",
    }
    resp = create(client, repo, auth_headers, body)
    assert resp.status_code == 201
    data = resp.json()
    assert data["sessionId"] != "f" * 64
    assert data["repoId"] == repo.repo_id
    assert data["author"] == "testuser"
    assert data["createdAt"] != "2020-01-01T00:00:00Z"
    assert data["durationSeconds"] is None
    assert "colour" not in data
    # A retry carrying the same extras is still the same create.
    assert create(client, repo, auth_headers, body).status_code == 200
