"""Session tags (SPEC "Session fields added"): set on create and PATCH, compared on a
retried create, and filtered with ``?tag=`` (repeatable: every tag must match)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from sessions_app.models import Session
from tests.factories import make_repo, make_session

pytestmark = pytest.mark.django_db

START = "2025-06-01T10:00:00Z"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def sessions_url(repo) -> str:
    return f"/api/repos/{repo.pk}/sessions"


def test_tags_are_stored_in_the_order_given_and_default_to_empty(client, auth_headers, repo):
    tagged = client.post(sessions_url(repo), {"tags": ["vocals", "take-2", "mix"]}, format="json", headers=auth_headers)
    plain = client.post(sessions_url(repo), {}, format="json", headers=auth_headers)

    assert tagged.status_code == plain.status_code == 201
    assert tagged.json()["tags"] == ["vocals", "take-2", "mix"]
    assert plain.json()["tags"] == []
    fetched = client.get(f"{sessions_url(repo)}/{tagged.json()['sessionId']}", headers=auth_headers)
    assert fetched.json()["tags"] == ["vocals", "take-2", "mix"]


@pytest.mark.parametrize(
    "tags",
    [
        ["Mixing"],
        ["two words"],
        ["a" * 41],
        [""],
        ["mix", "mix"],  # a repeated tag is refused, not dropped
        [f"t{n}" for n in range(21)],
        ["ok", 3],
        "mixing",
        ["ünïcode"],
        ["nul\x00"],
        [None],
    ],
)
def test_a_bad_tag_list_is_422_naming_tags(client, auth_headers, repo, tags):
    created = client.post(sessions_url(repo), {"tags": tags}, format="json", headers=auth_headers)
    assert created.status_code == 422
    assert "tags" in created.json()["errors"]

    session = make_session(repo, tags=["kept"])
    patched = client.patch(f"{sessions_url(repo)}/{session.pk}", {"tags": tags}, format="json", headers=auth_headers)
    assert patched.status_code == 422
    assert "tags" in patched.json()["errors"]
    assert Session.objects.get(pk=session.pk).tags == ["kept"]
    assert Session.objects.filter(repo=repo).count() == 1


def test_twenty_tags_of_forty_characters_are_fine(client, auth_headers, repo):
    tags = [f"{n:02d}" + "x" * 38 for n in range(20)]
    response = client.post(sessions_url(repo), {"tags": tags}, format="json", headers=auth_headers)
    assert response.status_code == 201
    assert response.json()["tags"] == tags


def test_patch_replaces_the_tags(client, auth_headers, repo):
    session = make_session(repo, tags=["draft"])
    response = client.patch(
        f"{sessions_url(repo)}/{session.pk}", {"tags": ["final", "mastered"]}, format="json", headers=auth_headers
    )
    assert response.status_code == 200
    assert response.json()["tags"] == ["final", "mastered"]
    assert Session.objects.get(pk=session.pk).tags == ["final", "mastered"]


def test_a_retried_create_compares_tags(client, auth_headers, repo):
    body = {"startedAt": START, "tags": ["live", "drums"]}
    first = client.post(sessions_url(repo), body, format="json", headers=auth_headers)
    same = client.post(sessions_url(repo), body, format="json", headers=auth_headers)
    left_out = client.post(sessions_url(repo), {"startedAt": START}, format="json", headers=auth_headers)
    reordered = client.post(
        sessions_url(repo), {"startedAt": START, "tags": ["drums", "live"]}, format="json", headers=auth_headers
    )

    assert (first.status_code, same.status_code, left_out.status_code) == (201, 200, 200)
    assert same.json() == first.json()
    assert reordered.status_code == 409
    assert "tags" in reordered.json()["detail"]
    assert Session.objects.get(pk=first.json()["sessionId"]).tags == ["live", "drums"]
    assert Session.objects.filter(repo=repo).count() == 1


def _ids(response) -> list[str]:
    return [session["sessionId"] for session in response.json()["sessions"]]


def test_tag_filter_requires_every_given_tag(client, auth_headers, repo):
    both = make_session(repo, tags=["mixing", "vocals"])
    mixing = make_session(repo, tags=["mixing"])
    make_session(repo, tags=["vocals"])
    make_session(repo)
    make_session(make_repo(owner=repo.owner), tags=["mixing"])  # another repo's

    one = client.get(sessions_url(repo), {"tag": "mixing"}, headers=auth_headers)
    two = client.get(f"{sessions_url(repo)}?tag=mixing&tag=vocals", headers=auth_headers)
    none = client.get(sessions_url(repo), {"tag": "drums"}, headers=auth_headers)

    assert set(_ids(one)) == {both.pk, mixing.pk}
    assert one.json()["total"] == 2
    assert _ids(two) == [both.pk]
    assert two.json()["total"] == 1
    assert _ids(none) == []
    assert none.json()["total"] == 0


def test_tag_filter_pages_with_a_cursor(client, auth_headers, repo):
    tagged = {make_session(repo, tags=["loop"]).pk for _ in range(5)}
    make_session(repo)
    seen, cursor = [], None
    while True:
        params = {"tag": "loop", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(sessions_url(repo), params, headers=auth_headers).json()
        assert page["total"] == 5
        seen += [session["sessionId"] for session in page["sessions"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(tagged)


@pytest.mark.parametrize("value", ["Bad", "a" * 41, "two%20words", "%00"])
def test_a_bad_tag_filter_is_422_naming_tag(client, auth_headers, repo, value):
    response = client.get(f"{sessions_url(repo)}?tag=ok&tag={value}", headers=auth_headers)
    assert response.status_code == 422
    assert "tag" in response.json()["errors"]


def test_an_empty_tag_filter_is_no_filter(client, auth_headers, repo):
    tagged = make_session(repo, tags=["ok"])
    make_session(repo)
    assert client.get(f"{sessions_url(repo)}?tag=", headers=auth_headers).json()["total"] == 2
    assert _ids(client.get(f"{sessions_url(repo)}?tag=ok&tag=", headers=auth_headers)) == [tagged.pk]


@pytest.mark.postgres
@pytest.mark.parametrize(("column", "query"), [("tags", "tag"), ("participants", "participant")])
def test_postgres_answers_the_json_filters_from_their_gin_index(client, auth_headers, repo, column, query):
    """``EXPLAIN`` of a filtered list's total on a repo of 3,000 sessions, one of them with
    the value: the planner reads the GIN index on the column (``@>``) instead of every
    session of the repo."""
    rows = [
        Session(
            session_id=f"{n:064x}",
            repo=repo,
            started_at=T0 + timedelta(minutes=n),
            participants=[f"p{n}"],
            tags=[f"t{n}"],
        )
        for n in range(3_000)
    ]
    Session.objects.bulk_create(rows)  # planner statistics only: the API made none of these
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sessions_app_session")
    value = "t7" if column == "tags" else "p7"
    response = client.get(sessions_url(repo), {query: value}, headers=auth_headers)
    assert [session["sessionId"] for session in response.json()["sessions"]] == [f"{7:064x}"]

    total = Session.objects.filter(repo=repo, **{f"{column}__has_element": value})
    plan = total.explain()

    assert f"session_{column}_gin" in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize(("column", "query"), [("tags", "tag"), ("participants", "participant")])
def test_a_json_filter_reads_the_same_few_pages_after_many_creates(client, auth_headers, repo, column, query):
    """Sessions created since the last vacuum are searched in the GIN index itself, not in
    a pending list every search reads whole (``fastupdate`` off, migration 0006): after
    3,000 creates the one matching session is found reading a handful of index pages."""
    Session.objects.bulk_create(
        Session(
            session_id=f"{n:064x}",
            repo=repo,
            started_at=T0 + timedelta(minutes=n),
            participants=[f"p{n}", "everyone"],
            tags=[f"t{n}", "take"],
        )
        for n in range(3_000)
    )
    value = "t7" if column == "tags" else "p7"
    response = client.get(sessions_url(repo), {query: value}, headers=auth_headers)
    assert [session["sessionId"] for session in response.json()["sessions"]] == [f"{7:064x}"]

    plan = Session.objects.filter(**{f"{column}__has_element": value}).explain(analyze=True, buffers=True)
    index_scan = next(line for line in plan.splitlines() if f"Bitmap Index Scan on session_{column}_gin" in line)
    index_pages = int(plan.splitlines()[plan.splitlines().index(index_scan) + 2].split("hit=")[1].split()[0])
    # With the pending list on, these 3,000 sessions' 12,000 keys would be read on every search.
    assert index_pages <= 10, plan
