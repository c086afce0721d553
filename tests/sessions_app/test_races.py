"""Requests racing each other on PostgreSQL: real threads, one database connection each.

Every race starts ``RACERS`` requests at once (a barrier releases them together) through
the full HTTP stack: authentication, the per-request transaction, the services. What must
hold is settled by the database (conditional updates, row locks), so it holds the same
across gunicorn workers on many machines.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from repos_app.models import Repo
from sessions_app.models import Session
from tests.factories import make_session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 24


def race(request: Callable[[APIClient, int], Any], n: int = RACERS) -> list[Any]:
    """Run ``request(client, i)`` for i in 0..n-1 in n threads released at the same instant.

    Returns the results in index order; an exception in any thread fails the test (the
    test client re-raises a view's exception, so a 500 surfaces here with its traceback).
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        client = APIClient()
        try:
            barrier.wait(timeout=30)
            results[i] = request(client, i)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    if errors:
        raise errors[0]
    return results


def commit_id(n: int) -> str:
    return f"{n:064x}"


def kept_count(repo) -> int:
    return Repo.objects.get(pk=repo.pk).session_count


def test_racing_stops_all_see_the_same_end(repo, auth_headers):
    session = make_session(repo)
    url = f"/api/repos/{repo.repo_id}/sessions/{session.session_id}/stop"

    responses = race(lambda client, i: client.post(url, {"notes": f"stopped by {i}"}, headers=auth_headers))

    assert [r.status_code for r in responses] == [200] * RACERS
    bodies = [r.json() for r in responses]
    assert len({b["endedAt"] for b in bodies}) == 1
    assert len({b["notes"] for b in bodies}) == 1
    stored = Session.objects.get(pk=session.pk)
    assert stored.is_active is False
    assert bodies[0]["endedAt"] == stored.ended_at.isoformat().replace("+00:00", "Z")
    assert bodies[0]["notes"] == stored.notes


def test_racing_stops_with_explicit_ends_keep_exactly_one(repo, auth_headers):
    session = make_session(repo, started_at=None)
    url = f"/api/repos/{repo.repo_id}/sessions/{session.session_id}/stop"
    ends = [f"2999-01-01T00:00:{i:02d}Z" for i in range(RACERS)]

    responses = race(lambda client, i: client.post(url, {"endedAt": ends[i]}, headers=auth_headers))

    assert [r.status_code for r in responses] == [200] * RACERS
    winners = {r.json()["endedAt"] for r in responses}
    assert len(winners) == 1
    assert winners <= set(ends)


def test_racing_commit_appends_keep_every_commit(repo, auth_headers):
    session = make_session(repo, commits=[commit_id(0)])
    url = f"/api/repos/{repo.repo_id}/sessions/{session.session_id}/commits"

    def append(client, i):
        # Each racer adds two commits of its own and one everybody sends.
        return client.post(
            url, {"commits": [commit_id(1000 + i), commit_id(0), commit_id(2000 + i)]}, headers=auth_headers
        )

    responses = race(append)

    assert [r.status_code for r in responses] == [200] * RACERS
    commits = Session.objects.get(pk=session.pk).commits
    assert len(commits) == 1 + 2 * RACERS
    assert Counter(commits).most_common(1)[0][1] == 1
    assert commits[0] == commit_id(0)
    for i in range(RACERS):
        # Each request's own commits stay in the order it sent them.
        assert commits.index(commit_id(1000 + i)) < commits.index(commit_id(2000 + i))
    # The last response to commit saw every commit.
    assert max(len(r.json()["commits"]) for r in responses) == len(commits)


def test_racing_creates_without_start_keep_every_session(repo, auth_headers):
    url = f"/api/repos/{repo.repo_id}/sessions"

    responses = race(lambda client, i: client.post(url, {"intent": f"take {i}"}, headers=auth_headers))

    assert [r.status_code for r in responses] == [201] * RACERS
    assert len({r.json()["sessionId"] for r in responses}) == RACERS
    assert Session.objects.filter(repo=repo).count() == RACERS
    assert kept_count(repo) == RACERS


def test_racing_creates_with_distinct_starts_keep_every_session(repo, auth_headers):
    url = f"/api/repos/{repo.repo_id}/sessions"

    def create(client, i):
        return client.post(url, {"startedAt": f"2025-06-01T10:00:{i:02d}Z"}, headers=auth_headers)

    responses = race(create)

    assert [r.status_code for r in responses] == [201] * RACERS
    assert len({r.json()["sessionId"] for r in responses}) == RACERS
    assert Session.objects.filter(repo=repo).count() == RACERS
    assert kept_count(repo) == RACERS
    listing = APIClient().get(f"{url}?limit=200").json()
    assert listing["total"] == RACERS
    assert len(listing["sessions"]) == RACERS


def test_racing_identical_creates_make_one_session(repo, auth_headers):
    url = f"/api/repos/{repo.repo_id}/sessions"
    body = {"startedAt": "2025-06-01T10:00:00Z", "intent": "Write the chorus", "participants": ["alice"]}

    responses = race(lambda client, i: client.post(url, body, headers=auth_headers))

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 200: RACERS - 1}
    assert len({r.json()["sessionId"] for r in responses}) == 1
    assert all(r.json() == responses[0].json() for r in responses)
    assert Session.objects.filter(repo=repo).count() == 1
    assert kept_count(repo) == 1


def test_racing_conflicting_creates_make_one_session_and_409s(repo, auth_headers):
    url = f"/api/repos/{repo.repo_id}/sessions"

    def create(client, i):
        return client.post(url, {"startedAt": "2025-06-01T10:00:00Z", "intent": f"plan {i}"}, headers=auth_headers)

    responses = race(create)

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: RACERS - 1}
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert Session.objects.get(repo=repo).intent == winner["intent"]
    assert kept_count(repo) == 1


def test_racing_mixed_creates_keep_an_exact_count(repo, auth_headers):
    """Half the racers retry one create, the other half create sessions of their own."""
    url = f"/api/repos/{repo.repo_id}/sessions"
    half = RACERS // 2

    def create(client, i):
        start = "2025-06-01T09:00:00Z" if i < half else f"2025-06-01T10:00:{i:02d}Z"
        return client.post(url, {"startedAt": start}, headers=auth_headers)

    responses = race(create)

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1 + (RACERS - half), 200: half - 1}
    assert Session.objects.filter(repo=repo).count() == 1 + (RACERS - half)
    assert kept_count(repo) == 1 + (RACERS - half)


def test_racing_deletes_count_once(repo, auth_headers):
    session = make_session(repo)
    make_session(repo)
    url = f"/api/repos/{repo.repo_id}/sessions/{session.session_id}"

    responses = race(lambda client, i: client.delete(url, headers=auth_headers))

    assert Counter(r.status_code for r in responses) == {204: 1, 404: RACERS - 1}
    assert Session.objects.filter(repo=repo).count() == 1
    assert kept_count(repo) == 1


def test_racing_edits_stops_and_appends_all_stand(repo, auth_headers):
    """A third of the racers edit the location, a third stop, a third append a commit."""
    session = make_session(repo)
    url = f"/api/repos/{repo.repo_id}/sessions/{session.session_id}"

    def act(client, i):
        if i % 3 == 0:
            return client.patch(url, {"location": f"Studio {i}"}, headers=auth_headers)
        if i % 3 == 1:
            return client.post(f"{url}/stop", {}, headers=auth_headers)
        return client.post(f"{url}/commits", {"commits": [commit_id(i)]}, headers=auth_headers)

    responses = race(act)

    assert [r.status_code for r in responses] == [200] * RACERS
    stored = Session.objects.get(pk=session.pk)
    assert stored.is_active is False
    assert sorted(stored.commits) == sorted(commit_id(i) for i in range(RACERS) if i % 3 == 2)
    assert stored.location in {f"Studio {i}" for i in range(0, RACERS, 3)}
    ended = {r.json()["endedAt"] for r in responses if not r.json()["isActive"]}
    assert len(ended) == 1
    # Every edit's answer shows its own location.
    for i in range(0, RACERS, 3):
        assert responses[i].json()["location"] == f"Studio {i}"


def test_racing_edits_and_deletes_never_fail(repo, auth_headers):
    session = make_session(repo)
    url = f"/api/repos/{repo.repo_id}/sessions/{session.session_id}"

    def act(client, i):
        if i % 2:
            return client.delete(url, headers=auth_headers)
        return client.patch(url, {"notes": f"take {i}"}, headers=auth_headers)

    responses = race(act)

    deletes = Counter(r.status_code for i, r in enumerate(responses) if i % 2)
    edits = Counter(r.status_code for i, r in enumerate(responses) if not i % 2)
    assert deletes == {204: 1, 404: RACERS // 2 - 1}
    assert set(edits) <= {200, 404}
    assert not Session.objects.filter(pk=session.pk).exists()
    assert kept_count(repo) == 0


def test_deleting_a_repo_while_sessions_are_created(user, auth_headers):
    """Creates before the delete commit and are deleted with the repo; later ones are 404."""
    from tests.factories import make_repo

    repo = make_repo(owner=user)
    url = f"/api/repos/{repo.repo_id}"

    def act(client, i):
        if i == RACERS // 2:
            return client.delete(url, headers=auth_headers)
        return client.post(f"{url}/sessions", {}, headers=auth_headers)

    responses = race(act)

    assert responses[RACERS // 2].status_code == 204
    creates = [r for i, r in enumerate(responses) if i != RACERS // 2]
    assert {r.status_code for r in creates} <= {201, 404}
    for resp in creates:
        if resp.status_code == 404:
            assert resp.json()["detail"]
    assert not Repo.objects.filter(pk=repo.pk).exists()
    assert not Session.objects.filter(repo_id=repo.pk).exists()
