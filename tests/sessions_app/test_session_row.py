"""``get_session_row`` (a query compiled once, ``musehub.api.compiled``) returns what the
ORM's ``.values()`` returns, on each database, and only for the session's own repo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.models import Session
from sessions_app.services import ROW_FIELDS, get_session_row
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

    row = get_session_row(repo_id=repo.pk, session_id=session.pk)

    assert row == expected
    assert row["started_at"] == T0
    assert row["started_at"].tzinfo is not None
    assert row["participants"] == ["ana", "bö"]
    assert row["author__username"] == "testuser"


def test_a_session_of_another_repo_is_not_found(user) -> None:
    session = make_session(make_repo(owner=user))
    other = make_repo(owner=user)
    assert get_session_row(repo_id=other.pk, session_id=session.pk) is None
    assert get_session_row(repo_id=session.repo_id, session_id="f" * 64) is None
