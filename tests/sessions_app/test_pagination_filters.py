"""``GET /repos/{repoId}/sessions``: keyset pages, the Link header, filters and totals."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app.models import Session
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def list_url(repo, **params) -> str:
    query = urlencode(params)
    return f"/api/repos/{repo.repo_id}/sessions" + (f"?{query}" if query else "")


def ids(resp) -> list[str]:
    return [s["sessionId"] for s in resp.json()["sessions"]]


def newest_first(repo) -> list[str]:
    """Every session of ``repo`` in the API's order, straight from the database."""
    return list(
        Session.objects.filter(repo=repo).order_by("-started_at", "-session_id").values_list("session_id", flat=True)
    )


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ── limit ─────────────────────────────────────────────────────────────────────
class TestLimit:
    def test_default_limit_is_50(self, client, repo):
        for n in range(51):
            make_session(repo, started_at=T0 + timedelta(minutes=n))
        data = client.get(list_url(repo)).json()
        assert len(data["sessions"]) == 50
        assert data["total"] == 51
        assert data["nextCursor"] is not None

    @pytest.mark.parametrize("limit", ["1", "200"])
    def test_limit_bounds_are_accepted(self, client, repo, limit):
        make_session(repo, started_at=T0)
        make_session(repo, started_at=T0 + timedelta(minutes=1))
        resp = client.get(list_url(repo, limit=limit))
        assert resp.status_code == 200
        assert len(resp.json()["sessions"]) == min(int(limit), 2)

    @pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "1e3", "1_0", " 5", "\uff19", "9" * 5000])
    def test_limit_out_of_range_or_not_an_integer_is_422(self, client, repo, limit):
        resp = client.get(list_url(repo, limit=limit))
        assert resp.status_code == 422
        body = resp.json()
        assert "limit" in body["errors"]
        assert "limit" in body["detail"]

    def test_limit_is_checked_on_private_repos_only_after_access(self, client, private_repo, outsider_headers):
        # An outsider learns nothing about a private repo, not even through a bad limit.
        resp = client.get(list_url(private_repo, limit="0"), headers=outsider_headers)
        assert resp.status_code == 404


# ── cursor and Link ───────────────────────────────────────────────────────────
class TestCursor:
    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage",
            "!!!!",
            "a" * 600,
            b64(b"not json"),
            b64(b'{"a": 1}'),
            b64(b"[1, 2]"),
            b64(b'["2025-06-01T12:00:00Z"]'),
            b64(b'["2025-06-01T12:00:00Z", 5]'),
            b64(b'["2025-13-45T12:00:00Z", "ab"]'),
            b64(b'["not a time", "ab"]'),
            b64(b'["0001-01-01T00:00:00+14:00", "ab"]'),
            b64(b'["2025-06-01T12:00:00Z", "a\\u0000b"]'),
            b64(b"\xff\xfe"),
        ],
    )
    def test_undecodable_cursor_is_422_naming_cursor(self, client, repo, cursor):
        make_session(repo, started_at=T0)
        resp = client.get(list_url(repo, cursor=cursor))
        assert resp.status_code == 422
        assert "cursor" in resp.json()["errors"]
        assert "cursor" in resp.json()["detail"]

    def test_empty_cursor_means_the_first_page(self, client, repo):
        make_session(repo, started_at=T0)
        resp = client.get(list_url(repo, cursor=""))
        assert resp.status_code == 200
        assert len(resp.json()["sessions"]) == 1

    def test_next_cursor_and_link_header_point_at_the_next_page(self, client, repo):
        for n in range(5):
            make_session(repo, started_at=T0 + timedelta(minutes=n), participants=["alice"])
        first = client.get(list_url(repo, limit=2, participant="alice"))
        cursor = first.json()["nextCursor"]
        assert cursor
        link = first.headers["Link"]
        match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', link)
        assert match, link
        url = urlsplit(match["url"])
        assert url.scheme == "http"
        assert url.path == f"/api/repos/{repo.repo_id}/sessions"
        query = parse_qs(url.query)
        # The link keeps the caller's page size and filters, and carries the cursor.
        assert query == {"limit": ["2"], "participant": ["alice"], "cursor": [cursor]}
        second = client.get(f"{url.path}?{url.query}")
        assert second.status_code == 200
        assert ids(second) == newest_first(repo)[2:4]

    def test_last_page_has_no_next_cursor_and_no_link(self, client, repo):
        for n in range(4):
            make_session(repo, started_at=T0 + timedelta(minutes=n))
        first = client.get(list_url(repo, limit=2)).json()
        last = client.get(list_url(repo, limit=2, cursor=first["nextCursor"]))
        assert len(last.json()["sessions"]) == 2
        assert last.json()["nextCursor"] is None
        assert "Link" not in last.headers

    def test_page_that_holds_everything_has_no_cursor(self, client, repo):
        make_session(repo, started_at=T0)
        resp = client.get(list_url(repo, limit=1))
        assert resp.json()["nextCursor"] is None
        assert "Link" not in resp.headers

    def test_cursor_walk_while_sessions_arrive(self, client, repo, auth_headers):
        """130 sessions, limit=50: 3 pages, each session once, in order, while new ones arrive.

        Most sessions share their startedAt with another author's: the order falls back to
        sessionId, and the cursor must not skip or repeat either of a tied pair. One single
        session on top puts both page boundaries (50, 100) inside a pair.
        """
        authors = [repo.owner, UserFactory(username="bandmate")]
        make_session(repo, started_at=T0 + timedelta(minutes=65))
        for n in range(1, 65):
            for author in authors:
                make_session(repo, author=author, started_at=T0 + timedelta(minutes=n))
        make_session(repo, started_at=T0)
        expected = newest_first(repo)
        assert len(expected) == 130
        starts = list(
            Session.objects.filter(repo=repo)
            .order_by("-started_at", "-session_id")
            .values_list("started_at", flat=True)
        )
        assert starts[49] == starts[50]
        assert starts[99] == starts[100]

        seen: list[str] = []
        pages = 0
        cursor = None
        while True:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            resp = client.get(list_url(repo, **params))
            assert resp.status_code == 200
            pages += 1
            page = ids(resp)
            seen += page
            # Sessions arrive between page requests: newer ones (the CLI's own, just started)
            # and an older one whose start falls among the pages already read.
            new = client.post(list_url(repo), {"intent": f"during page {pages}"}, headers=auth_headers)
            assert new.status_code == 201
            tied = client.post(
                list_url(repo),
                {"startedAt": (T0 + timedelta(minutes=65, seconds=-pages)).isoformat()},
                headers=auth_headers,
            )
            assert tied.status_code == 201
            cursor = resp.json()["nextCursor"]
            if cursor is None:
                break
            assert len(page) == 50
        assert pages == 3
        assert seen == expected
        assert len(set(seen)) == 130

    def test_cursor_survives_the_deletion_of_the_last_seen_session(self, client, repo, auth_headers):
        for n in range(6):
            make_session(repo, started_at=T0 + timedelta(minutes=n))
        expected = newest_first(repo)
        first = client.get(list_url(repo, limit=3)).json()
        client.delete(f"/api/repos/{repo.repo_id}/sessions/{expected[2]}", headers=auth_headers)
        second = client.get(list_url(repo, limit=3, cursor=first["nextCursor"]))
        assert ids(second) == expected[3:]


# ── filters ───────────────────────────────────────────────────────────────────
@pytest.fixture
def mixed(repo):
    """Five sessions at T0 + 0..4 h: two active, various participants."""
    sessions = [
        make_session(repo, started_at=T0, participants=["alice", "bob"]),
        make_session(repo, started_at=T0 + timedelta(hours=1), participants=["Alice"]),
        make_session(repo, started_at=T0 + timedelta(hours=2), participants=["alice bob"]),
        make_session(repo, started_at=T0 + timedelta(hours=3), participants=["bob"]),
        make_session(repo, started_at=T0 + timedelta(hours=4), participants=[]),
    ]
    for session in sessions[:3]:
        Session.objects.filter(pk=session.pk).update(is_active=False, ended_at=session.started_at)
    return [s.session_id for s in sessions]


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"active": "true"}, [4, 3]),
            ({"active": "false"}, [2, 1, 0]),
            ({"active": "TRUE"}, [4, 3]),
            ({"active": "0"}, [2, 1, 0]),
            ({"participant": "alice"}, [0]),
            ({"participant": "Alice"}, [1]),
            ({"participant": "bob"}, [3, 0]),
            ({"participant": "ali"}, []),
            ({"participant": "alice bob"}, [2]),
            ({"startedAfter": "2025-06-01T13:00:00Z"}, [4, 3, 2]),
            ({"startedBefore": "2025-06-01T14:00:00Z"}, [1, 0]),
            ({"startedAfter": "2025-06-01T12:00:00Z", "startedBefore": "2025-06-01T16:00:00Z"}, [3, 2, 1]),
            ({"startedAfter": "2025-06-01T14:00:00+02:00"}, [4, 3, 2, 1]),
            ({"startedAfter": "2025-06-01T13:30:00"}, [4, 3, 2]),
            ({"active": "false", "participant": "bob"}, [0]),
            ({"active": "true", "startedBefore": "2025-06-01T16:00:00Z"}, [3]),
            ({"active": "", "participant": ""}, [4, 3, 2, 1, 0]),
        ],
    )
    def test_filter_selects_sessions_and_total_counts_them(self, client, repo, mixed, params, expected):
        resp = client.get(list_url(repo, **params))
        assert resp.status_code == 200
        assert ids(resp) == [mixed[i] for i in expected]
        assert resp.json()["total"] == len(expected)

    @pytest.mark.parametrize(("active", "expected"), [("false", 3), ("true", 2)])
    def test_total_of_a_partial_active_page_counts_every_match(self, client, repo, mixed, active, expected):
        # A page short of the total: the total is counted (ended ones as the kept count
        # less the active ones), not taken from the page.
        resp = client.get(list_url(repo, active=active, limit=1))
        assert len(resp.json()["sessions"]) == 1
        assert resp.json()["total"] == expected

    def test_filtered_total_counts_beyond_the_page(self, client, repo, mixed):
        resp = client.get(list_url(repo, participant="bob", limit=1))
        assert len(resp.json()["sessions"]) == 1
        assert resp.json()["total"] == 2
        rest = client.get(list_url(repo, participant="bob", limit=1, cursor=resp.json()["nextCursor"]))
        assert ids(rest) == [mixed[0]]
        assert rest.json()["total"] == 2
        assert rest.json()["nextCursor"] is None

    def test_unfiltered_total_is_the_repo_session_count(self, client, repo, auth_headers):
        for _ in range(4):
            client.post(list_url(repo), {}, headers=auth_headers)
        victim = ids(client.get(list_url(repo)))[0]
        client.delete(f"/api/repos/{repo.repo_id}/sessions/{victim}", headers=auth_headers)
        listing = client.get(list_url(repo, limit=1)).json()
        assert listing["total"] == 3
        assert client.get(f"/api/repos/{repo.repo_id}").json()["sessionCount"] == 3
        assert Session.objects.filter(repo=repo).count() == 3

    def test_unfiltered_total_costs_no_count_query(self, client, repo):
        """A repo with a million sessions must not be counted on every page: the repo keeps it."""
        for n in range(3):
            make_session(repo, started_at=T0 + timedelta(minutes=n))
        first = client.get(list_url(repo, limit=1)).json()
        with CaptureQueriesContext(connection) as queries:
            resp = client.get(list_url(repo, limit=1, cursor=first["nextCursor"]))
        assert resp.json()["total"] == 3
        assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        # With a filter the total is counted: the kept count cannot know it.
        with CaptureQueriesContext(connection) as queries:
            resp = client.get(list_url(repo, limit=1, active="true"))
        assert resp.json()["total"] == 3
        assert [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"active": "maybe"}, "active"),
            ({"active": "yes"}, "active"),
            ({"startedAfter": "yesterday"}, "startedAfter"),
            ({"startedBefore": "2025-13-01T00:00:00Z"}, "startedBefore"),
            ({"startedAfter": "0001-01-01T00:00:00+14:00"}, "startedAfter"),
            ({"startedBefore": "9999-12-31T23:59:59-14:00"}, "startedBefore"),
            ({"participant": "x" * 101}, "participant"),
            ({"participant": "a\x00b"}, "participant"),
        ],
    )
    def test_bad_filter_value_is_422_naming_it(self, client, repo, mixed, params, field):
        resp = client.get(list_url(repo, **params))
        assert resp.status_code == 422
        assert field in resp.json()["errors"]
        assert field in resp.json()["detail"]

    def test_unknown_query_parameters_are_ignored(self, client, repo, mixed):
        resp = client.get(list_url(repo, colour="blue"))
        assert resp.status_code == 200
        assert resp.json()["total"] == 5
