"""OpenAPI pieces shared by the views: the error body, error responses, the auth scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


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


LIST_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1 to 200 (default 50)."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="nextCursor of the previous page (opaque)."),
]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>``."""

    target_class = "musehub.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
