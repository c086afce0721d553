"""The OpenAPI 3 document at ``/api/schema/`` and the interactive docs at ``/api/docs/``.

The schema is generated from the code, so these tests check what a client generator relies
on: it is valid OpenAPI, it lists every API route with the methods it answers, names are
camelCase as on the wire, the auth scheme and the error responses are there.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from musehub.core.naming import camel
from tests.musehub.conftest import HTTP_METHODS, operations

pytestmark = pytest.mark.django_db

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
#: Routes under /api/ that are not part of the API itself.
NOT_API = {"schema", "docs"}


def api_routes() -> dict[str, set[str]]:
    """Every URL pattern under ``/api/`` as ``{"/api/repos/{repoId}": {"get", ...}}``.

    Walks the resolver of ``musehub.urls`` (ROOT_URLCONF); path converters become
    ``{camelCaseName}`` as in the schema. The catch-all JSON 404 has no route of its own.
    """
    routes: dict[str, set[str]] = {}

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
                continue
            assert isinstance(entry, URLPattern)
            full = prefix + route
            if not full.startswith("api/") or entry.name in NOT_API or route in ("", "^"):
                continue
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + camel(m[1]) + "}", full)
            callback = entry.callback
            if hasattr(callback, "actions"):  # a ViewSet bound to {method: action}
                # DRF adds 'head' to this dict at the first GET it serves; HEAD is implicit.
                methods = set(callback.actions) - {"head"}
            else:
                view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
                methods = {m for m in HTTP_METHODS if hasattr(view_class, m)}
            routes.setdefault(path, set()).update(methods)

    walk(get_resolver().url_patterns, "")
    return routes


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_is_also_served_as_yaml(client):
    import yaml

    resp = client.get("/api/schema/")
    assert resp.status_code == 200
    assert yaml.safe_load(resp.content)["info"]["title"] == "MuseHub Sessions API"


def test_walk_finds_the_api_routes():
    # Guards the next test against passing vacuously.
    routes = api_routes()
    assert routes["/api/repos/{repoId}/sessions"] == {"get", "post"}
    assert routes["/api/repos/{repoId}/sessions/{sessionId}/stop"] == {"post"}
    assert len(routes) >= 8


def test_every_api_route_and_method_is_in_the_schema(schema):
    documented: dict[str, set[str]] = {}
    for path, method, _ in operations(schema):
        documented.setdefault(path, set()).add(method)
    assert documented == api_routes()


def test_every_operation_has_a_summary_and_a_success_response(schema):
    for path, method, operation in operations(schema):
        assert operation.get("summary"), (method, path)
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_names_are_camel_case(schema):
    for name, component in schema["components"]["schemas"].items():
        for prop in component.get("properties", {}):
            assert CAMEL.match(prop), f"{name}.{prop}"
        for prop in component.get("required", []):
            assert CAMEL.match(prop), f"{name} requires {prop}"
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] in ("path", "query"):
                assert CAMEL.match(parameter["name"]), (method, path, parameter["name"])
        for placeholder in re.findall(r"{(\w+)}", path):
            assert CAMEL.match(placeholder), path


def test_session_shapes_match_the_spec(schema):
    session = schema["components"]["schemas"]["Session"]["properties"]
    assert set(session) == {
        "sessionId",
        "repoId",
        "author",
        "startedAt",
        "endedAt",
        "durationSeconds",
        "participants",
        "commits",
        "notes",
        "intent",
        "location",
        "isActive",
        "createdAt",
        "tags",
    }
    tags = session["tags"]
    assert (tags["type"], tags["maxItems"], tags["items"]["pattern"]) == ("array", 20, "^[a-z0-9-]{1,40}$")
    create = schema["components"]["schemas"]["SessionCreateRequest"]["properties"]
    assert set(create) == {
        "startedAt",
        "endedAt",
        "participants",
        "intent",
        "location",
        "notes",
        "commits",
        "isActive",
        "tags",
    }
    assert set(schema["components"]["schemas"]["SessionStopRequest"]["properties"]) == {"endedAt", "notes"}
    patch = schema["components"]["schemas"]["PatchedSessionUpdateRequest"]["properties"]
    assert set(patch) == {"intent", "location", "notes", "participants", "commits", "tags"}
    assert set(schema["components"]["schemas"]["SessionCommitsRequest"]["properties"]) == {"commits"}


def test_list_routes_return_a_page_object_with_link_header(schema):
    listing = schema["paths"]["/api/repos/{repoId}/sessions"]["get"]
    ok = listing["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SessionList"}
    assert "Link" in ok["headers"]
    page = schema["components"]["schemas"]["SessionList"]["properties"]
    assert set(page) == {"sessions", "total", "nextCursor"}
    query = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert query == {"limit", "cursor", "active", "participant", "startedAfter", "startedBefore", "tag"}
    tag = next(p for p in listing["parameters"] if p["name"] == "tag")
    # Repeated, not comma-separated: OpenAPI's default for a query array (form, explode).
    assert tag.get("explode", True) is True, tag
    assert tag["schema"]["type"] == "array", tag
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 50)
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                # Every body is an object (a page wraps its list), never a bare array.
                assert media["schema"].get("type") != "array", (method, path, code)


def test_bearer_security_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    for path, method, operation in operations(schema):
        assert {"bearerAuth": []} in operation["security"], (method, path)
    # Writes need a token; reads of public repos do not (optional auth is ``{}``).
    assert {} not in schema["paths"]["/api/repos/{repoId}/sessions"]["post"]["security"]
    assert {} not in schema["paths"]["/api/repos/{repoId}/sessions/{sessionId}/stop"]["post"]["security"]
    assert {} in schema["paths"]["/api/repos/{repoId}/sessions"]["get"]["security"]
    assert {} in schema["paths"]["/api/repos/{repoId}/sessions/{sessionId}"]["get"]["security"]


def test_error_responses_are_documented(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert "401" in responses, (method, path)
        if "{repoId}" in path:
            assert "404" in responses, (method, path)
        if method != "delete":
            assert "422" in responses, (method, path)
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    create = schema["paths"]["/api/repos/{repoId}/sessions"]["post"]["responses"]
    assert {"200", "201", "409"} <= set(create)
    assert "204" in schema["paths"]["/api/repos/{repoId}/sessions/{sessionId}"]["delete"]["responses"]
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert set(error["properties"]) == {"detail", "errors"}


def test_docs_page_is_html_pointing_at_the_schema(client):
    resp = client.get("/api/docs/")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/html")
    body = resp.content.decode()
    assert "swagger-ui" in body.lower()
    assert "/api/schema/" in body


def test_docs_page_loads_swagger_ui_from_this_server(client):
    """No CDN: the docs work on a machine without internet access."""
    body = client.get("/api/docs/").content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', body)
    assert any("swagger-ui-bundle" in src for src in scripts), scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    for src in scripts:
        assert client.get(src).status_code == 200, src


def test_reports_and_conveniences_are_documented(schema):
    paths = schema["paths"]
    export = paths["/api/repos/{repoId}/sessions/export"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"text/csv", "text/calendar"}
    export_format = next(p for p in export["parameters"] if p["name"] == "format")
    assert (export_format["required"], export_format["schema"]["enum"]) == (True, ["csv", "ics"])
    query = {p["name"] for p in export["parameters"] if p["in"] == "query"}
    assert query == {"format", "active", "participant", "startedAfter", "startedBefore", "tag"}

    stats = paths["/api/repos/{repoId}/sessions/stats"]["get"]["responses"]["200"]
    body = schema["components"]["schemas"][stats["content"]["application/json"]["schema"]["$ref"].split("/")[-1]]
    assert set(body["properties"]) == {
        "sessions",
        "active",
        "totalSeconds",
        "commits",
        "participants",
        "locations",
        "byDay",
    }

    current = paths["/api/repos/{repoId}/sessions/current"]["get"]
    assert current["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Session"
    }
    assert {} not in current["security"]  # a token is needed to know whose session
    assert "412" in paths["/api/repos/{repoId}/sessions/current/stop"]["post"]["responses"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/repos/{repoId}/sessions",
        "/api/repos/{repoId}/sessions/{sessionId}",
        "/api/repos/{repoId}/sessions/current",
        "/api/repos/{repoId}/sessions/stats",
        "/api/repos/{repoId}",
    ],
)
def test_conditional_reads_document_etag_and_304(schema, path):
    operation = schema["paths"][path]["get"]
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert any(p["name"] == "If-None-Match" and p["in"] == "header" for p in operation["parameters"])


RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def test_every_response_of_the_api_documents_the_rate_limit_headers(schema):
    """Every API operation is throttled, and whatever a throttle counted carries the headers,
    errors included; a refusal before the throttles has none, so none is required."""
    headers = schema["components"]["headers"]
    for name in RATE_LIMIT_HEADERS:
        assert headers[name]["schema"] == {"type": "integer"}
        assert not headers[name].get("required", False)
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            for name in RATE_LIMIT_HEADERS:
                assert response["headers"][name] == {"$ref": f"#/components/headers/{name}"}, (method, path, code)


def test_an_operation_no_throttle_counts_documents_no_rate_limit_headers():
    """bench/urls.py serves the API beside views without throttles (the bench's references)."""
    document = SchemaGenerator(urlconf="bench.urls").get_schema(request=None, public=True)
    for response in document["paths"]["/bench/ping"]["get"]["responses"].values():
        assert not set(RATE_LIMIT_HEADERS) & set(response.get("headers", {}))
    sessions = document["paths"]["/api/repos/{repoId}/sessions"]["get"]["responses"]["200"]
    assert set(RATE_LIMIT_HEADERS) <= set(sessions["headers"])
