"""OpenAPI pieces shared by the views: the error body, error responses, the auth scheme,
and the postprocessing hooks: path parameters in camelCase as SPEC names them
(``{repoId}``), the statuses and rate-limit headers of every operation, links from creates."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import BasePermission

from musehub.core.naming import camel


class ErrorSerializer(serializers.Serializer):
    """Every error: a ``detail`` string; a 422 also maps each bad field to its messages."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="422 only: camelCase field name -> messages.",
    )


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ERRORS_READ = {
    401: _error("Anonymous caller on a private repo, or an invalid token."),
    404: _error("No such repo or session, or a private repo the caller may not see."),
    422: _error("Invalid query parameter."),
    429: _error("Too many requests; see Retry-After."),
    503: _error("Database unavailable; see Retry-After."),
}
ERRORS_WRITE = {
    400: _error("Unparseable JSON."),
    401: _error("No token, or an invalid one."),
    403: _error("The caller may read the repo but not write to it."),
    404: _error("No such repo or session, or a private repo the caller may not see."),
    409: _error("Conflicts with what is stored."),
    413: _error("Body over 1 MiB."),
    415: _error("Body is not application/json."),
    422: _error("Invalid field; each one is named."),
    429: _error("Too many requests; see Retry-After."),
    503: _error("Database unavailable; see Retry-After."),
}


#: Reads only the owner and collaborators may make (who a repo is shared with).
ERRORS_MEMBERS_READ = {
    **ERRORS_READ,
    403: _error("Signed in, but neither the owner nor a collaborator of this public repo."),
}

#: A DELETE has no body: only the errors it can meet.
ERRORS_DELETE = {code: response for code, response in ERRORS_WRITE.items() if code not in (400, 409, 413, 415, 422)}


LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
        description="Page size, 1 to 200 (default 50); outside that range: 422.",
    ),
    OpenApiParameter(
        "cursor", OpenApiTypes.STR, description="nextCursor of the previous page (opaque); an undecodable one: 422."
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=[200],
        description='`<URL of the next page>; rel="next"`, present when nextCursor is not null.',
    ),
]


NOT_MODIFIED = {304: OpenApiResponse(description="If-None-Match holds the current ETag: no body.")}
IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description="Change only if the session's ETag is one of these (strong comparison; `*`: any). Else 412.",
)
IF_NONE_MATCH_PARAMETERS = [
    OpenApiParameter(
        "If-None-Match",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        description="ETags the client holds: 304 with no body when the current one is among them.",
    ),
    OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=[200, 304],
        description="Strong validator of this body: send it back in If-None-Match (or If-Match to change it).",
    ),
]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>``."""

    target_class = "musehub.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
        definition["description"] = "An API token: `Authorization: Bearer <token>` (`Token <token>` works too)."
        return definition

    def get_security_requirement(self, auto_schema):
        # A route whose permissions let an anonymous caller past the view (reads of public
        # repos) has optional auth: ``{}`` in OpenAPI terms. drf-spectacular only knows that
        # of AllowAny and IsAuthenticatedOrReadOnly, not of our repo predicates.
        if _anonymous_allowed(auto_schema.view):
            return [{self.name: []}, {}]
        return {self.name: []}


def _anonymous_allowed(view) -> bool:
    """No permission of ``view`` refuses a caller before it looks at the repo (``has_permission``)."""
    return all(type(perm).has_permission is BasePermission.has_permission for perm in view.get_permissions())


_PATH_PARAMETER = re.compile(r"{(\w+)}")


def camelize_path_parameters(result, generator, request, public):
    """drf-spectacular postprocessing hook: ``{repo_id}`` -> ``{repoId}`` in paths and parameters.

    The URL patterns' kwargs are snake_case (they are Python names); the API shows camelCase.
    """
    paths = {}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path":
                    parameter["name"] = camel(parameter["name"])
        paths[_camel_path(path)] = operations
    result["paths"] = paths
    return result


def _camel_path(path: str) -> str:
    return _PATH_PARAMETER.sub(lambda match: "{" + camel(match[1]) + "}", path)


#: 412 where a session write takes ``If-Match`` (SPEC "Conditional requests").
ERRORS_IF_MATCH = {412: _error("If-Match does not match the session as it is now; nothing changed.")}

#: What any API operation can answer, whatever its view: the middleware, authentication,
#: content negotiation and throttling run before it, and the database may be out of reach.
_ANY_OPERATION = {
    400: "Malformed request: an invalid Content-Length, or a body that is not JSON.",
    401: "An invalid or revoked token (on any route), or no token where one is needed.",
    405: "Method not allowed on this path.",
    406: "The Accept header excludes application/json.",
    413: "Body over 1 MiB.",
    422: "Invalid input; each offending field or parameter is named (a NUL byte anywhere in the query, on any route).",
    429: "Too many requests; see Retry-After.",
    503: "Database unavailable or too slow to answer; see Retry-After.",
}
#: ... and any operation that takes a body: the parser's refusal.
_BODY_OPERATION = {415: "Body is not application/json."}


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: the statuses every operation can answer.

    The views document what their own rules answer (403, 404, 409, 412, ...); what comes
    from the layers around every view is added here once, so no operation can miss it
    (the OpenAPI test walks the schema for both).
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            common = {**_ANY_OPERATION, **(_BODY_OPERATION if "requestBody" in operation else {})}
            responses = operation.setdefault("responses", {})
            for status_code, description in common.items():
                responses.setdefault(str(status_code), {"content": error, "description": description})
            operation["responses"] = dict(sorted(responses.items()))
    return result


#: ``RateLimitHeadersMiddleware``'s headers (musehub/api/throttling.py), under ``components.headers``.
_RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed per window by the rate limit closest to running out.",
    "X-RateLimit-Remaining": "Requests left in its current window.",
    "X-RateLimit-Reset": "When that window ends, in Unix seconds.",
}


def document_rate_limit_headers(result, generator, request, public):
    """drf-spectacular postprocessing hook: ``X-RateLimit-*`` on every response of every
    operation a throttle counts (SPEC: every throttled response has them).

    Errors included: whatever the throttles counted carries them, a 429 too. They are not
    ``required``: a request refused before the throttles count it (a body over 1 MiB, a
    permission check) has none. Runs after ``document_common_errors``, whose statuses get
    them as well.
    """
    throttled = {
        (_camel_path(path), method.lower())
        for path, _, method, callback in generator.endpoints
        if generator.create_view(callback, method).get_throttles()
    }
    if not throttled:
        return result
    components = result.setdefault("components", {}).setdefault("headers", {})
    for name, description in _RATE_LIMIT_HEADERS.items():
        components[name] = {"schema": {"type": "integer"}, "description": description}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if (path, method) not in throttled:
                continue
            for response in operation.get("responses", {}).values():
                headers = response.setdefault("headers", {})
                for name in _RATE_LIMIT_HEADERS:
                    headers[name] = {"$ref": f"#/components/headers/{name}"}
    return result


def link_created_resources(result, generator, request, public):
    """drf-spectacular postprocessing hook: OpenAPI links from each create to what it created.

    A ``201`` of ``POST /a/{x}/items`` whose body holds ``itemId`` links to every operation
    under ``/a/{x}/items/{itemId}``, with ``itemId`` taken from the response body and the other
    path parameters from the request. Clients (and schemathesis's stateful phase) follow
    them: create a session, then get, stop, edit or delete that very session.
    """
    paths = result.get("paths", {})
    for path, operations in paths.items():
        create = operations.get("post")
        created = (create or {}).get("responses", {}).get("201")
        if not created:
            continue
        schema = _resolve(result, created.get("content", {}).get("application/json", {}).get("schema", {}))
        links = {}
        for name in schema.get("properties", {}):
            prefix = f"{path}/{{{name}}}"
            for target_path, targets in paths.items():
                if target_path != prefix and not target_path.startswith(prefix + "/"):
                    continue
                parameters = _PATH_PARAMETER.findall(target_path)
                if not set(parameters) <= {name, *_PATH_PARAMETER.findall(path)}:
                    continue  # a parameter neither the request nor the response gives
                for target in targets.values():
                    links[target["operationId"]] = {
                        "operationId": target["operationId"],
                        "parameters": {
                            param: f"$response.body#/{name}" if param == name else f"$request.path.{param}"
                            for param in parameters
                        },
                    }
        if links:
            for status_code in ("201", "200"):
                if status_code in create["responses"]:
                    create["responses"][status_code]["links"] = links
    return result


def _resolve(document: dict, schema: dict) -> dict:
    """A ``$ref`` to ``#/components/schemas/...`` replaced by what it names."""
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema
