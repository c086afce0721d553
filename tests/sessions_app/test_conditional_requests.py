"""Conditional requests (SPEC "Conveniences"): a strong ``ETag`` on every GET of a session,
a repo, a session list and stats; ``If-None-Match`` → 304 with no body; ``If-Match`` on
PATCH, DELETE, stop and commits → 412 with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.models import Session
from tests.factories import make_session
from tests.perf.test_query_budgets import GET_BUDGET, max_queries

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
C1 = "a" * 64


def sessions_url(repo, *rest: str) -> str:
    return "/".join([f"/api/repos/{repo.pk}/sessions", *rest])


def read_urls(repo, session) -> list[str]:
    return [
        sessions_url(repo, session.pk),
        sessions_url(repo),
        sessions_url(repo) + "?active=true",
        sessions_url(repo, "stats"),
        sessions_url(repo, "current"),
        f"/api/repos/{repo.pk}",
    ]


def as_stored(session) -> dict:
    row = Session.objects.get(pk=session.pk)
    return {name: getattr(row, name) for name in ("notes", "ended_at", "commits", "intent", "is_active")}


@pytest.mark.parametrize("which", range(6))
def test_a_get_answers_a_strong_etag_and_304_for_it(client, auth_headers, repo, which):
    session = make_session(repo, started_at=T0)
    url = read_urls(repo, session)[which]
    first = client.get(url, headers=auth_headers)
    tag = first["ETag"]
    assert first.status_code == 200
    assert tag.startswith('"')
    assert tag.endswith('"')
    assert not tag.startswith("W/")

    again = client.get(url, headers={**auth_headers, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == tag
    # A weak form of the same tag, or a list holding it, also means "I have it".
    assert client.get(url, headers={**auth_headers, "If-None-Match": f'"x", W/{tag}'}).status_code == 304
    assert client.get(url, headers={**auth_headers, "If-None-Match": '"something-else"'}).status_code == 200


def test_the_etag_changes_when_the_session_changes(client, auth_headers, repo):
    session = make_session(repo, started_at=T0)
    url = sessions_url(repo, session.pk)
    before = client.get(url, headers=auth_headers)["ETag"]
    list_before = client.get(sessions_url(repo), headers=auth_headers)["ETag"]

    client.patch(url, {"notes": "new"}, headers=auth_headers)

    stale = client.get(url, headers={**auth_headers, "If-None-Match": before})
    assert stale.status_code == 200
    assert stale.json()["notes"] == "new"
    assert stale["ETag"] != before
    assert client.get(sessions_url(repo), headers=auth_headers)["ETag"] != list_before


def test_a_304_costs_no_more_queries_than_the_200(client, auth_headers, repo):
    session = make_session(repo, started_at=T0)
    url = sessions_url(repo, session.pk)
    tag = client.get(url, headers=auth_headers)["ETag"]
    with max_queries(GET_BUDGET):
        assert client.get(url, headers={**auth_headers, "If-None-Match": tag}).status_code == 304


def test_a_write_answers_the_etag_a_get_then_shows(client, auth_headers, repo):
    session = make_session(repo, started_at=T0)
    patched = client.patch(sessions_url(repo, session.pk), {"notes": "n"}, headers=auth_headers)
    assert patched["ETag"] == client.get(sessions_url(repo, session.pk), headers=auth_headers)["ETag"]


WRITES = {
    "patch": lambda client, url, headers: client.patch(url, {"notes": "changed"}, headers=headers),
    "delete": lambda client, url, headers: client.delete(url, headers=headers),
    "stop": lambda client, url, headers: client.post(f"{url}/stop", {"notes": "changed"}, headers=headers),
    "commits": lambda client, url, headers: client.post(f"{url}/commits", {"commits": [C1]}, headers=headers),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_stale_if_match_is_412_and_changes_nothing(client, auth_headers, repo, write):
    session = make_session(repo, started_at=T0, notes="original")
    url = sessions_url(repo, session.pk)
    stale = client.get(url, headers=auth_headers)["ETag"]
    client.patch(url, {"intent": "someone else's edit"}, headers=auth_headers)  # the session moves on
    before = as_stored(session)

    refused = WRITES[write](client, url, {**auth_headers, "If-Match": stale})

    assert refused.status_code == 412
    assert "detail" in refused.json()
    assert as_stored(session) == before
    assert Session.objects.filter(pk=session.pk).exists()


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("header", ["current", "*", "list"])
def test_a_matching_if_match_lets_the_write_through(client, auth_headers, repo, write, header):
    session = make_session(repo, started_at=T0, notes="original")
    url = sessions_url(repo, session.pk)
    tag = client.get(url, headers=auth_headers)["ETag"]
    value = {"current": tag, "*": "*", "list": f'"old", {tag}'}[header]

    done = WRITES[write](client, url, {**auth_headers, "If-Match": value})

    assert done.status_code in (200, 204)
    row = Session.objects.filter(pk=session.pk).first()
    if write == "delete":
        assert row is None
    elif write == "commits":
        assert row.commits == [C1]
    else:
        assert row.notes == "changed"
        assert row.is_active is (write != "stop")


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("value", ["W/{tag}", "{bare}", "garbage"])
def test_a_weak_or_malformed_if_match_never_matches(client, auth_headers, repo, write, value):
    session = make_session(repo, started_at=T0)
    url = sessions_url(repo, session.pk)
    tag = client.get(url, headers=auth_headers)["ETag"]
    header = value.format(tag=tag, bare=tag.strip('"'))
    before = as_stored(session)

    assert WRITES[write](client, url, {**auth_headers, "If-Match": header}).status_code == 412
    assert as_stored(session) == before


@pytest.mark.parametrize("write", WRITES)
def test_a_missing_session_is_404_not_412(client, auth_headers, repo, write):
    url = sessions_url(repo, "f" * 64)
    assert WRITES[write](client, url, {**auth_headers, "If-Match": '"stale"'}).status_code == 404
    assert WRITES[write](client, url, {**auth_headers, "If-Match": "*"}).status_code == 404


def test_stop_of_a_stopped_session_with_its_tag_is_still_idempotent(client, auth_headers, repo):
    session = make_session(repo, started_at=T0, ended_at=T0 + timedelta(hours=1))
    url = sessions_url(repo, session.pk)
    tag = client.get(url, headers=auth_headers)["ETag"]
    again = client.post(f"{url}/stop", {}, headers={**auth_headers, "If-Match": tag})
    assert again.status_code == 200
    assert again.json()["endedAt"] == "2026-03-01T13:00:00Z"
    assert again["ETag"] == tag


def test_stop_current_honours_if_match(client, auth_headers, repo):
    session = make_session(repo, started_at=T0)
    url = sessions_url(repo, "current")
    assert client.post(f"{url}/stop", {}, headers={**auth_headers, "If-Match": '"stale"'}).status_code == 412
    assert Session.objects.get(pk=session.pk).is_active
    tag = client.get(url, headers=auth_headers)["ETag"]
    assert client.post(f"{url}/stop", {}, headers={**auth_headers, "If-Match": tag}).status_code == 200
    assert not Session.objects.get(pk=session.pk).is_active


def test_errors_carry_no_etag(client, auth_headers, repo):
    missing = client.get(sessions_url(repo, "f" * 64), headers=auth_headers)
    assert missing.status_code == 404
    assert "ETag" not in missing
