"""The OpenAPI schema documents every status each operation can answer (SPEC "Limits added").

Two walks of ``/api/schema/``:
- what applies to each operation, derived from the operation itself (its method, whether
  it takes a body, its path parameters, whether it needs a token), must be documented;
- each operation is then sent the requests that provoke the statuses every operation can
  answer (a method the path does not have, a bad token, an Accept it cannot satisfy, a
  NUL in the query, a bad or oversized body, a rate limit reached, the database gone), and
  each status it really answers must be among those it documents.
"""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError

from musehub.api import throttling
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token
from tests.musehub.conftest import HTTP_METHODS, operations

pytestmark = pytest.mark.django_db

#: Any API operation: the middleware, authentication, negotiation and throttling run before its view.
ANY_OPERATION = {400, 401, 405, 406, 413, 422, 429, 503}
#: Every error status the API has; anything else documented (a 500) would be a mistake.
KNOWN_ERRORS = {400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 429, 503}


def statuses_that_apply(path: str, method: str, operation: dict) -> set[int]:
    """What this operation can answer, from what it is."""
    expected = set(ANY_OPERATION)
    if "requestBody" in operation:
        expected.add(415)  # a body that is not JSON
    if "{" in path:
        expected.add(404)  # an id that names nothing (or a private repo the caller may not see)
    needs_token = {} not in operation["security"]
    # GET .../sessions/current needs a token to know whose session, not for a role: a
    # caller who can see the repo may read it (and has none: 404).
    role_read = needs_token and not path.endswith("/sessions/current")
    if "{repoId}" in path and (method != "get" or role_read):
        expected.add(403)  # signed in, but without the role this needs on a repo it can see
    if "201" in operation["responses"] or (path == "/api/repos/{repoId}" and method == "patch"):
        expected.add(409)  # a slug taken, a retried create that differs
    if "/sessions/{sessionId}" in path and method != "get":
        expected.add(412)  # If-Match that no longer matches the session
    return expected


def test_every_operation_documents_the_statuses_that_apply_to_it(schema):
    missing, unknown = {}, {}
    for path, method, operation in operations(schema):
        documented = {int(code) for code in operation["responses"]}
        if lacking := statuses_that_apply(path, method, operation) - documented:
            missing[f"{method.upper()} {path}"] = sorted(lacking)
        if odd := {code for code in documented if code >= 400} - KNOWN_ERRORS:
            unknown[f"{method.upper()} {path}"] = sorted(odd)
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                assert response["description"], (method, path, code)
    assert missing == {}
    assert unknown == {}


def test_the_walk_sees_each_kind_of_operation(schema):
    """Guards the walk above against passing vacuously."""
    kinds = {
        code
        for path, method, operation in operations(schema)
        for code in statuses_that_apply(path, method, operation) - ANY_OPERATION
    }
    assert kinds == {403, 404, 409, 412, 415}
    assert len(list(operations(schema))) >= 15


def test_session_writes_document_412_and_reads_do_not(schema):
    session = schema["paths"]["/api/repos/{repoId}/sessions/{sessionId}"]
    for method in ("patch", "delete"):
        assert "412" in session[method]["responses"], method
    for action in ("stop", "commits"):
        assert "412" in schema["paths"][f"/api/repos/{{repoId}}/sessions/{{sessionId}}/{action}"]["post"]["responses"]
    assert "412" not in session["get"]["responses"]


# ── what the API really answers ──────────────────────────────────────────────
@pytest.fixture
def world(db, settings):
    from events_app.services import hook_create, hook_ping

    owner = UserFactory(username="schemaowner")
    UserFactory(username="friend")
    repo = make_repo(owner=owner, visibility="public")
    session = make_session(repo)
    settings.MUSEHUB_WEBHOOK_ALLOW_PRIVATE = True  # a receiver on loopback: nothing is sent here
    hook = hook_create(repo_id=repo.pk, url="http://127.0.0.1:9/hook", secret="s" * 20)
    delivery = hook_ping(hook=hook)
    return {
        "headers": auth_header(make_token(owner)),
        "values": {
            "repoId": repo.pk,
            "sessionId": session.pk,
            "username": "friend",
            "hookId": str(hook.pk),
            "deliveryId": str(delivery.pk),
        },
    }


def _url(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _send(client, method: str, url: str, *, body=b"{}", content_type="application/json", headers=None, meta=None):
    return client.generic(method.upper(), url, body, content_type=content_type, headers=headers or {}, **(meta or {}))


def provocations(schema, path: str, method: str, operation: dict):
    """(what, expected status, changes to a signed-in owner's request) for the statuses any
    operation can answer, plus those of a body where it takes one."""
    other = next(m for m in HTTP_METHODS if m not in schema["paths"][path])
    yield "a method the path does not have", 405, {"method": other}
    yield "an invalid token", 401, {"headers": {"Authorization": "Bearer not-a-token"}}
    yield "an Accept it cannot satisfy", 406, {"meta": {"HTTP_ACCEPT": "text/html"}}
    yield "a NUL in the query", 422, {"query": "?q=%00"}
    yield "a nonsensical Content-Length", 400, {"meta": {"CONTENT_LENGTH": "-1"}}
    yield "a body over 1 MiB", 413, {"body": b"x" * (1024 * 1024 + 1)}
    if "requestBody" in operation:
        yield "a body that is not JSON", 415, {"body": b"notes", "content_type": "text/plain"}
        yield "JSON that does not parse", 400, {"body": b'{"notes": '}


def test_what_each_operation_answers_is_documented(schema, world, client):
    unexpected, undocumented = [], []
    for path, method, operation in operations(schema):
        documented = {int(code) for code in operation["responses"]}
        url = _url(path, world["values"])
        for what, expected, change in provocations(schema, path, method, operation):
            response = _send(
                client,
                change.get("method", method),
                url + change.get("query", ""),
                body=change.get("body", b"{}"),
                content_type=change.get("content_type", "application/json"),
                headers=change.get("headers", world["headers"]),
                meta=change.get("meta"),
            )
            label = f"{method.upper()} {path}: {what}"
            if response.status_code != expected:
                unexpected.append((label, response.status_code, response.content[:200]))
            elif response.status_code not in documented:
                undocumented.append((label, response.status_code))
    assert unexpected == []
    assert undocumented == []


def test_a_reached_rate_limit_and_an_unreachable_database_are_documented(
    schema, world, client, monkeypatch, throttle_clock
):
    """429 and 503, from every operation, as the caller sees them."""
    responses = {}
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"anon": "1/min", "user": "1/min"})
    # The throttles' clock is pinned (``throttle_clock``): both requests fall in one minute.
    for path, method, _ in operations(schema):
        url = _url(path, world["values"])
        # Each operation's first request may pass; the user's budget is long spent by the second.
        _send(client, method, url, headers=world["headers"])
        limited = _send(client, method, url, headers=world["headers"])
        responses[(path, method, "rate limit reached")] = limited
    monkeypatch.undo()

    def database_down(*args, **kwargs):
        raise OperationalError("connection refused")

    # The database goes away just after the caller's token was read, as the throttle
    # counts the request (its counters are in the database unless REDIS_URL is set).
    monkeypatch.setattr(throttling.WindowCountMixin, "allow_request", database_down)
    for path, method, _ in operations(schema):
        url = _url(path, world["values"])
        responses[(path, method, "database unreachable")] = _send(client, method, url, headers=world["headers"])

    for (path, method, what), response in responses.items():
        documented = {int(code) for code in schema["paths"][path][method]["responses"]}
        expected = 429 if what == "rate limit reached" else 503
        assert response.status_code == expected, (method, path, what, response.content[:200])
        assert int(response["Retry-After"]) > 0, (method, path, what)
        assert json.loads(response.content)["detail"]
        assert response.status_code in documented, (method, path, what)
