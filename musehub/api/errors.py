"""The one error format of the API: JSON with a ``detail`` string.

Validation failures are 422 and name every offending field in camelCase, both in
``detail`` and in ``errors`` (field -> messages).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from musehub.api.counters import CountersUnavailableError
from musehub.api.exceptions import Conflict, PreconditionFailed
from musehub.core.errors import ConflictError, NotFoundError, PreconditionFailedError, flatten_messages
from musehub.core.naming import camel

logger = logging.getLogger("musehub.api")

#: Seconds a client should wait before retrying when a store (the database, Redis) is unreachable.
RETRY_AFTER_SECONDS = 5


def validation_body(detail) -> dict:
    """``{"detail": "startedAt: ...; limit: ...", "errors": {"startedAt": [...]}}``."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail}
    errors = {camel(str(field)): flatten_messages(messages) for field, messages in detail.items()}
    parts = []
    for field, messages in errors.items():
        text = " ".join(messages)
        parts.append(text if field == "nonFieldErrors" else f"{field}: {text}")
    return {"detail": "Invalid input. " + "; ".join(parts), "errors": errors}


def unavailable_response(detail: str) -> JsonResponse:
    """503 with ``Retry-After``: a store the service needs did not answer."""
    response = JsonResponse({"detail": detail}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_unavailable_response() -> JsonResponse:
    return unavailable_response("The database is unavailable; try again shortly.")


def exception_handler(exc, context):
    """DRF exception handler: SPEC "Errors" for every API view."""
    # The services' errors know nothing of HTTP; give them their status codes here.
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, NotFoundError):
        exc = exceptions.NotFound(exc.message)
    elif isinstance(exc, ConflictError):
        exc = Conflict(exc.message)
    elif isinstance(exc, PreconditionFailedError):
        exc = PreconditionFailed(exc.message)
    if isinstance(exc, exceptions.ValidationError):
        response = drf_exception_handler(exc, context)
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        response.data = validation_body(exc.detail)
        return response
    if isinstance(exc, IntegrityError):
        # Every invariant is checked before writing; this is the database catching a race
        # the checks could not see. The request's transaction is rolled back.
        logger.warning("integrity error turned into 409", extra={"error": str(exc)})
        return drf_exception_handler(Conflict(), context)
    if isinstance(exc, DataError):
        # Last line of defence: input the validators let through but the database refuses
        # (a NUL in a text column, a number out of range). A client error, never a 500.
        logger.warning("database refused a value: 422", extra={"error": str(exc)[:300]})
        response = drf_exception_handler(
            exceptions.ValidationError("A value in the request cannot be stored."), context
        )
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        response.data = {"detail": "Invalid input. A value in the request cannot be stored.", "errors": {}}
        return response
    if isinstance(exc, (OperationalError, InterfaceError)):
        # Let the middleware answer: it also sees errors raised outside DRF (BEGIN).
        return None
    if isinstance(exc, CountersUnavailableError):
        # Redis (the throttle's store) is down: a request that cannot be counted is not
        # served, as when the database is down.
        logger.warning("throttle counters unavailable: 503", extra={"error": str(exc)[:300]})
        return unavailable_response("The rate limiter is unavailable; try again shortly.")
    if isinstance(exc, exceptions.AuthenticationFailed):
        exc = _charged_to_address(exc, context)
    response = drf_exception_handler(exc, context)
    if response is not None and not isinstance(response.data, dict):
        response.data = {"detail": " ".join(flatten_messages(response.data))}
    if isinstance(exc, exceptions.Throttled) and response is not None:
        response.data = {"detail": str(exc.detail)}
    return response


def _charged_to_address(exc: exceptions.AuthenticationFailed, context) -> exceptions.APIException:
    """A request refused for a bad or revoked token counts against the caller's address.

    DRF authenticates before it throttles, so such a request never reached the throttles: a
    flood of guessed tokens would never be slowed. Here the request is anonymous already
    (DRF's ``_not_authenticated``), and the view's throttles count it as they count any
    anonymous request. Over the limit, the answer is the 429, not the 401.
    """
    view, request = context.get("view"), context.get("request")
    if view is None or request is None:
        return exc
    try:
        view.check_throttles(request)
    except exceptions.Throttled as throttled:
        return throttled
    return exc


def _json_error(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status_code)


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


# Django's handlers for errors raised outside DRF views (URL not found, crashes).
def not_found(request, exception=None):
    if is_api_path(request.path):
        return _json_error(404, "Not found.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if is_api_path(request.path):
        return _json_error(500, "Internal server error.")
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)


def bad_request(request, exception=None):
    if is_api_path(request.path):
        return _json_error(400, "Bad request.")
    from django.views.defaults import bad_request as html_bad_request

    return html_bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api_path(request.path):
        return _json_error(403, "You do not have permission to perform this action.")
    from django.views.defaults import permission_denied as html_permission_denied

    return html_permission_denied(request, exception)
