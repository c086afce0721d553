"""Hostile input: every route with a body or a query answers 4xx, never 500 (SPEC "Errors").

Each case asserts what a client sees: the status, a JSON body with a ``detail`` string and,
for a 422, every offending field named in camelCase under ``errors``.

Chunked bodies: a request without ``Content-Length`` whose body (``Transfer-Encoding:
chunked``) runs over 1 MiB is answered **413**, the same as one that declares its length:
the parser reads at most 1 MiB + 1 byte and stops. (gunicorn de-chunks the body before
Django sees it; we never demand a length, so 411 is never sent.)
"""

from __future__ import annotations

import io
import json

import pytest

from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db

HEX = "a" * 64
ONE_MIB = 1024 * 1024


# ── helpers ───────────────────────────────────────────────────────────────────
def _json(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("detail"), str), body
    assert body["detail"], body
    return body


def assert_422(response, *fields: str) -> dict:
    assert response.status_code == 422, (response.status_code, response.content[:500])
    body = _json(response)
    for field in fields:
        assert field in body["errors"], (field, body)
        assert field in body["detail"], (field, body)
        assert all(isinstance(m, str) and m for m in body["errors"][field])
    return body


def send(client, method: str, url: str, body, headers=None, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return getattr(client, method.lower())(url, data=data, content_type=content_type, headers=headers or {})


@pytest.fixture
def session(repo):
    return make_session(repo)


@pytest.fixture
def routes(repo, session):
    """Every route that takes a JSON body: (method, url, a valid body)."""
    base = f"/api/repos/{repo.pk}"
    sid = f"{base}/sessions/{session.pk}"
    UserFactory(username="friend")
    return {
        "repo-create": ("POST", "/api/repos", {"name": "fresh-repo"}),
        "repo-patch": ("PATCH", base, {"description": "d"}),
        "collab-put": ("PUT", f"{base}/collaborators/friend", {"permission": "read"}),
        "session-create": ("POST", f"{base}/sessions", {"intent": "x"}),
        "session-patch": ("PATCH", sid, {"notes": "n"}),
        "session-stop": ("POST", f"{sid}/stop", {"notes": "n"}),
        "session-commits": ("POST", f"{sid}/commits", {"commits": [HEX]}),
    }


# ── 422: wrong types, bounds, NUL bytes, bad ids ─────────────────────────────
# (route, body, fields that must be named)
BAD_BODIES = [
    ("repo-create", {"name": 123}, ["name"]),
    ("repo-create", {"name": "x" * 101}, ["name"]),
    ("repo-create", {"name": "a\x00b"}, ["name"]),
    ("repo-create", {"name": "ok", "visibility": "secret", "description": ["x"]}, ["visibility", "description"]),
    ("repo-create", {"name": "ok", "description": "x" * 10_001}, ["description"]),
    ("repo-create", {"name": "ok", "description": "\x00"}, ["description"]),
    ("repo-create", {}, ["name"]),
    ("repo-patch", {"name": None, "visibility": 1, "description": {"a": 1}}, ["name", "visibility", "description"]),
    ("repo-patch", {"name": "n\x00"}, ["name"]),
    ("collab-put", {"permission": "admin"}, ["permission"]),
    ("collab-put", {"permission": ["read"]}, ["permission"]),
    ("collab-put", {"permission": "read\x00"}, ["permission"]),
    (
        "session-create",
        {
            "startedAt": 5,
            "endedAt": "yesterday",
            "participants": "alice",
            "intent": 1,
            "location": False,
            "notes": [],
            "commits": "abc",
            "isActive": "maybe",
        },
        ["startedAt", "endedAt", "participants", "intent", "location", "notes", "commits", "isActive"],
    ),
    ("session-create", {"participants": [f"p{i}" for i in range(101)]}, ["participants"]),
    ("session-create", {"participants": ["x" * 101]}, ["participants"]),
    ("session-create", {"participants": [""]}, ["participants"]),
    ("session-create", {"participants": ["ok", 7]}, ["participants"]),
    ("session-create", {"participants": ["al\x00ice"]}, ["participants"]),
    ("session-create", {"location": "x" * 256}, ["location"]),
    ("session-create", {"intent": "x" * 10_001, "notes": "x" * 10_001}, ["intent", "notes"]),
    ("session-create", {"intent": "\x00", "location": "a\x00", "notes": "\x00b"}, ["intent", "location", "notes"]),
    ("session-create", {"intent": "\ud800", "participants": ["a\udfffb"]}, ["intent", "participants"]),
    ("session-patch", {"location": "\udbff", "notes": "ok \ud800"}, ["location", "notes"]),
    ("session-stop", {"notes": "\udc00"}, ["notes"]),
    ("repo-create", {"name": "a\ud800b", "description": "\ud800"}, ["name", "description"]),
    ("session-create", {"commits": ["A" * 64]}, ["commits"]),
    ("session-create", {"commits": ["a" * 63]}, ["commits"]),
    ("session-create", {"commits": ["g" * 64]}, ["commits"]),
    ("session-create", {"commits": [HEX + "\x00"]}, ["commits"]),
    ("session-create", {"commits": [HEX + "\n"]}, ["commits"]),
    ("session-create", {"commits": [None]}, ["commits"]),
    ("session-create", {"commits": [f"{i:064x}" for i in range(10_001)]}, ["commits"]),
    ("session-create", {"startedAt": "2025-13-45T99:00:00Z"}, ["startedAt"]),
    ("session-create", {"startedAt": "9999-12-31T23:59:59-23:59"}, ["startedAt"]),
    ("session-create", {"startedAt": "2025-06-01T12:00:00\x00Z"}, ["startedAt"]),
    ("session-create", {"startedAt": "2025-06-01T12:00:00Z", "endedAt": "2025-06-01T11:00:00Z"}, ["endedAt"]),
    ("session-create", {"endedAt": "2099-06-01T11:00:00Z", "isActive": True}, ["isActive"]),
    ("session-patch", {"intent": 1, "participants": [None], "commits": [1]}, ["intent", "participants", "commits"]),
    ("session-patch", {"location": "x" * 256, "notes": "\x00"}, ["location", "notes"]),
    ("session-stop", {"endedAt": "1999-01-01T00:00:00Z"}, ["endedAt"]),
    ("session-stop", {"endedAt": [], "notes": 5}, ["endedAt", "notes"]),
    ("session-stop", {"notes": "x" * 10_001}, ["notes"]),
    ("session-commits", {"commits": None}, ["commits"]),
    ("session-commits", {}, ["commits"]),
    ("session-commits", {"commits": {"a": HEX}}, ["commits"]),
    ("session-commits", {"commits": [HEX, "nope"]}, ["commits"]),
]


@pytest.mark.parametrize(
    ("route", "body", "fields"), BAD_BODIES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BAD_BODIES)]
)
def test_bad_body_is_422_naming_each_field(client, auth_headers, routes, route, body, fields):
    method, url, _ = routes[route]
    assert_422(send(client, method, url, body, auth_headers), *fields)


def test_nul_in_a_key_is_ignored_like_any_unknown_field(client, auth_headers, routes):
    method, url, _ = routes["session-create"]
    response = send(client, method, url, {"int\x00ent": "x", "intent": "ok"}, auth_headers)
    assert response.status_code == 201
    assert response.json()["intent"] == "ok"


def test_body_that_is_not_an_object_is_422(client, auth_headers, routes):
    for method, url, _ in routes.values():
        for body in ([1, 2], "a string", 3, None, True):
            response = send(client, method, url, json.dumps(body), auth_headers)
            assert response.status_code == 422, (method, url, body, response.status_code, response.content[:300])
            _json(response)


def test_valid_bodies_still_pass(client, auth_headers, routes):
    """The fixtures above are honest: the same routes accept a good body."""
    for name, (method, url, body) in routes.items():
        response = send(client, method, url, body, auth_headers)
        assert response.status_code in (200, 201), (name, response.status_code, response.content[:300])


# ── 400 / 415 / 413 ───────────────────────────────────────────────────────────
UNPARSEABLE = [
    "{",
    '{"intent": "x",}',
    "{'intent': 'x'}",
    "NaN-ish",
    '{"a": ' * 100_000,
    "[" * 200_000,
    b"\xff\xfe\x00{",
    '{"intent": "x", "isActive": NaN}',
    '{"participants": [Infinity]}',
    '{"intent": "x"} trailing',
]


@pytest.mark.parametrize("raw", UNPARSEABLE, ids=range(len(UNPARSEABLE)))
def test_unparseable_json_is_400(client, auth_headers, routes, raw):
    for method, url, _ in routes.values():
        response = send(client, method, url, raw, auth_headers)
        assert response.status_code == 400, (method, url, response.status_code, response.content[:300])
        assert "JSON" in _json(response)["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xx", "application/xml"],
)
def test_wrong_content_type_is_415(client, auth_headers, routes, content_type):
    for method, url, body in routes.values():
        response = send(client, method, url, json.dumps(body), auth_headers, content_type=content_type)
        assert response.status_code == 415, (method, url, response.status_code, response.content[:300])
        assert content_type.split(";")[0] in _json(response)["detail"]


def test_body_over_one_mib_is_413(client, auth_headers, routes):
    big = json.dumps({"notes": "x" * ONE_MIB})
    for method, url, _ in routes.values():
        response = send(client, method, url, big, auth_headers)
        assert response.status_code == 413, (method, url, response.status_code)
        assert "1 MiB" in _json(response)["detail"]


def test_body_just_under_the_limit_is_not_413(client, auth_headers, routes):
    """A body under 1 MiB is parsed; here its notes are too long, a 422."""
    method, url, _ = routes["session-stop"]
    body = json.dumps({"notes": "x" * (ONE_MIB - 100)})
    assert len(body) < ONE_MIB
    assert_422(send(client, method, url, body, auth_headers), "notes")


def test_oversized_body_is_413_before_authentication(client, repo):
    """No token needed to be refused: the size is checked before anything else."""
    response = send(client, "POST", f"/api/repos/{repo.pk}/sessions", "x" * (ONE_MIB + 1))
    assert response.status_code == 413
    _json(response)


def _chunked(client, method, url, payload: bytes, headers):
    """A request whose body has no Content-Length (as gunicorn passes a chunked body on)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": url,
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(payload),
        "HTTP_TRANSFER_ENCODING": "chunked",
        **{"HTTP_" + key.upper().replace("-", "_"): value for key, value in headers.items()},
    }
    return client.request(**environ)


def test_chunked_body_over_one_mib_is_413(client, auth_headers, routes):
    payload = json.dumps({"notes": "x" * (2 * ONE_MIB)}).encode()
    for method, url, _ in routes.values():
        response = _chunked(client, method, url, payload, auth_headers)
        assert response.status_code == 413, (method, url, response.status_code, response.content[:300])
        _json(response)


def test_chunked_small_body_is_read(client, auth_headers, routes):
    method, url, _ = routes["session-create"]
    response = _chunked(client, method, url, json.dumps({"intent": "chunked"}).encode(), auth_headers)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["intent"] == "chunked"


def test_bad_content_length_is_400(client, auth_headers, routes):
    method, url, _ = routes["session-create"]
    for value in ("abc", "-5", "1e3", "99999999999999999999999999"):
        response = client.generic(
            method, url, b"{}", content_type="application/json", headers=auth_headers, CONTENT_LENGTH=value
        )
        assert response.status_code in (400, 413), (value, response.status_code)
        _json(response)


# ── 405 ───────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("method", ["PUT", "TRACE", "BREW", "POST", "PATCH", "DELETE"])
def test_unknown_method_is_405_json(client, auth_headers, routes, method):
    urls = {
        "PUT": routes["session-create"][1],
        "TRACE": routes["repo-patch"][1],
        "BREW": routes["session-patch"][1],
        "POST": routes["session-patch"][1],
        "PATCH": routes["session-stop"][1],
        "DELETE": routes["session-commits"][1],
    }
    response = client.generic(method, urls[method], b'{"a": 1}', content_type="application/json", headers=auth_headers)
    assert response.status_code == 405, (method, response.status_code, response.content[:300])
    assert method in _json(response)["detail"]
    assert "Allow" in response


# ── absurd query values ───────────────────────────────────────────────────────
ABSURD_QUERIES = [
    ({"limit": "1e309"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"limit": "9" * 5000}, "limit"),
    ({"limit": "NaN"}, "limit"),
    ({"limit": "\x00"}, "limit"),
    ({"limit": "１０"}, "limit"),  # full-width digits: int() accepts them, we do not
    ({"cursor": "A" * 5000}, "cursor"),
    ({"cursor": "%%%"}, "cursor"),
    ({"cursor": "\x00"}, "cursor"),
    ({"cursor": "WyJ4IiwxXQ"}, "cursor"),  # ["x",1]
    ({"cursor": "WyIyMDI1LTAxLTAxVDAwOjAwOjAwWiJd"}, "cursor"),  # one key only
    ({"cursor": "bnVsbA"}, "cursor"),  # null
]
SESSION_QUERIES = [
    ({"participant": "al\x00ice"}, "participant"),
    ({"participant": "x" * 5000}, "participant"),
    ({"active": "maybe"}, "active"),
    ({"active": "\x00"}, "active"),
    ({"startedAfter": "not-a-time"}, "startedAfter"),
    ({"startedBefore": "99999-01-01T00:00:00Z"}, "startedBefore"),
    ({"startedAfter": "2025-01-01T00:00:00\x00Z"}, "startedAfter"),
    ({"startedBefore": "9999-12-31T23:59:59-23:59"}, "startedBefore"),
]


@pytest.mark.parametrize(("query", "field"), ABSURD_QUERIES + SESSION_QUERIES)
def test_absurd_session_query_is_422(client, repo, query, field):
    make_session(repo, participants=["alice"])
    response = client.get(f"/api/repos/{repo.pk}/sessions", query)
    assert_422(response, field)


@pytest.mark.parametrize(
    ("query", "field"), [*ABSURD_QUERIES, ({"owner": "a\x00b"}, "owner"), ({"owner": "x" * 5000}, "owner")]
)
def test_absurd_repo_query_is_422(client, auth_headers, repo, query, field):
    response = client.get("/api/repos", query, headers=auth_headers)
    assert_422(response, field)


def test_query_with_raw_nul_and_bad_utf8_never_500(client, repo):
    """Percent-encoded garbage straight in the query string."""
    for qs in ("participant=%00", "limit=%FF%FE", "cursor=%C0%80", "active=%00&limit=%00"):
        response = client.get(f"/api/repos/{repo.pk}/sessions?{qs}")
        assert response.status_code == 422, (qs, response.status_code)
        _json(response)
    # Invalid UTF-8 decodes to U+FFFD (as Django decodes every query): a name nobody has.
    response = client.get(f"/api/repos/{repo.pk}/sessions?participant=%ED%A0%80")
    assert response.status_code == 200
    assert response.json()["sessions"] == []


def test_repeated_query_parameters_never_500(client, repo):
    response = client.get(f"/api/repos/{repo.pk}/sessions?limit=1&limit=abc&participant=a&participant=b")
    assert response.status_code in (200, 422)
    _json(response) if response.status_code == 422 else response.json()


# ── path and header garbage ───────────────────────────────────────────────────
def test_garbage_ids_in_the_path_are_404_json(client, auth_headers, repo):
    for path in (
        f"/api/repos/{'A' * 64}",
        f"/api/repos/{HEX}%00",
        f"/api/repos/{'a' * 5000}/sessions",
        f"/api/repos/{repo.pk}/sessions/{'z' * 64}",
        f"/api/repos/{repo.pk}/collaborators/{'u' * 5000}",
        "/api/%00",
    ):
        response = client.get(path, headers=auth_headers)
        assert response.status_code in (404, 405), (path, response.status_code)
        _json(response)


def test_collaborator_username_with_nul_is_4xx(client, auth_headers, repo):
    response = send(client, "PUT", f"/api/repos/{repo.pk}/collaborators/a%00b", {"permission": "read"}, auth_headers)
    assert 400 <= response.status_code < 500, response.status_code
    _json(response)


@pytest.mark.parametrize(
    "value",
    ["Bearer", "Bearer a b", "Bearer " + "x" * 5000, "Bearer \x00", "Basic Zm9vOmJhcg==", "Token " + "f" * 64],
)
def test_garbage_authorization_is_401_or_anonymous(client, repo, value):
    response = client.post(f"/api/repos/{repo.pk}/sessions", data={}, format="json", headers={"Authorization": value})
    assert response.status_code == 401, (value, response.status_code)
    assert "WWW-Authenticate" in response
    _json(response)


def test_wrong_type_in_nested_stream_is_read_no_further(client, auth_headers, routes):
    """A body smaller than its Content-Length claims is a 400, not a hang or a 500."""
    method, url, _ = routes["session-create"]
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": url,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "100",
        "wsgi.input": io.BytesIO(b'{"intent": "x"'),
        "HTTP_AUTHORIZATION": auth_headers["Authorization"],
    }
    response = client.request(**environ)
    assert response.status_code == 400, response.status_code
    _json(response)


# ── database errors in the middle of a request ───────────────────────────────
def test_database_unreachable_mid_request_is_503_with_retry_after(client, repo, session, monkeypatch):
    from django.db import OperationalError

    from sessions_app import selectors

    def unreachable(**kwargs):
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(selectors, "repo_and_session_get", unreachable)
    response = client.get(f"/api/repos/{repo.pk}/sessions/{session.pk}")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "database" in _json(response)["detail"].lower()


def test_a_value_the_database_refuses_is_422_not_500(client, auth_headers, repo, session, monkeypatch):
    """Last line of defence for input the validators missed (DataError)."""
    from django.db import DataError

    from sessions_app import services

    def refuse(**kwargs):
        raise DataError("value too long for type character varying(255)")

    monkeypatch.setattr(services, "session_update", refuse)
    response = send(client, "PATCH", f"/api/repos/{repo.pk}/sessions/{session.pk}", {"notes": "n"}, auth_headers)
    assert response.status_code == 422
    assert "cannot be stored" in _json(response)["detail"]
    # The request's transaction was rolled back; the session is as it was.
    session.refresh_from_db()
    assert session.notes != "n"
