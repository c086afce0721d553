"""Pages bounded by bytes, and cursors only the server can issue (SPEC "Limits added").

A session may hold 10,000 commit ids (a 680 KB body): a page of 200 of them would be a
130 MB response built in one worker. A page stops adding sessions once it passes 1 MiB,
and its ``nextCursor`` lets a walk go on. Cursors are signed: one the server did not
issue, or one altered, is a 422 before anything reaches the database.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from musehub.core.keyset import MAX_PAGE_BYTES, encode_cursor
from repos_app.models import Repo
from sessions_app.models import Session
from tests.factories import make_repo

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 1, tzinfo=UTC)
COMMITS = [f"{n:064x}" for n in range(10_000)]


def _big_sessions(repo, count: int) -> list[str]:
    """``count`` sessions of 10,000 commits each (rows as the API would store them)."""
    rows = [
        Session(session_id=f"{n:064x}", repo=repo, started_at=T0 + timedelta(minutes=n), commits=COMMITS)
        for n in range(count)
    ]
    Session.objects.bulk_create(rows)
    Repo.objects.filter(pk=repo.pk).update(session_count=count)
    return [row.session_id for row in rows]


def test_a_page_of_huge_sessions_stops_near_one_mib_and_a_walk_sees_each_once(client, auth_headers, user):
    repo = make_repo(owner=user, visibility="public")
    ids = _big_sessions(repo, 12)
    one_session = len(json.dumps(client.get(f"/api/repos/{repo.pk}/sessions/{ids[0]}").json()))

    seen, url = [], f"/api/repos/{repo.pk}/sessions?limit=200"
    while url:
        response = client.get(url)  # anonymous: the repo is public
        assert response.status_code == 200
        body = response.json()
        assert len(response.content) <= MAX_PAGE_BYTES + one_session
        assert body["total"] == 12
        assert body["sessions"], "every page holds at least one session"
        seen += [session["sessionId"] for session in body["sessions"]]
        url = f"/api/repos/{repo.pk}/sessions?limit=200&cursor={body['nextCursor']}" if body["nextCursor"] else None

    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # newest first (ids follow the start times)


def test_small_sessions_fill_the_whole_limit(client, auth_headers, repo):
    for n in range(5):
        client.post(f"/api/repos/{repo.pk}/sessions", {"intent": f"take {n}"}, format="json", headers=auth_headers)
    body = client.get(f"/api/repos/{repo.pk}/sessions?limit=5", headers=auth_headers).json()
    assert len(body["sessions"]) == 5
    assert body["nextCursor"] is None


def test_a_list_of_repos_is_bounded_too(client, user, auth_headers):
    for n in range(120):
        Repo.objects.create(
            repo_id=f"{n:064x}",
            owner=user,
            name=f"r{n}",
            slug=f"r{n}",
            visibility="public",
            description="d" * 10_000,
            created_at=T0 + timedelta(minutes=n),
            updated_at=T0,
        )
    seen, cursor = [], None
    while True:
        response = client.get("/api/repos", {"limit": 200, **({"cursor": cursor} if cursor else {})})
        assert len(response.content) <= MAX_PAGE_BYTES + 11_000
        body = response.json()
        seen += [repo["repoId"] for repo in body["repos"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 120


def _forge(keys) -> str:
    return base64.urlsafe_b64encode(json.dumps(keys).encode()).rstrip(b"=").decode()


def _cursors(repo_id: str) -> dict[str, str]:
    issued = encode_cursor(T0, "f" * 64)
    payload, signature = issued.rsplit(".", 1)
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return {
        "unsigned, as the old format": _forge([T0.isoformat(), "f" * 64]),
        "forged signature": _forge([T0.isoformat(), "f" * 64]) + "." + signature,
        "altered payload": _forge(["2030-01-01T00:00:00Z", "f" * 64]) + "." + signature,
        "altered signature": f"{payload}.{flipped}",
        "lone surrogate id, unsigned": _forge(["2025-01-01T00:00:00Z", "\ud800"]),
        "truncated": issued[:-3],
        "empty signature": payload + ".",
    }


@pytest.mark.parametrize("kind", list(_cursors("x")))
@pytest.mark.parametrize("route", ["sessions", "repos"])
def test_a_cursor_the_server_did_not_issue_is_422(client, auth_headers, repo, kind, route):
    cursor = _cursors(repo.pk)[kind]
    url = f"/api/repos/{repo.pk}/sessions" if route == "sessions" else "/api/repos"
    for headers in ({}, auth_headers):  # anonymous callers too
        response = client.get(url, {"cursor": cursor}, headers=headers)
        assert response.status_code == 422, (kind, response.content)
        assert "cursor" in response.json()["errors"]


def test_an_issued_cursor_is_url_safe_and_works(client, auth_headers, repo):
    for n in range(3):
        client.post(f"/api/repos/{repo.pk}/sessions", {"intent": f"take {n}"}, format="json", headers=auth_headers)
    first = client.get(f"/api/repos/{repo.pk}/sessions?limit=2", headers=auth_headers)
    cursor = first.json()["nextCursor"]
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~:")
    assert f"cursor={cursor}" in first["Link"]
    second = client.get(f"/api/repos/{repo.pk}/sessions", {"limit": 2, "cursor": cursor}, headers=auth_headers)
    assert second.status_code == 200
    assert len(second.json()["sessions"]) == 1


def test_a_cursor_signed_with_another_secret_is_422(client, auth_headers, repo, settings):
    cursor = encode_cursor(T0, "f" * 64)
    settings.SECRET_KEY = "another-secret-" + "x" * 50
    response = client.get(f"/api/repos/{repo.pk}/sessions", {"cursor": cursor}, headers=auth_headers)
    assert response.status_code == 422
