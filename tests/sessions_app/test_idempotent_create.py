"""Retried creates: the same author posting the same explicit ``startedAt`` again.

A session id is derived from (repo, author, startedAt), so a retry addresses the session
the first attempt made: 200 with it when the body agrees, 409 when it does not, never a
duplicate. Without ``startedAt`` the server picks an instant unique for the author.
"""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from repos_app.models import Repo
from sessions_app import services
from sessions_app.models import Session
from tests.factories import UserFactory, auth_header, make_repo, make_token, share

pytestmark = pytest.mark.django_db

STARTED = "2025-06-01T10:00:00Z"
FULL_BODY = {
    "startedAt": STARTED,
    "participants": ["alice", "bob"],
    "intent": "Write the chorus",
    "location": "Abbey Road",
    "notes": "",
    "commits": ["a" * 64, "b" * 64],
}


def post(client, repo, headers, body):
    return client.post(f"/api/repos/{repo.repo_id}/sessions", body, headers=headers)


def stored(repo) -> tuple[int, int]:
    """(sessions in the table, the repo's kept count): both must move together."""
    return Session.objects.filter(repo=repo).count(), Repo.objects.get(pk=repo.pk).session_count


class TestRetryWithExplicitStart:
    def test_identical_retry_is_200_with_the_same_session(self, client, auth_headers, repo):
        first = post(client, repo, auth_headers, FULL_BODY)
        assert first.status_code == 201
        again = post(client, repo, auth_headers, FULL_BODY)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert stored(repo) == (1, 1)

    def test_fields_left_out_of_the_retry_are_not_compared(self, client, auth_headers, repo):
        first = post(client, repo, auth_headers, FULL_BODY)
        again = post(client, repo, auth_headers, {"startedAt": STARTED, "intent": "Write the chorus"})
        assert again.status_code == 200
        assert again.json() == first.json()
        assert post(client, repo, auth_headers, {"startedAt": STARTED}).status_code == 200
        assert stored(repo) == (1, 1)

    def test_same_instant_in_another_offset_is_the_same_session(self, client, auth_headers, repo):
        first = post(client, repo, auth_headers, FULL_BODY)
        again = post(client, repo, auth_headers, {**FULL_BODY, "startedAt": "2025-06-01T12:00:00+02:00"})
        assert again.status_code == 200
        assert again.json()["sessionId"] == first.json()["sessionId"]
        naive = post(client, repo, auth_headers, {**FULL_BODY, "startedAt": "2025-06-01T10:00:00"})
        assert naive.status_code == 200
        assert stored(repo) == (1, 1)

    def test_duplicate_commits_in_the_retry_match_the_deduplicated_ones(self, client, auth_headers, repo):
        post(client, repo, auth_headers, FULL_BODY)
        body = {**FULL_BODY, "commits": ["a" * 64, "b" * 64, "a" * 64]}
        assert post(client, repo, auth_headers, body).status_code == 200

    @pytest.mark.parametrize(
        "change",
        [
            {"intent": "Something else"},
            {"location": "Studio 2"},
            {"notes": "late notes"},
            {"participants": ["bob", "alice"]},
            {"participants": ["alice"]},
            {"commits": ["a" * 64]},
            {"commits": []},
            {"endedAt": "2025-06-01T11:00:00Z"},
            {"isActive": False},
        ],
    )
    def test_retry_with_a_different_field_is_409_and_changes_nothing(self, client, auth_headers, repo, change):
        first = post(client, repo, auth_headers, FULL_BODY).json()
        resp = post(client, repo, auth_headers, {**FULL_BODY, **change})
        assert resp.status_code == 409
        body = resp.json()
        assert next(iter(change)) in body["detail"]
        assert client.get(f"/api/repos/{repo.repo_id}/sessions/{first['sessionId']}").json() == first
        assert stored(repo) == (1, 1)

    def test_retry_of_a_finished_session(self, client, auth_headers, repo):
        body = {"startedAt": STARTED, "endedAt": "2025-06-01T12:00:00Z", "notes": "Good take"}
        first = post(client, repo, auth_headers, body)
        assert first.status_code == 201
        again = post(client, repo, auth_headers, body)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert post(client, repo, auth_headers, {**body, "endedAt": "2025-06-01T12:00:01Z"}).status_code == 409
        assert post(client, repo, auth_headers, {**body, "isActive": False}).status_code == 200
        assert stored(repo) == (1, 1)

    def test_retry_after_the_session_was_stopped_returns_it_stopped(self, client, auth_headers, repo):
        first = post(client, repo, auth_headers, FULL_BODY).json()
        client.post(f"/api/repos/{repo.repo_id}/sessions/{first['sessionId']}/stop", {}, headers=auth_headers)
        again = post(client, repo, auth_headers, FULL_BODY)
        assert again.status_code == 200
        assert again.json()["isActive"] is False
        # Asking for it active again contradicts what is stored.
        assert post(client, repo, auth_headers, {**FULL_BODY, "isActive": True}).status_code == 409

    def test_invalid_retry_is_422_not_200(self, client, auth_headers, repo):
        post(client, repo, auth_headers, FULL_BODY)
        resp = post(client, repo, auth_headers, {**FULL_BODY, "location": "x" * 256})
        assert resp.status_code == 422
        assert stored(repo) == (1, 1)

    def test_another_author_at_the_same_instant_gets_a_session_of_their_own(self, client, auth_headers, repo):
        bandmate = UserFactory(username="bandmate")
        share(repo, bandmate, "write")
        first = post(client, repo, auth_headers, FULL_BODY)
        other = post(client, repo, auth_header(make_token(bandmate)), {**FULL_BODY, "intent": "Other plans"})
        assert other.status_code == 201
        assert other.json()["sessionId"] != first.json()["sessionId"]
        assert other.json()["author"] == "bandmate"
        assert stored(repo) == (2, 2)

    def test_same_instant_in_another_repo_is_another_session(self, client, auth_headers, repo, user):
        second_repo = make_repo(owner=user)
        first = post(client, repo, auth_headers, FULL_BODY)
        other = post(client, second_repo, auth_headers, FULL_BODY)
        assert other.status_code == 201
        assert other.json()["sessionId"] != first.json()["sessionId"]

    def test_recreating_a_deleted_session_is_201_again(self, client, auth_headers, repo):
        first = post(client, repo, auth_headers, FULL_BODY).json()
        client.delete(f"/api/repos/{repo.repo_id}/sessions/{first['sessionId']}", headers=auth_headers)
        again = post(client, repo, auth_headers, FULL_BODY)
        assert again.status_code == 201
        assert again.json()["sessionId"] == first["sessionId"]
        assert stored(repo) == (1, 1)


class TestServerPickedStart:
    FROZEN = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)

    def test_creates_at_the_same_server_instant_never_collide(self, client, auth_headers, repo):
        with mock.patch.object(services.timezone, "now", return_value=self.FROZEN):
            responses = [post(client, repo, auth_headers, {"intent": f"take {n}"}) for n in range(3)]
        assert [r.status_code for r in responses] == [201, 201, 201]
        assert len({r.json()["sessionId"] for r in responses}) == 3
        assert [r.json()["startedAt"] for r in responses] == [
            "2025-06-01T10:00:00Z",
            "2025-06-01T10:00:00.000001Z",
            "2025-06-01T10:00:00.000002Z",
        ]
        assert stored(repo) == (3, 3)

    def test_server_pick_steps_past_an_explicit_start_at_the_same_instant(self, client, auth_headers, repo):
        explicit = post(client, repo, auth_headers, {"startedAt": "2025-06-01T10:00:00Z", "intent": "mine"})
        with mock.patch.object(services.timezone, "now", return_value=self.FROZEN):
            picked = post(client, repo, auth_headers, {"intent": "other"})
        assert picked.status_code == 201
        assert picked.json()["sessionId"] != explicit.json()["sessionId"]
        assert picked.json()["startedAt"] == "2025-06-01T10:00:00.000001Z"
        # The explicit one is untouched.
        session = client.get(f"/api/repos/{repo.repo_id}/sessions/{explicit.json()['sessionId']}").json()
        assert session["intent"] == "mine"

    def test_server_picked_finished_session_keeps_end_not_before_start(self, client, auth_headers, repo):
        with mock.patch.object(services.timezone, "now", return_value=self.FROZEN):
            first = post(client, repo, auth_headers, {"isActive": False})
            second = post(client, repo, auth_headers, {"isActive": False})
        assert (first.status_code, second.status_code) == (201, 201)
        data = second.json()
        assert data["startedAt"] == "2025-06-01T10:00:00.000001Z"
        assert data["endedAt"] == data["startedAt"]
        assert data["durationSeconds"] == 0.0
