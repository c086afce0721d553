"""Filtered list pages come from queries compiled once per filter combination
(``sessions_app.selectors``): for every combination, walking the pages gives exactly the
sessions, order and total that the ORM gives for the same filters."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict

from sessions_app.filters import clean_filters
from sessions_app.models import Session
from sessions_app.selectors import session_list
from tests.factories import UserFactory, make_repo, make_session

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
AFTER, BEFORE = T0 + timedelta(minutes=5), T0 + timedelta(minutes=15)  # sessions start in 0-19 min


def _reference(repo, active, after, before) -> list[str]:
    rows = Session.objects.filter(repo=repo)
    if active is not None:
        rows = rows.filter(is_active=active)
    if after is not None:
        rows = rows.filter(started_at__gt=after)
    if before is not None:
        rows = rows.filter(started_at__lt=before)
    return list(rows.order_by("-started_at", "-session_id").values_list("session_id", flat=True))


def _values(filters) -> tuple:
    active = {"true": True, "false": False}.get(filters.get("active"))
    after, before = (
        datetime.fromisoformat(filters[key]) if key in filters else None for key in ("startedAfter", "startedBefore")
    )
    return active, after, before


def _walk(repo, filters, limit) -> tuple[list[str], set[int]]:
    seen, totals, cursor = [], set(), None
    while True:
        query = QueryDict(mutable=True)
        query.update(filters)
        rows, total, cursor = session_list(repo_id=repo.pk, limit=limit, cursor=cursor, filters=clean_filters(query))
        seen += [row["session_id"] for row in rows]
        totals.add(total)
        if cursor is None:
            return seen, totals


def test_every_filter_combination_walks_as_the_orm_filters(user) -> None:
    repo, other = make_repo(owner=user), make_repo(owner=user)
    authors = [user, UserFactory()]  # two sessions of one start: one each
    for i in range(40):
        start = T0 + timedelta(minutes=i // 2)  # pairs share a start: the id breaks the tie
        make_session(
            repo,
            author=authors[i % 2],
            started_at=start,
            ended_at=start + timedelta(seconds=5) if i % 3 else None,
        )
        make_session(other, author=authors[i % 2], started_at=start + timedelta(seconds=1))

    for active, after, before in itertools.product((None, True, False), (None, AFTER), (None, BEFORE)):
        filters = {"active": {True: "true", False: "false"}.get(active), "startedAfter": after, "startedBefore": before}
        filters = {
            name: value if isinstance(value, str) else value.isoformat() for name, value in filters.items() if value
        }
        expected = _reference(repo, active, after, before)
        assert expected, filters  # every combination matches some sessions...
        if filters:  # ...and each filter leaves some out
            assert len(expected) < len(_reference(repo, None, None, None)), filters
        for name in filters:
            fewer = {key: value for key, value in filters.items() if key != name}
            assert expected != _reference(repo, *_values(fewer)), (filters, name)
        for limit in (3, 7, 200):
            seen, totals = _walk(repo, filters, limit)
            assert seen == expected, (filters, limit)
            assert totals == {len(expected)}, (filters, limit)
