"""``CompiledQuery``: a query compiled once returns what the ORM returns, for any values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count

from musehub.core.compiled import CompiledQuery
from sessions_app.models import Session
from tests.factories import make_repo, make_session

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 1, 9, 0, 0, 250000, tzinfo=UTC)

STARTED_BEFORE = CompiledQuery(
    lambda repo_id, before, limit: (
        Session.objects.filter(repo_id=repo_id, started_at__lt=before)
        .order_by("-started_at")
        .values("session_id", "started_at", "participants")[:limit]
    ),
    datetimes=("before",),
    shape=("limit",),
)


def _orm(repo_id, before, limit):
    rows = Session.objects.filter(repo_id=repo_id, started_at__lt=before).order_by("-started_at")
    return list(rows.values("session_id", "started_at", "participants")[:limit])


def test_rows_match_the_orm_for_every_parameter_and_shape(user) -> None:
    repo, other = make_repo(owner=user), make_repo(owner=user)
    for i in range(5):
        make_session(repo, started_at=T0 + timedelta(minutes=i), participants=[f"p{i}"])
        make_session(other, started_at=T0 + timedelta(minutes=i))

    for before in (T0, T0 + timedelta(minutes=2, microseconds=1), T0 + timedelta(hours=1)):
        for limit in (1, 3, 10):
            assert STARTED_BEFORE.fetch(repo_id=repo.pk, before=before, limit=limit) == _orm(repo.pk, before, limit)
    rows = STARTED_BEFORE.fetch(repo_id=repo.pk, before=T0 + timedelta(hours=1), limit=10)
    assert [row["participants"] for row in rows] == [["p4"], ["p3"], ["p2"], ["p1"], ["p0"]]


def test_a_value_that_is_not_a_parameter_is_refused(user) -> None:
    fixed = CompiledQuery(lambda repo_id: Session.objects.filter(repo_id=repo_id, notes="x").values("session_id"))
    with pytest.raises(TypeError):
        fixed.fetch(repo_id=make_repo(owner=user).pk)


ACTIVE_COUNT = CompiledQuery(
    lambda repo_id, active: (
        Session.objects.filter(repo_id=repo_id, is_active=active).order_by().values("repo_id").annotate(n=Count("*"))
    ),
    shape=("active",),
)


def test_a_boolean_shape_and_an_aggregate_compile_to_what_the_orm_counts(user) -> None:
    repo = make_repo(owner=user)
    for i in range(5):
        start = T0 + timedelta(minutes=i)
        make_session(repo, started_at=start, ended_at=start + timedelta(seconds=1) if i < 2 else None)
    for active in (True, False, True):  # each compiled once, then reused
        expected = Session.objects.filter(repo=repo, is_active=active).count()
        assert ACTIVE_COUNT.fetch(repo_id=repo.pk, active=active) == [{"repo_id": repo.pk, "n": expected}]
    assert [ACTIVE_COUNT.fetch(repo_id=repo.pk, active=a)[0]["n"] for a in (True, False)] == [3, 2]
    assert ACTIVE_COUNT.fetch(repo_id=make_repo(owner=user).pk, active=True) == []


def test_an_annotation_among_the_fields_keeps_each_value_under_its_name(user) -> None:
    """Django 5.2 selects columns in the order ``.values()`` names them, annotations
    included: the rows must be keyed by that order, and each value converted by its own
    column's converter (a timestamp after the annotation is still a datetime)."""
    from django.db.models.functions import Upper

    def build(repo_id):
        return (
            Session.objects.filter(repo_id=repo_id)
            .order_by("started_at")
            .annotate(label=Upper("intent"))
            .values("session_id", "label", "started_at", "participants")
        )

    repo = make_repo(owner=user)
    for i in range(3):
        make_session(repo, started_at=T0 + timedelta(minutes=i), participants=[f"p{i}"], intent=f"take {i}")
    rows = CompiledQuery(build).fetch(repo_id=repo.pk)
    assert rows == list(build(repo.pk))
    assert [(row["label"], row["started_at"], row["participants"]) for row in rows] == [
        (f"TAKE {i}", T0 + timedelta(minutes=i), [f"p{i}"]) for i in range(3)
    ]
