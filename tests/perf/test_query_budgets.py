"""Query budgets per route (issue 5): a request's query count must not grow with the repo
or the page size.

Each request is signed in with a real ``Bearer`` token, so the token lookup is counted.
A budget counts the statements that read or write data. Transaction control is not
counted: a write's transaction (``musehub.api.transactions``, or the session service's)
shows up as ``BEGIN``/``COMMIT`` on SQLite, as nothing on PostgreSQL (psycopg opens it
implicitly) and as a ``SAVEPOINT`` pair inside a test transaction, and it costs the same
however big the repo is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory, make_repo, make_session

pytestmark = pytest.mark.django_db

LIST_BUDGET = 4
GET_BUDGET = 3
#: What a session write adds for its event and the event's webhook deliveries (issue 12):
#: one statement, however many hooks the repo has.
EVENT = 1
CREATE_BUDGET = 4 + EVENT
STOP_BUDGET = 4 + EVENT
EDIT_BUDGET = 4 + EVENT  # PATCH, and POST .../commits
DELETE_BUDGET = 5 + EVENT
#: A write that changes nothing records no event: it costs what it did before events.
NO_OP_EDIT_BUDGET = 3
#: A stop of an ended session reads it and writes nothing: token, repo, session.
NO_OP_STOP_BUDGET = 3

T0 = datetime(2026, 1, 1, tzinfo=UTC)

_TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.IGNORECASE)


@contextmanager
def max_queries(budget: int) -> Iterator[None]:
    """Fail when the block runs more than ``budget`` data statements; list them if so."""
    with CaptureQueriesContext(connection) as captured:
        yield
    statements = [q["sql"] for q in captured.captured_queries if not _TRANSACTION_CONTROL.match(q["sql"].lstrip())]
    assert len(statements) <= budget, f"{len(statements)} queries, budget {budget}:\n\n" + "\n\n".join(statements)


def _repo_with_sessions(owner, count: int, *, stopped_every: int = 0):
    """A private repo of ``owner`` holding ``count`` sessions, one minute apart."""
    repo = make_repo(owner=owner, visibility="private")
    for i in range(count):
        started = T0 + timedelta(minutes=i)
        ended = started + timedelta(seconds=30) if stopped_every and i % stopped_every == 0 else None
        make_session(repo, started_at=started, ended_at=ended, participants=["ana", "bo"])
    return repo


def _url(repo, *rest: str) -> str:
    return "/".join([f"/api/repos/{repo.pk}/sessions", *rest])


@pytest.mark.parametrize("count", [5, 60])
@pytest.mark.parametrize("limit", [50, 200])
def test_list_budget_is_flat_in_repo_and_page_size(client, user, auth_headers, count, limit) -> None:
    repo = _repo_with_sessions(user, count)
    with max_queries(LIST_BUDGET):
        response = client.get(_url(repo), {"limit": limit}, headers=auth_headers)
    assert response.status_code == 200
    body = response.json()
    assert len(body["sessions"]) == min(count, limit)
    assert body["total"] == count


def test_list_budget_holds_on_a_cursor_page_and_with_a_filter(client, user, auth_headers) -> None:
    repo = _repo_with_sessions(user, 60, stopped_every=3)
    first = client.get(_url(repo), {"limit": 10}, headers=auth_headers).json()
    with max_queries(LIST_BUDGET):
        deeper = client.get(_url(repo), {"limit": 10, "cursor": first["nextCursor"]}, headers=auth_headers)
    assert deeper.status_code == 200
    assert deeper.json()["total"] == 60
    assert deeper.json()["sessions"][0]["startedAt"] < first["sessions"][-1]["startedAt"]

    with max_queries(LIST_BUDGET):
        active = client.get(_url(repo), {"active": "true", "limit": 200}, headers=auth_headers)
    assert active.status_code == 200
    assert active.json()["total"] == 40
    assert all(row["isActive"] for row in active.json()["sessions"])


@pytest.mark.parametrize("count", [5, 60])
def test_get_budget(client, user, auth_headers, count) -> None:
    repo = _repo_with_sessions(user, count)
    session = make_session(repo, participants=["ana"])
    with max_queries(GET_BUDGET):
        response = client.get(_url(repo, session.pk), headers=auth_headers)
    assert response.status_code == 200
    assert response.json()["sessionId"] == session.pk
    assert response.json()["author"] == "testuser"


@pytest.mark.parametrize("count", [5, 60])
def test_create_budget(client, user, auth_headers, count) -> None:
    repo = _repo_with_sessions(user, count)
    with max_queries(CREATE_BUDGET):
        response = client.post(_url(repo), {"participants": ["ana"], "intent": "demo"}, headers=auth_headers)
    assert response.status_code == 201
    assert response.json()["isActive"] is True


def test_create_retry_budget(client, user, auth_headers) -> None:
    repo = _repo_with_sessions(user, 5)
    body = {"startedAt": "2026-02-01T10:00:00Z", "intent": "demo"}
    with max_queries(CREATE_BUDGET):
        first = client.post(_url(repo), body, headers=auth_headers)
    with max_queries(CREATE_BUDGET):
        retry = client.post(_url(repo), body, headers=auth_headers)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["sessionId"] == first.json()["sessionId"]
    assert client.get(_url(repo), headers=auth_headers).json()["total"] == 6


@pytest.mark.parametrize("count", [5, 60])
def test_stop_budget_first_and_repeated(client, user, auth_headers, count) -> None:
    repo = _repo_with_sessions(user, count)
    session = make_session(repo)
    with max_queries(STOP_BUDGET):
        stopped = client.post(_url(repo, session.pk, "stop"), {}, headers=auth_headers)
    with max_queries(NO_OP_STOP_BUDGET):
        again = client.post(_url(repo, session.pk, "stop"), {}, headers=auth_headers)
    assert stopped.status_code == again.status_code == 200
    assert [e["type"] for e in client.get(f"/api/repos/{repo.pk}/events", headers=auth_headers).json()["events"]][
        -1
    ] == "session.stopped"
    assert stopped.json()["endedAt"] is not None
    assert again.json()["endedAt"] == stopped.json()["endedAt"]


def test_cursor_pages_walk_sessions_sharing_a_start_exactly_once(client, user, auth_headers) -> None:
    """The keyset bound (``startedAt <= cursor`` and the tie-break on the id) skips nothing."""
    repo = make_repo(owner=user, visibility="private")
    for n in range(7):  # seven authors start at the same instant: their ids break the tie
        make_session(repo, author=UserFactory(username=f"player{n}"), started_at=T0)
    make_session(repo, started_at=T0 + timedelta(minutes=1))
    make_session(repo, started_at=T0 - timedelta(minutes=1))

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        with max_queries(LIST_BUDGET):
            body = client.get(_url(repo), params, headers=auth_headers).json()
        seen += [row["sessionId"] for row in body["sessions"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 9
    newest_first = sorted(
        client.get(_url(repo), {"limit": 200}, headers=auth_headers).json()["sessions"],
        key=lambda row: (row["startedAt"], row["sessionId"]),
        reverse=True,
    )
    assert seen == [row["sessionId"] for row in newest_first]


@pytest.mark.parametrize("hooks", [0, 3])
def test_every_write_costs_one_statement_more_for_its_event_and_deliveries(
    client, user, auth_headers, hooks, settings
) -> None:
    """Each write's budget is today's plus ``EVENT``, with or without hooks to deliver to;
    a write that changes nothing costs no more than before and records nothing."""
    from events_app.models import Delivery
    from events_app.services import hook_create

    settings.MUSEHUB_WEBHOOK_ALLOW_PRIVATE = True
    repo = _repo_with_sessions(user, 5)
    for _ in range(hooks):
        hook_create(repo_id=repo.pk, url="http://127.0.0.1:9/hook", secret="x" * 20)
    session = make_session(repo)
    with max_queries(EDIT_BUDGET):
        assert client.patch(_url(repo, session.pk), {"intent": "b"}, headers=auth_headers).status_code == 200
    with max_queries(NO_OP_EDIT_BUDGET):
        assert client.patch(_url(repo, session.pk), {"intent": "b"}, headers=auth_headers).status_code == 200
    commits = {"commits": ["a" * 64]}
    with max_queries(EDIT_BUDGET):
        assert client.post(_url(repo, session.pk, "commits"), commits, headers=auth_headers).status_code == 200
    with max_queries(NO_OP_EDIT_BUDGET):
        assert client.post(_url(repo, session.pk, "commits"), commits, headers=auth_headers).status_code == 200
    with max_queries(STOP_BUDGET):
        assert client.post(_url(repo, session.pk, "stop"), {}, headers=auth_headers).status_code == 200
    with max_queries(NO_OP_STOP_BUDGET):
        assert client.post(_url(repo, session.pk, "stop"), {}, headers=auth_headers).status_code == 200
    with max_queries(CREATE_BUDGET):
        assert client.post(_url(repo), {"intent": "c"}, headers=auth_headers).status_code == 201
    with max_queries(DELETE_BUDGET):
        assert client.delete(_url(repo, session.pk), headers=auth_headers).status_code == 204
    feed = client.get(f"/api/repos/{repo.pk}/events", {"after": 6}, headers=auth_headers).json()["events"]
    assert [event["type"] for event in feed] == [
        "session.updated",
        "session.commits_added",
        "session.stopped",
        "session.created",
        "session.deleted",
    ]
    assert Delivery.objects.count() == hooks * 6  # make_session after the hooks, then these five writes
