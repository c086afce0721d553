"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from musehub.api.errors import database_unavailable_response


@require_GET
def healthz(request):
    """The process is up and serving requests (touches nothing else)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """The database is reachable: 200, or 503 with Retry-After."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return database_unavailable_response()
    return JsonResponse({"status": "ok", "database": "ok"})
