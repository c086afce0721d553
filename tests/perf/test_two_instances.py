"""Scale-out (issue 5): two gunicorn instances over one PostgreSQL database behave as one.

Each instance is the project's own ``gunicorn.conf.py`` serving ``musehub.wsgi`` on its
own loopback port, connected to the test database. Racing requests are split across the
two; what they leave behind must be what one instance would leave: one ``endedAt`` for
racing stops, every commit of racing appends, one session for racing retries of the same
create, and an exact ``sessionCount``. Nothing here is coordinated in a process: the
database settles every race.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from django.db import connection

from repos_app.models import Repo
from sessions_app.models import Session
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share
from tests.live_gunicorn import Gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RACERS = 24


def _database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "postgres")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def instances() -> Iterator[tuple[Gunicorn, Gunicorn]]:
    """Two gunicorn instances, two workers each, over this test's PostgreSQL database."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "two-instances-test-secret-" + "x" * 40,
        "GUNICORN_LOGLEVEL": "warning",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    pair = (Gunicorn(env), Gunicorn(env))
    try:
        for instance in pair:
            instance.start()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


def _call(base: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body or {}).encode() if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json", **auth_header(token)},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _race(instances, calls: list[tuple[str, str, dict | None]], tokens: list[str]) -> list[tuple[int, dict]]:
    """Fire ``calls`` (method, path, body) at once, alternating between the instances;
    call ``i`` is signed in with ``tokens[i % len(tokens)]``."""
    start = threading.Barrier(len(calls))

    def run(i: int) -> tuple[int, dict]:
        method, path, body = calls[i]
        start.wait()
        return _call(instances[i % 2].base, method, path, tokens[i % len(tokens)], body)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, range(len(calls))))


@pytest.fixture
def owner_and_repo():
    owner = UserFactory(username="testuser")
    return make_token(owner), make_repo(owner=owner, visibility="private")


@pytest.fixture
def writers(owner_and_repo) -> list[str]:
    """Tokens of RACERS write collaborators of the repo.

    Racers with a user each do not meet on one user's throttle counter first (one row of
    ``musehub_throttle``, locked for the length of its statement): they reach the session
    row at the same time, which is the race under test.
    """
    _, repo = owner_and_repo
    tokens = []
    for n in range(RACERS):
        user = UserFactory(username=f"writer{n}")
        share(repo, user, "write")
        tokens.append(make_token(user))
    return tokens


def test_racing_stops_across_instances_agree_on_one_end(instances, owner_and_repo, writers) -> None:
    token, repo = owner_and_repo
    session = make_session(repo)
    path = f"/api/repos/{repo.pk}/sessions/{session.pk}/stop"

    results = _race(instances, [("POST", path, {"notes": f"stop {i}"}) for i in range(RACERS)], writers)

    assert {status for status, _ in results} == {200}
    ended = {body["endedAt"] for _, body in results}
    assert len(ended) == 1, ended
    assert None not in ended
    notes = {body["notes"] for _, body in results}
    assert len(notes) == 1, "every caller sees the winner's notes"
    status, stored = _call(instances[0].base, "GET", path.removesuffix("/stop"), token)
    assert status == 200
    assert stored["endedAt"] == ended.pop()
    assert stored["isActive"] is False
    assert stored["notes"] == notes.pop()


def test_racing_commit_appends_across_instances_keep_every_commit(instances, owner_and_repo, writers) -> None:
    _, repo = owner_and_repo
    session = make_session(repo, commits=["0" * 64])
    path = f"/api/repos/{repo.pk}/sessions/{session.pk}/commits"
    mine = [f"{i:064x}" for i in range(1, RACERS + 1)]

    # Each racer appends its own commit and one every racer shares.
    results = _race(instances, [("POST", path, {"commits": [commit, "f" * 64]}) for commit in mine], writers)

    assert {status for status, _ in results} == {200}
    session.refresh_from_db()
    assert session.commits[0] == "0" * 64
    assert sorted(session.commits) == sorted(["0" * 64, "f" * 64, *mine])
    assert len(session.commits) == len(set(session.commits)) == RACERS + 2


def test_racing_creates_across_instances_make_one_session_per_start(instances, owner_and_repo) -> None:
    token, repo = owner_and_repo
    path = f"/api/repos/{repo.pk}/sessions"
    retry = {"startedAt": "2026-03-01T20:00:00Z", "intent": "take one", "participants": ["ana"]}
    fresh = {"intent": "server picks the start"}
    calls = [("POST", path, retry if i % 2 else fresh) for i in range(RACERS)]

    # One author: a retry is the same author's create (the session id is derived from it).
    results = _race(instances, calls, [token])

    retries = [results[i] for i in range(RACERS) if i % 2]
    fresh_ones = [results[i] for i in range(RACERS) if not i % 2]
    # The retries of one create: one 201, the rest 200 with that very session.
    assert sorted(status for status, _ in retries) == [200] * (len(retries) - 1) + [201]
    assert len({body["sessionId"] for _, body in retries}) == 1
    # Creates without startedAt never collide: each is a session of its own.
    assert {status for status, _ in fresh_ones} == {201}
    assert len({body["startedAt"] for _, body in fresh_ones}) == len(fresh_ones)

    expected = 1 + len(fresh_ones)
    assert Session.objects.filter(repo=repo).count() == expected
    assert Session.objects.filter(repo=repo, started_at="2026-03-01T20:00:00Z").count() == 1
    assert Repo.objects.get(pk=repo.pk).session_count == expected
    status, listing = _call(instances[0].base, "GET", path + "?limit=200", token)
    assert status == 200
    assert listing["total"] == len(listing["sessions"]) == expected
