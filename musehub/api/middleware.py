"""Middleware: request ids and access logs, the errors that happen outside DRF views, and
the admin's session middleware kept off the API."""

from __future__ import annotations

import io
import logging
import re
import time
import uuid

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.handlers.wsgi import LimitedStream
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from musehub.api.errors import database_unavailable_response, is_api_path
from musehub.logging import current_request_id

access_log = logging.getLogger("musehub.access")
error_log = logging.getLogger("musehub.errors")

_INCOMING_ID = re.compile(r"[A-Za-z0-9._\-]{1,128}")


class RequestIdMiddleware:
    """Tag each request with an id (the caller's ``X-Request-ID`` if sane) and log it once."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user = getattr(request, "user", None)
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    # The path only: query strings may carry cursors and filters, never secrets,
                    # but headers (Authorization) are never logged at all.
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": getattr(user, "pk", None),
                },
            )
            return response
        finally:
            current_request_id.reset(token)


class ApiErrorMiddleware:
    """Errors raised before or around a view: oversized bodies and an unreachable database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request.path):
            if "\x00" in request.path:
                # No id or username holds a NUL; PostgreSQL could not even compare one.
                return JsonResponse({"detail": "Not found."}, status=404)
            refused = self._check_query(request) or self._check_body_size(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def _check_query(request):
        """422 naming every query parameter that holds a NUL byte (no filter can use one)."""
        bad = sorted({name for name, values in request.GET.lists() for v in values if "\x00" in v})
        bad_names = [name for name in request.GET if "\x00" in name]
        if not bad and not bad_names:
            return None
        message = "Must not contain a NUL byte."
        errors = {name.replace("\x00", "\\x00"): [message] for name in [*bad, *bad_names]}
        detail = "Invalid input. " + "; ".join(f"{name}: {message}" for name in errors)
        return JsonResponse({"detail": detail, "errors": errors}, status=422)

    @staticmethod
    def _check_body_size(request):
        """413 for a body over the limit, 400 for a nonsensical Content-Length.

        A chunked body (no Content-Length) is read here, at most limit + 1 bytes: over the
        limit it is a 413 like any other; within it, it is handed on as a body of known
        length (Django itself would silently read a chunked body as empty).
        """
        limit = settings.MAX_REQUEST_BODY_BYTES
        raw = request.META.get("CONTENT_LENGTH") or ""
        if raw == "":
            if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                return None
            body = request.environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _too_large()
            request._stream = LimitedStream(io.BytesIO(body), len(body))
            request.META["CONTENT_LENGTH"] = str(len(body))
            return None
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if length > limit:
            return _too_large()
        return None

    def process_exception(self, request, exception):
        # Raised by the request transaction's BEGIN, by authentication or by the view:
        # the database is down or the connection broke. Say so, and when to come back.
        if isinstance(exception, (OperationalError, InterfaceError)):
            error_log.warning("database unavailable", extra={"error": str(exception)[:300]})
            return database_unavailable_response()
        return None


def _too_large() -> JsonResponse:
    return JsonResponse({"detail": "Request body too large: the limit is 1 MiB."}, status=413)


class SiteOnlyMixin:
    """Runs a Django middleware for every request but the API's (``is_api_path``).

    Sessions, the logged-in user and messages are the admin's. The API authenticates by
    bearer token only (DRF sets ``request.user``) and keeps no session: on its requests
    these three did nothing but cost ~115,000 instructions, 5% of a get (callgrind).
    Subclasses of Django's own, so the admin's checks that they are installed still hold.
    (CSRF stays Django's own middleware, whole: ``check --deploy`` looks for it by name,
    and the API's views are exempt from it anyway.)
    """

    def __call__(self, request):
        if is_api_path(request.path):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(SiteOnlyMixin, DjangoSessionMiddleware):
    pass


class AuthenticationMiddleware(SiteOnlyMixin, DjangoAuthenticationMiddleware):
    pass


class MessageMiddleware(SiteOnlyMixin, DjangoMessageMiddleware):
    pass
