"""Queries per request stay bounded: pinned for the list and get routes.

Counts include the token lookup and, in tests, the SAVEPOINT/RELEASE pair of the request's
transaction (the handler's atomic block inside the test's own transaction): both databases
issue them.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share

pytestmark = pytest.mark.django_db

# savepoint + token (with its user) + repo/role + rows + release
SIGNED_IN_GET = 5


def _count(client, url: str, headers: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def _repos_visible_to(caller, n: int, start: int = 0) -> None:
    """``n`` repos the caller can read, owned by different users, some shared, some public."""
    for i in range(start, start + n):
        owner = caller if i % 3 == 0 else UserFactory(username=f"owner{i}")
        repo = make_repo(owner=owner, visibility="private" if i % 3 != 2 else "public", name=f"Repo {i}")
        if i % 3 == 1:
            share(repo, caller, "read" if i % 2 else "write")


@pytest.mark.parametrize("n", [5, 50])
def test_repo_list_costs_the_same_whatever_the_page_size(client, n, django_assert_max_num_queries) -> None:
    caller = UserFactory(username="caller")
    headers = auth_header(make_token(caller))
    _repos_visible_to(caller, n)

    # Whole list on one page: token, page; no COUNT (the page holds every row).
    with django_assert_max_num_queries(4):
        whole = client.get(f"/api/repos?limit={n}", headers=headers)
    assert len(whole.json()["repos"]) == whole.json()["total"] == n
    # A partial page adds the COUNT for ``total``, and nothing per row.
    with django_assert_max_num_queries(5):
        page = client.get("/api/repos?limit=3", headers=headers)
    assert len(page.json()["repos"]) == 3
    assert page.json()["total"] == n
    with django_assert_max_num_queries(5):
        second = client.get(f"/api/repos?limit=3&cursor={page.json()['nextCursor']}", headers=headers)
    assert second.status_code == 200, second.content


def test_repo_list_query_count_does_not_grow_with_rows(client) -> None:
    caller = UserFactory(username="caller")
    headers = auth_header(make_token(caller))
    _repos_visible_to(caller, 5)
    small = _count(client, "/api/repos?limit=200", headers), _count(client, "/api/repos?limit=2", headers)
    _repos_visible_to(caller, 45, start=5)
    large = _count(client, "/api/repos?limit=200", headers), _count(client, "/api/repos?limit=2", headers)

    assert small == large


def test_anonymous_repo_list(client, user, django_assert_max_num_queries) -> None:
    for i in range(10):
        make_repo(owner=UserFactory(username=f"owner{i}"), visibility="public", name=f"Repo {i}")

    with django_assert_max_num_queries(3):
        response = client.get("/api/repos")
    assert response.json()["total"] == 10


@pytest.fixture
def shared_repo():
    owner = UserFactory(username="owner")
    member = UserFactory(username="member")
    repo = make_repo(owner=owner, visibility="private", name="Shared")
    share(repo, member, "read")
    for name in ("a", "b", "c"):
        share(repo, UserFactory(username=name), "write")
    for _ in range(20):
        make_session(repo, participants=["alice", "bob"])
    return repo, auth_header(make_token(member))


def test_repo_get(client, shared_repo, django_assert_max_num_queries) -> None:
    repo, headers = shared_repo
    with django_assert_max_num_queries(SIGNED_IN_GET - 1):  # the repo is the row
        response = client.get(f"/api/repos/{repo.pk}", headers=headers)
    assert response.status_code == 200, response.content


def test_session_list(client, shared_repo, django_assert_max_num_queries) -> None:
    repo, headers = shared_repo
    with django_assert_max_num_queries(SIGNED_IN_GET):
        response = client.get(f"/api/repos/{repo.pk}/sessions?limit=5", headers=headers)
    assert len(response.json()["sessions"]) == 5
    assert response.json()["total"] == 20
    with django_assert_max_num_queries(SIGNED_IN_GET):
        response = client.get(f"/api/repos/{repo.pk}/sessions?limit=200", headers=headers)
    assert len(response.json()["sessions"]) == 20


def test_session_get(client, shared_repo, django_assert_max_num_queries) -> None:
    repo, headers = shared_repo
    session_id = repo.sessions.values_list("pk", flat=True)[0]
    with django_assert_max_num_queries(SIGNED_IN_GET):
        response = client.get(f"/api/repos/{repo.pk}/sessions/{session_id}", headers=headers)
    assert response.json()["sessionId"] == session_id


def test_collaborator_list(client, shared_repo, django_assert_max_num_queries) -> None:
    repo, headers = shared_repo
    with django_assert_max_num_queries(SIGNED_IN_GET):
        response = client.get(f"/api/repos/{repo.pk}/collaborators", headers=headers)
    assert len(response.json()["collaborators"]) == 4
