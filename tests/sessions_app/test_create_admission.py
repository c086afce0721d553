"""A create's insert checks the caller's right to write to the repo itself (one round trip,
not a read before it: ``sessions_app.services.session_create(writer=...)``).

What a caller sees must not change with it: who may create, what a refusal says, and which
refusal comes first when both the repo and the body are refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from events_app.models import Event
from repos_app.models import Repo
from repos_app.selectors import RepoNotWritableError, repo_writable_sql
from sessions_app import services
from sessions_app.models import Session
from sessions_app.services import session_create
from tests.factories import UserFactory, auth_header, make_repo, make_token, share

pytestmark = pytest.mark.django_db

MISSING = "e" * 64
START = datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest.fixture
def people():
    owner = UserFactory(username="owner")
    people = {"owner": owner}
    for name in ("write", "read", "outsider"):
        people[name] = UserFactory(username=f"{name}-user")
    return people


def _repo(people, visibility: str) -> Repo:
    repo = make_repo(owner=people["owner"], visibility=visibility)
    share(repo, people["write"], "write")
    share(repo, people["read"], "read")
    return repo


def _written() -> tuple[int, int, list[int]]:
    return Session.objects.count(), Event.objects.count(), list(Repo.objects.values_list("session_count", flat=True))


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("role", ["owner", "write"])
def test_the_owner_and_write_collaborators_create(people, visibility, role) -> None:
    repo = _repo(people, visibility)
    row, created = session_create(repo_id=repo.pk, author=people[role], writer=people[role], intent="take 1")
    assert created
    assert Session.objects.get(pk=row["session_id"]).author == people[role]
    assert Repo.objects.get(pk=repo.pk).session_count == 1
    assert list(Event.objects.values_list("type", flat=True)) == ["session.created"]


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("role", ["read", "outsider"])
def test_anyone_else_is_refused_and_nothing_is_written(people, visibility, role) -> None:
    repo = _repo(people, visibility)
    before = _written()
    with pytest.raises(RepoNotWritableError):
        session_create(repo_id=repo.pk, author=people[role], writer=people[role], intent="take 1")
    assert _written() == before


def test_a_missing_repo_is_refused(people) -> None:
    with pytest.raises(RepoNotWritableError) as refused:
        session_create(repo_id=MISSING, author=people["owner"], writer=people["owner"])
    assert refused.value.message == "Repo not found."  # answered as a missing repo if uncaught
    assert _written() == (0, 0, [])


def test_without_a_writer_the_admin_and_commands_create_for_anyone(people) -> None:
    """The admin and the commands name the author; nobody's rights are checked."""
    repo = _repo(people, "private")
    row, created = session_create(repo_id=repo.pk, author=people["outsider"], actor=None, intent="imported")
    assert created
    assert Session.objects.get(pk=row["session_id"]).author == people["outsider"]


def test_a_retry_by_a_writer_finds_the_first_create(people) -> None:
    repo = _repo(people, "private")
    writer = people["write"]
    first, created = session_create(repo_id=repo.pk, author=writer, writer=writer, started_at=START)
    again, created_again = session_create(repo_id=repo.pk, author=writer, writer=writer, started_at=START)
    assert (created, created_again) == (True, False)
    assert again["session_id"] == first["session_id"]
    assert Repo.objects.get(pk=repo.pk).session_count == 1


def test_a_collaborator_demoted_to_read_can_no_longer_create(people) -> None:
    repo = _repo(people, "public")
    writer = people["write"]
    session_create(repo_id=repo.pk, author=writer, writer=writer)
    repo.collaborators.filter(user=writer).update(permission="read")
    with pytest.raises(RepoNotWritableError):
        session_create(repo_id=repo.pk, author=writer, writer=writer)
    assert Session.objects.count() == 1


# ── Over HTTP ────────────────────────────────────────────────────────────────
BAD_BODIES = {
    "invalid": ({"isActive": "maybe"}, "application/json", 422),
    "malformed": ('{"intent": ', "application/json", 400),
    "unsupported": ("intent=x", "application/x-www-form-urlencoded", 415),
}


def _post(client, repo_id: str, user, body, content_type: str = "application/json"):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        f"/api/repos/{repo_id}/sessions", data, content_type=content_type, headers=auth_header(make_token(user))
    )


REFUSALS = {403: "You do not have permission to perform this action.", 404: "Repo not found."}


@pytest.mark.parametrize("bad", BAD_BODIES)
@pytest.mark.parametrize(
    ("visibility", "role", "status"),
    [
        ("public", "read", 403),
        ("public", "outsider", 403),
        ("private", "read", 403),
        ("private", "outsider", 404),
        ("missing", "outsider", 404),
    ],
)
def test_a_refused_repo_answers_before_a_refused_body(client, people, visibility, role, status, bad) -> None:
    repo_id = MISSING if visibility == "missing" else _repo(people, visibility).pk
    body, content_type, _ = BAD_BODIES[bad]
    before = _written()
    response = _post(client, repo_id, people[role], body, content_type)
    assert response.status_code == status, response.content
    assert response.json()["detail"] == REFUSALS[status]
    assert _written() == before


@pytest.mark.parametrize("bad", BAD_BODIES)
def test_a_writer_with_a_refused_body_gets_the_body_s_refusal(client, people, bad) -> None:
    repo = _repo(people, "private")
    body, content_type, status = BAD_BODIES[bad]
    response = _post(client, repo.pk, people["write"], body, content_type)
    assert response.status_code == status, response.content
    assert Session.objects.count() == 0


@pytest.mark.parametrize(("visibility", "role", "status"), [("public", "read", 403), ("private", "outsider", 404)])
def test_a_good_body_from_a_non_writer_is_refused_as_before(client, people, visibility, role, status) -> None:
    repo = _repo(people, visibility)
    response = _post(client, repo.pk, people[role], {"intent": "sneaky"})
    assert response.status_code == status
    assert response.json()["detail"] == REFUSALS[status]
    assert Session.objects.count() == 0


def test_a_grant_between_the_insert_and_the_read_that_explains_it_answers_404(client, people, monkeypatch) -> None:
    """The insert refused (the caller could not write when it ran); the read that follows,
    to say why, finds a writer. The insert's answer stands, as a missing repo: nothing was
    written, and the client may simply try again."""
    repo = _repo(people, "private")
    other = make_repo(owner=UserFactory(username="someone-else"), visibility="private")
    # The insert checks the caller's right on another repo, where they have none: as if the
    # grant on this one came just after the insert ran.
    monkeypatch.setattr(
        services, "repo_writable_sql", lambda repo_id, user: repo_writable_sql(repo_id=other.pk, user=user)
    )
    response = _post(client, repo.pk, people["write"], {"intent": "take 1"})
    assert response.status_code == 404
    assert response.json()["detail"] == "Repo not found."
    assert Session.objects.count() == 0
