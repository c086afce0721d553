"""``session_get`` (a query compiled once, ``musehub.core.compiled``) returns what the
ORM's ``.values()`` returns, on each database, and only for the session's own repo; and
the statements a create and a stop write a session's row with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from musehub.core.errors import NotFoundError
from sessions_app.models import Session
from sessions_app.render import ROW_FIELDS
from sessions_app.selectors import session_get
from tests.factories import make_repo, make_session

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize("ended", [False, True])
def test_row_equals_the_orm_values(user, ended) -> None:
    repo = make_repo(owner=user)
    session = make_session(
        repo,
        started_at=T0,
        ended_at=T0 + timedelta(minutes=5) if ended else None,
        participants=["ana", "bö"],
        commits=["a" * 64],
    )
    expected = Session.objects.filter(pk=session.pk).values(*ROW_FIELDS).get()

    row = session_get(repo_id=repo.pk, session_id=session.pk)

    assert row == expected
    assert row["started_at"] == T0
    assert row["started_at"].tzinfo is not None
    assert row["participants"] == ["ana", "bö"]
    assert row["author__username"] == "testuser"


def test_a_session_of_another_repo_is_not_found(user) -> None:
    session = make_session(make_repo(owner=user))
    other = make_repo(owner=user)
    with pytest.raises(NotFoundError):
        session_get(repo_id=other.pk, session_id=session.pk)
    with pytest.raises(NotFoundError):
        session_get(repo_id=session.repo_id, session_id="f" * 64)


@pytest.mark.parametrize("caller", ["owner", "writer", "outsider", "anonymous"])
def test_repo_and_session_read_together_equal_each_read_alone(user, caller) -> None:
    """``repo_and_session_get`` (one statement) answers what ``repo_get`` and ``session_get``
    answer: the repo with this caller's role, and the session row (None when the repo has
    no such session, also when it is another repo's)."""
    from django.contrib.auth.models import AnonymousUser

    from repos_app.selectors import repo_get
    from sessions_app.selectors import repo_and_session_get
    from tests.factories import UserFactory, share

    repo = make_repo(owner=user, visibility="private")
    session = make_session(repo, started_at=T0, participants=["ana"], commits=["b" * 64], tags=["live"])
    elsewhere = make_session(make_repo(owner=user), started_at=T0)
    who = {"owner": user, "writer": UserFactory(username="wri"), "outsider": UserFactory(username="out")}
    who["anonymous"] = AnonymousUser()
    share(repo, who["writer"], "write")
    caller_user = who[caller]

    repo_row, row = repo_and_session_get(repo_id=repo.pk, session_id=session.pk, user=caller_user)
    assert repo_row == repo_get(repo_id=repo.pk, user=caller_user)
    assert repo_row["caller_role"] == {"owner": "owner", "writer": "write"}.get(caller)
    assert row == session_get(repo_id=repo.pk, session_id=session.pk)
    assert row["started_at"] == T0
    assert row["tags"] == ["live"]

    for missing in ("f" * 64, elsewhere.pk):
        repo_row, row = repo_and_session_get(repo_id=repo.pk, session_id=missing, user=caller_user)
        assert repo_row == repo_get(repo_id=repo.pk, user=caller_user)
        assert row is None
    with pytest.raises(NotFoundError):
        repo_and_session_get(repo_id="e" * 64, session_id=session.pk, user=caller_user)


def test_a_create_in_a_repo_that_is_gone_is_not_found_and_leaves_nothing(user) -> None:
    """The insert and the repo's count are one statement on PostgreSQL: a repo deleted
    since the caller looked it up counts nothing, and the session is taken back out."""
    from django.db import transaction

    from repos_app.models import Repo
    from sessions_app.services import session_create

    repo = make_repo(owner=user)
    session_create(repo_id=repo.pk, author=user, intent="kept")
    with pytest.raises(NotFoundError), transaction.atomic():  # a request's transaction
        session_create(repo_id="e" * 64, author=user, intent="lost")
    assert list(Session.objects.values_list("intent", flat=True)) == ["kept"]
    assert Repo.objects.get(pk=repo.pk).session_count == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_create_in_a_repo_that_is_gone_leaves_nothing(user) -> None:
    """As a request makes it: on PostgreSQL the statement commits at once, and the repo's
    foreign key fails it at that commit; on SQLite the service's transaction rolls back."""
    from repos_app.models import Repo
    from sessions_app.services import session_create

    repo = make_repo(owner=user)
    session_create(repo_id=repo.pk, author=user, intent="kept")
    with pytest.raises(NotFoundError):
        session_create(repo_id="e" * 64, author=user, intent="lost")
    assert list(Session.objects.values_list("intent", flat=True)) == ["kept"]
    assert Repo.objects.get(pk=repo.pk).session_count == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", ["create", "stop"])
def test_a_create_or_stop_is_one_statement_on_postgresql_with_its_event(user, write) -> None:
    """The write, the repo's count and the event are one statement, run outside any
    transaction: nothing is held locked across a round trip to the worker. On SQLite: its
    statements in one transaction."""
    from django.db import connection

    from events_app.models import Event
    from repos_app.models import Repo
    from sessions_app.services import session_create, session_stop

    repo = make_repo(owner=user)
    session = make_session(repo, started_at=T0) if write == "stop" else None
    seen: list[tuple[str, bool]] = []  # (statement, in a transaction)

    def note(execute, sql, params, many, context):
        seen.append((sql.split(None, 1)[0].upper(), connection.in_atomic_block))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        if write == "create":
            row, created = session_create(repo_id=repo.pk, author=user, intent="one statement")
            assert created
        else:
            row = session_stop(repo_id=repo.pk, session_id=session.pk)
    writes = [(verb, atomic) for verb, atomic in seen if verb != "SELECT"]
    if connection.vendor == "postgresql":
        assert writes == [("WITH", False)]  # stop: the read of the row came first
    else:
        expected = [("INSERT", True), ("UPDATE", True)] if write == "create" else [("UPDATE", True)]
        assert writes == [("BEGIN", False), *expected, ("INSERT", True)]  # the write(s), then the event
    event = Event.objects.filter(repo_id=repo.pk).latest("event_id")
    assert event.type == ("session.created" if write == "create" else "session.stopped")
    assert event.session_id == row["session_id"]
    assert Session.objects.get(pk=row["session_id"]).is_active is (write == "create")
    assert Repo.objects.get(pk=repo.pk).session_count == 1
