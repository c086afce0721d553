"""The caller's current session (SPEC "Conveniences"): ``GET .../sessions/current`` and
``POST .../sessions/current/stop``, so the CLI can stop what it started without its id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.models import Session
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share
from tests.perf.test_query_budgets import GET_BUDGET, STOP_BUDGET, max_queries

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def current_url(repo, *rest: str) -> str:
    return "/".join([f"/api/repos/{repo.pk}/sessions/current", *rest])


def test_no_active_session_is_404_for_get_and_stop(client, auth_headers, repo):
    make_session(repo, started_at=T0, ended_at=T0 + timedelta(hours=1))  # ended: not current

    got = client.get(current_url(repo), headers=auth_headers)
    stopped = client.post(current_url(repo, "stop"), {}, format="json", headers=auth_headers)

    assert got.status_code == stopped.status_code == 404
    assert "detail" in got.json()
    assert "detail" in stopped.json()


def test_the_one_active_session_is_current_and_stop_ends_it(client, auth_headers, repo):
    session = make_session(repo, started_at=T0)

    got = client.get(current_url(repo), headers=auth_headers)
    assert got.status_code == 200
    assert got.json()["sessionId"] == session.pk
    assert got.json()["isActive"] is True

    stopped = client.post(
        current_url(repo, "stop"), {"endedAt": "2026-03-01T13:30:00Z", "notes": "done"}, headers=auth_headers
    )
    assert stopped.status_code == 200
    assert stopped.json()["sessionId"] == session.pk
    assert stopped.json()["endedAt"] == "2026-03-01T13:30:00Z"
    assert stopped.json()["notes"] == "done"
    assert stopped.json()["durationSeconds"] == 5400.0
    # Nothing is current any more.
    assert client.get(current_url(repo), headers=auth_headers).status_code == 404
    assert client.post(current_url(repo, "stop"), {}, headers=auth_headers).status_code == 404


def test_with_several_active_the_newest_start_is_current_and_stops_first(client, auth_headers, repo):
    older = make_session(repo, started_at=T0)
    newest = make_session(repo, started_at=T0 + timedelta(hours=2))
    middle = make_session(repo, started_at=T0 + timedelta(hours=1))
    make_session(repo, started_at=T0 + timedelta(hours=3), ended_at=T0 + timedelta(hours=4))  # newer but ended

    assert client.get(current_url(repo), headers=auth_headers).json()["sessionId"] == newest.pk
    order = [client.post(current_url(repo, "stop"), {}, headers=auth_headers).json()["sessionId"] for _ in range(3)]

    assert order == [newest.pk, middle.pk, older.pk]
    assert not Session.objects.filter(repo=repo, is_active=True).exists()


def test_sessions_starting_at_the_same_instant_are_ordered_by_id(client, user, auth_headers, repo):
    # Two sessions of one author cannot share a start (the id is derived from it), but the
    # order is the list's: startedAt, then sessionId. A later start wins over a larger id.
    first = make_session(repo, started_at=T0)
    second = make_session(repo, started_at=T0 + timedelta(microseconds=1))
    assert client.get(current_url(repo), headers=auth_headers).json()["sessionId"] == second.pk
    assert first.pk != second.pk


def test_another_authors_active_session_is_not_yours(client, user, auth_headers, repo):
    bandmate = UserFactory(username="bandmate")
    share(repo, bandmate, "write")
    theirs = make_session(repo, author=bandmate, started_at=T0 + timedelta(hours=1))

    assert client.get(current_url(repo), headers=auth_headers).status_code == 404
    assert client.post(current_url(repo, "stop"), {}, headers=auth_headers).status_code == 404
    assert Session.objects.get(pk=theirs.pk).is_active

    mine = make_session(repo, started_at=T0)  # older than theirs, but the only one of mine
    assert client.get(current_url(repo), headers=auth_headers).json()["sessionId"] == mine.pk
    as_bandmate = auth_header(make_token(bandmate))
    assert client.get(current_url(repo), headers=as_bandmate).json()["sessionId"] == theirs.pk


def test_current_is_scoped_to_the_repo(client, user, auth_headers, repo):
    other_repo = make_repo(owner=user)
    make_session(other_repo, started_at=T0)
    assert client.get(current_url(repo), headers=auth_headers).status_code == 404


def test_anonymous_is_401_even_on_a_public_repo(client, repo, private_repo):
    make_session(repo, started_at=T0)
    for target in (repo, private_repo):
        got = client.get(current_url(target))
        stopped = client.post(current_url(target, "stop"), {})
        assert got.status_code == stopped.status_code == 401
        assert "WWW-Authenticate" in got


def test_permissions_follow_the_read_and_write_rows(client, user, outsider_headers, repo, private_repo):
    reader = UserFactory(username="reader")
    share(private_repo, reader, "read")
    as_reader = auth_header(make_token(reader))
    # An outsider cannot see a private repo at all; on a public one they simply have none.
    assert client.get(current_url(private_repo), headers=outsider_headers).status_code == 404
    assert client.get(current_url(repo), headers=outsider_headers).status_code == 404
    assert client.post(current_url(private_repo, "stop"), {}, headers=outsider_headers).status_code == 404
    assert client.post(current_url(repo, "stop"), {}, headers=outsider_headers).status_code == 403
    # A read collaborator may read (and has no session), may not stop.
    assert client.get(current_url(private_repo), headers=as_reader).status_code == 404
    assert client.post(current_url(private_repo, "stop"), {}, headers=as_reader).status_code == 403


def test_stop_current_rejects_a_bad_body_like_stop(client, auth_headers, repo):
    make_session(repo, started_at=T0)
    too_early = client.post(current_url(repo, "stop"), {"endedAt": "2026-03-01T11:00:00Z"}, headers=auth_headers)
    garbage = client.post(current_url(repo, "stop"), {"endedAt": "soon"}, headers=auth_headers)
    assert too_early.status_code == garbage.status_code == 422
    assert "endedAt" in too_early.json()["errors"]
    assert "endedAt" in garbage.json()["errors"]
    assert Session.objects.get(repo=repo).is_active


def test_current_is_not_taken_for_a_session_id(client, auth_headers, repo):
    """``current`` is routed to its own view, never looked up as a session id (the detail
    route only takes 64 hex characters; PATCH and DELETE are not current's methods)."""
    make_session(repo, started_at=T0)
    assert client.patch(current_url(repo), {"notes": "x"}, headers=auth_headers).status_code == 405
    assert client.delete(current_url(repo), headers=auth_headers).status_code == 405
    assert client.get(current_url(repo, "stop"), headers=auth_headers).status_code == 405


@pytest.mark.parametrize("count", [3, 40])
def test_current_costs_the_same_queries_however_many_sessions(client, user, auth_headers, repo, count):
    for n in range(count):
        make_session(repo, started_at=T0 + timedelta(minutes=n), ended_at=None if n % 4 else T0 + timedelta(hours=1))
    # Token, repo and role, the newest active row.
    with max_queries(GET_BUDGET):
        assert client.get(current_url(repo), headers=auth_headers).status_code == 200
    # ... and for the stop: the current row, the conditional UPDATE, the row as it is now.
    with max_queries(STOP_BUDGET + 1):
        assert client.post(current_url(repo, "stop"), {}, headers=auth_headers).status_code == 200
