"""``GET /repos/{repoId}/sessions/stats`` (SPEC "Reports"): totals computed by the database,
checked against a brute-force sum in Python over the same sessions."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app.lookups import _BIG_READ_SETTINGS
from sessions_app.selectors import session_stats
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share
from tests.perf.test_query_budgets import max_queries

pytestmark = pytest.mark.django_db

#: Midnight UTC: sessions are generated around it so that day boundaries are exercised.
MIDNIGHT = datetime(2026, 5, 2, tzinfo=UTC)
PEOPLE = ["ana", "bo", "Ana", "cy"]
PLACES = ["", "Studio A", "studio a", "Home"]
TAGS = ["mix", "vocals"]


def stats_url(repo) -> str:
    return f"/api/repos/{repo.pk}/sessions/stats"


def fmt(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def expected_stats(sessions: list[dict]) -> dict:
    """The stats body, summed by hand: what the database must also answer."""
    ended = [s for s in sessions if s["ended_at"] is not None]
    people, places, days = (defaultdict(lambda: [0, timedelta()]) for _ in range(3))

    def add(groups, key, session):
        groups[key][0] += 1
        if session["ended_at"] is not None:
            groups[key][1] += session["ended_at"] - session["started_at"]

    for session in sessions:
        for name in dict.fromkeys(session["participants"]):
            add(people, name, session)
        if session["location"]:
            add(places, session["location"], session)
        add(days, session["started_at"].date().isoformat(), session)

    def ranked(groups):
        rows = sorted(groups.items(), key=lambda item: (-item[1][1], item[0]))
        return [{"name": name, "sessions": n, "seconds": seconds.total_seconds()} for name, (n, seconds) in rows]

    return {
        "sessions": len(sessions),
        "active": len(sessions) - len(ended),
        "totalSeconds": sum((s["ended_at"] - s["started_at"] for s in ended), timedelta()).total_seconds(),
        "commits": sum(len(s["commits"]) for s in sessions),
        "participants": ranked(people),
        "locations": ranked(places),
        "byDay": [
            {"date": day, "sessions": n, "seconds": seconds.total_seconds()}
            for day, (n, seconds) in sorted(days.items())
        ],
    }


def matches(session: dict, filters: dict) -> bool:
    started = session["started_at"]
    checks = {
        "startedAfter": lambda bound: started > bound,
        "startedBefore": lambda bound: started < bound,
        "participant": lambda name: name in session["participants"],
        "tag": lambda tag: tag in session["tags"],
        "active": lambda active: (session["ended_at"] is None) == active,
    }
    return all(checks[name](value) for name, value in filters.items())


# Starts within a day either side of midnight, in whole seconds plus the very edges of a
# day (23:59:59.999999, 00:00:00); distinct per author since the id derives from the start.
OFFSETS = st.one_of(
    st.integers(min_value=-86_400, max_value=86_399).map(lambda s: timedelta(seconds=s)),
    st.sampled_from([timedelta(0), timedelta(microseconds=-1), timedelta(seconds=-1), timedelta(days=1)]),
)
SESSION = st.fixed_dictionaries(
    {
        "offset": OFFSETS,
        "duration": st.one_of(
            st.none(), st.integers(min_value=0, max_value=20_000_000_000).map(lambda us: timedelta(microseconds=us))
        ),
        "participants": st.lists(st.sampled_from(PEOPLE), max_size=4),  # repeats allowed: counted once
        "location": st.sampled_from(PLACES),
        "commits": st.integers(min_value=0, max_value=3),
        "tags": st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
    }
)
FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "startedAfter": OFFSETS.map(lambda offset: MIDNIGHT + offset),
        "startedBefore": OFFSETS.map(lambda offset: MIDNIGHT + offset),
        "participant": st.sampled_from(PEOPLE),
        "tag": st.sampled_from(TAGS),
        "active": st.booleans(),
    },
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(SESSION, max_size=10, unique_by=lambda spec: spec["offset"]), filters=FILTERS)
def test_stats_equal_a_brute_force_sum(client, user, auth_headers, specs, filters):
    repo = make_repo(owner=user)
    sessions = []
    for n, spec in enumerate(specs):
        started = MIDNIGHT + spec["offset"]
        ended = None if spec["duration"] is None else started + spec["duration"]
        commits = [f"{n:02x}{k:062x}" for k in range(spec["commits"])]
        make_session(
            repo,
            started_at=started,
            ended_at=ended,
            participants=spec["participants"],
            location=spec["location"],
            commits=commits,
            tags=spec["tags"],
        )
        sessions.append({**spec, "started_at": started, "ended_at": ended, "commits": commits})

    params = {
        name: (fmt(value) if isinstance(value, datetime) else str(value).lower() if isinstance(value, bool) else value)
        for name, value in filters.items()
    }
    response = client.get(stats_url(repo), params, headers=auth_headers)

    assert response.status_code == 200, response.content
    assert response.json() == expected_stats([s for s in sessions if matches(s, filters)])


def test_day_boundaries_are_utc_dates(client, auth_headers, repo):
    last_second = datetime(2026, 5, 1, 23, 59, 59, tzinfo=UTC)
    make_session(repo, started_at=last_second, ended_at=last_second + timedelta(hours=2))
    make_session(repo, started_at=datetime(2026, 5, 2, tzinfo=UTC), ended_at=datetime(2026, 5, 2, 0, 30, tzinfo=UTC))
    # 01:00 at +02:00 is 23:00 UTC the day before.
    client.post(
        f"/api/repos/{repo.pk}/sessions",
        {"startedAt": "2026-05-03T01:00:00+02:00", "endedAt": "2026-05-03T02:00:00+02:00"},
        headers=auth_headers,
    )

    body = client.get(stats_url(repo), headers=auth_headers).json()

    assert body["byDay"] == [
        {"date": "2026-05-01", "sessions": 1, "seconds": 7200.0},
        {"date": "2026-05-02", "sessions": 2, "seconds": 1800.0 + 3600.0},
    ]
    assert body["totalSeconds"] == 12600.0


def test_an_example_report(client, auth_headers, repo):
    t0 = datetime(2026, 5, 1, 10, tzinfo=UTC)
    make_session(repo, started_at=t0, ended_at=t0 + timedelta(hours=2), participants=["ana", "bo"], location="A")
    make_session(
        repo, started_at=t0 + timedelta(hours=3), ended_at=t0 + timedelta(hours=4), participants=["bo"], location=""
    )
    make_session(repo, started_at=t0 + timedelta(hours=5), participants=["cy"], location="B", commits=["c" * 64])

    body = client.get(stats_url(repo), headers=auth_headers).json()

    assert body == {
        "sessions": 3,
        "active": 1,
        "totalSeconds": 10800.0,
        "commits": 1,
        "participants": [
            {"name": "bo", "sessions": 2, "seconds": 10800.0},
            {"name": "ana", "sessions": 1, "seconds": 7200.0},
            {"name": "cy", "sessions": 1, "seconds": 0.0},
        ],
        "locations": [{"name": "A", "sessions": 1, "seconds": 7200.0}, {"name": "B", "sessions": 1, "seconds": 0.0}],
        "byDay": [{"date": "2026-05-01", "sessions": 3, "seconds": 10800.0}],
    }


def test_an_empty_repo_has_zero_stats(client, auth_headers, repo):
    body = client.get(stats_url(repo), headers=auth_headers).json()
    assert body == {
        "sessions": 0,
        "active": 0,
        "totalSeconds": 0.0,
        "commits": 0,
        "participants": [],
        "locations": [],
        "byDay": [],
    }


@pytest.mark.parametrize("count", [3, 30])
def test_stats_are_one_aggregate_statement_however_many_sessions(client, user, auth_headers, repo, count):
    for n in range(count):
        make_session(repo, started_at=MIDNIGHT + timedelta(hours=n), participants=["ana"], location="A")
    # Token, repo, the aggregate (and on PostgreSQL, the settings it runs with).
    with max_queries(4), CaptureQueriesContext(connection) as captured:
        assert client.get(stats_url(repo), {"participant": "ana"}, headers=auth_headers).status_code == 200
    assert sum("SUM(" in q["sql"] for q in captured.captured_queries) == 1


@pytest.mark.parametrize(
    "params",
    [{"startedAfter": "yesterday"}, {"tag": "Not A Tag"}, {"active": "maybe"}, {"participant": "x" * 101}],
)
def test_bad_filters_are_422_naming_them(client, auth_headers, repo, params):
    response = client.get(stats_url(repo), params, headers=auth_headers)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == set(params)


def test_stats_follow_the_read_sessions_row(client, outsider_headers, repo, private_repo):
    reader = UserFactory(username="reader")
    share(private_repo, reader, "read")
    assert client.get(stats_url(repo)).status_code == 200  # anonymous, public
    assert client.get(stats_url(private_repo)).status_code == 401
    assert client.get(stats_url(private_repo), headers=outsider_headers).status_code == 404
    assert client.get(stats_url(private_repo), headers=auth_header(make_token(reader))).status_code == 200


@pytest.mark.postgres
def test_stats_are_planned_for_each_repo_however_often_they_run(repo):
    """psycopg prepares the statement after its second use; PostgreSQL's generic plan for it
    (made for an average repo) would read a million sessions through the repo index."""
    make_session(repo, started_at=MIDNIGHT, participants=["ana"])
    for _ in range(10):
        session_stats(repo_id=repo.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s", ["WITH g AS (%"]
        )
        [(generic, custom)] = cursor.fetchall()
    # PostgreSQL weighs a generic plan against the custom ones from the sixth execution on.
    assert generic == 0
    assert custom > 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_stats_settings_end_with_the_stats(user):
    """The stats statement runs with ``_BIG_READ_SETTINGS``; the connection's next statements
    with the server's own."""
    repo = make_repo(owner=user)
    make_session(repo, started_at=MIDNIGHT, participants=["ana"])
    names = list(_BIG_READ_SETTINGS)
    query = "SELECT " + ", ".join("current_setting(%s)" for _ in names)
    with connection.cursor() as cursor:
        cursor.execute(query, names)
        before = cursor.fetchone()
        assert before != tuple(_BIG_READ_SETTINGS.values())
        session_stats(repo_id=repo.pk)
        cursor.execute(query, names)
        assert cursor.fetchone() == before
