"""Session routes, nested under ``/api/repos/{repoId}/sessions``.

Views are plumbing: resolve the repo (and the caller's rights) once, validate the body,
call a service, serialize. The rules live in ``sessions_app.services``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAcceptable
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from musehub.api.conditional import ConditionalGetMixin, if_match_condition
from musehub.api.pagination import next_link, parse_limit
from musehub.api.renderers import accepts
from musehub.api.schema import (
    ERRORS_DELETE,
    ERRORS_IF_MATCH,
    ERRORS_READ,
    ERRORS_WRITE,
    IF_MATCH_PARAMETER,
    IF_NONE_MATCH_PARAMETERS,
    LIST_PARAMETERS,
    NOT_MODIFIED,
)
from musehub.api.streaming import with_heartbeat
from musehub.api.validation import validated
from musehub.core.errors import NotFoundError
from repos_app.permissions import CanReadRepo, CanWriteRepo, RepoScopedMixin
from repos_app.selectors import RepoNotWritableError
from sessions_app import export, selectors, services
from sessions_app.filters import SessionFilter, clean_filters
from sessions_app.models import Session
from sessions_app.render import session_body, session_etag, stats_body
from sessions_app.serializers import (
    SessionCommitsSerializer,
    SessionCreateSerializer,
    SessionListSerializer,
    SessionSerializer,
    SessionStatsSerializer,
    SessionStopSerializer,
    SessionUpdateSerializer,
)

#: ``?format=`` of an export: (media type, file extension, the rows -> bytes writer).
EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv", export.csv_chunks),
    "ics": ("text/calendar; charset=utf-8", "ics", export.ics_chunks),
}

#: The list's filters, for the routes that take them without paging (stats, export).
FILTER_PARAMETERS = [
    OpenApiParameter("active", OpenApiTypes.BOOL, description="Only active (true) or ended (false) sessions."),
    OpenApiParameter("participant", OpenApiTypes.STR, description="Sessions with exactly this participant."),
    OpenApiParameter("startedAfter", OpenApiTypes.DATETIME, description="Started strictly after this instant."),
    OpenApiParameter("startedBefore", OpenApiTypes.DATETIME, description="Started strictly before this instant."),
    OpenApiParameter(
        "tag",
        {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"}},
        explode=True,
        description="Sessions with this tag; repeat it to require several.",
    ),
]
WRITE_CONDITIONAL = {**ERRORS_WRITE, **ERRORS_IF_MATCH}


@extend_schema_view(
    list=extend_schema(
        summary="List a repo's sessions, newest first",
        parameters=[*LIST_PARAMETERS, *IF_NONE_MATCH_PARAMETERS],
        responses={200: SessionListSerializer, **NOT_MODIFIED, **ERRORS_READ},
    ),
    create=extend_schema(
        summary="Start a session (or push a finished one)",
        request=SessionCreateSerializer,
        responses={
            201: SessionSerializer,
            200: OpenApiResponse(SessionSerializer, description="A retry of an existing create."),
            **ERRORS_WRITE,
        },
    ),
    retrieve=extend_schema(
        summary="Get a session",
        parameters=IF_NONE_MATCH_PARAMETERS,
        responses={200: SessionSerializer, **NOT_MODIFIED, **ERRORS_READ},
    ),
    partial_update=extend_schema(
        summary="Edit a session",
        request=SessionUpdateSerializer,
        parameters=[IF_MATCH_PARAMETER],
        responses={200: SessionSerializer, **WRITE_CONDITIONAL},
    ),
    destroy=extend_schema(
        summary="Delete a session",
        parameters=[IF_MATCH_PARAMETER],
        responses={204: None, **ERRORS_DELETE, **ERRORS_IF_MATCH},
    ),
)
class SessionViewSet(ConditionalGetMixin, RepoScopedMixin, viewsets.GenericViewSet):
    """Recording sessions of one repo.

    No handler-wide transaction (``AtomicHandlerMixin``): each handler makes one call to a
    service, which takes the transaction its write needs, and none where the write is one
    statement (``sessions_app.services``): a ``BEGIN`` and a ``COMMIT`` would be two more
    round trips, with the rows the write locks held across them.
    """

    serializer_class = SessionSerializer
    # Declared so the OpenAPI schema documents the filters; the list cleans them itself.
    filter_backends = [DjangoFilterBackend]
    filterset_class = SessionFilter
    lookup_url_kwarg = "session_id"

    def get_permissions(self):
        if self.action in ("list", "retrieve", "stats", "export"):
            return [CanReadRepo()]
        if self.action == "current":
            # "Your" current session needs a "you": anonymous callers are 401 on any repo.
            return [IsAuthenticated(), CanReadRepo()]
        return [CanWriteRepo()]

    def perform_content_negotiation(self, request, force=False):
        if self.action != "export" or force:
            return super().perform_content_negotiation(request, force=force)
        # DRF would read ``?format=`` as a renderer's name; an export's ``format`` is its own
        # parameter, and its answer a stream no renderer makes. What the client must accept
        # is that file's type (or, when the format is missing or unknown, the JSON 422).
        chosen = EXPORT_FORMATS.get(request.query_params.get("format", ""))
        if not accepts(request, chosen[0] if chosen else "application/json"):
            raise NotAcceptable()
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    def get_queryset(self):  # for the schema generator; requests go through the selectors
        return Session.objects.none()

    def list(self, request, repo_id: str):
        repo = self.get_repo()
        page = selectors.session_list(
            repo_id=repo_id,
            limit=parse_limit(request.query_params.get("limit")),
            cursor=request.query_params.get("cursor") or None,
            filters=clean_filters(request.query_params),
            repo_total=repo["session_count"],
        )
        body = {
            "sessions": [session_body(row) for row in page.rows],
            "total": page.total,
            "next_cursor": page.next_cursor,
        }
        headers = {"Link": next_link(request, page.next_cursor)} if page.next_cursor else None
        return Response(body, headers=headers)

    def create(self, request, repo_id: str):
        # The repo and the caller's right to write to it are checked by the insert itself
        # (one round trip, not a read before it). Refusals still come in the routes' order,
        # and in their words: the repo's (404, 403) before the body's (400, 415, 422).
        try:
            given = self._valid(SessionCreateSerializer)
        except Exception:
            self.get_repo()
            raise
        try:
            row, created = services.session_create(
                repo_id=repo_id, author=request.user, actor=request.user, writer=request.user, **given
            )
        except RepoNotWritableError:
            # Why: 404 or 403. (Had a grant come between the insert and this read, the
            # insert's answer stands: a missing repo, as when a delete comes between them.)
            self.get_repo()
            raise
        return Response(session_body(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def retrieve(self, request, repo_id: str, session_id: str):
        row = self._repo_and_session(session_id)
        if row is None:
            raise NotFoundError(selectors.SESSION_NOT_FOUND)
        return Response(session_body(row))

    def partial_update(self, request, repo_id: str, session_id: str):
        self.get_repo()
        changes = self._valid(SessionUpdateSerializer)
        row = services.session_update(
            repo_id=repo_id, session_id=session_id, if_match=self._if_match(), actor=request.user, **changes
        )
        return Response(session_body(row))

    def destroy(self, request, repo_id: str, session_id: str):
        self.get_repo()
        services.session_delete(repo_id=repo_id, session_id=session_id, if_match=self._if_match(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Stop a session (idempotent)",
        request=SessionStopSerializer,
        parameters=[IF_MATCH_PARAMETER],
        responses={200: SessionSerializer, **WRITE_CONDITIONAL},
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, repo_id: str, session_id: str):
        current = self._repo_and_session(session_id)  # None: the service answers 404
        given = self._valid(SessionStopSerializer)
        row = services.session_stop(
            repo_id=repo_id,
            session_id=session_id,
            if_match=self._if_match(),
            actor=request.user,
            current=current,
            **given,
        )
        return Response(session_body(row))

    @extend_schema(
        summary="Append commits to a session",
        request=SessionCommitsSerializer,
        parameters=[IF_MATCH_PARAMETER],
        responses={200: SessionSerializer, **WRITE_CONDITIONAL},
    )
    @action(detail=True, methods=["post"])
    def commits(self, request, repo_id: str, session_id: str):
        self.get_repo()
        commits = self._valid(SessionCommitsSerializer)["commits"]
        row = services.session_commits_add(
            repo_id=repo_id, session_id=session_id, commits=commits, if_match=self._if_match(), actor=request.user
        )
        return Response(session_body(row))

    @extend_schema(
        summary="Your newest active session in this repo",
        parameters=IF_NONE_MATCH_PARAMETERS,
        responses={200: SessionSerializer, **NOT_MODIFIED, **ERRORS_READ},
    )
    @action(detail=False, methods=["get"])
    def current(self, request, repo_id: str):
        self.get_repo()
        return Response(session_body(selectors.session_current(repo_id=repo_id, author_id=request.user.pk)))

    @extend_schema(
        summary="Stop your newest active session in this repo",
        request=SessionStopSerializer,
        parameters=[IF_MATCH_PARAMETER],
        responses={200: SessionSerializer, **WRITE_CONDITIONAL},
    )
    @action(detail=False, methods=["post"], url_path="current/stop")
    def current_stop(self, request, repo_id: str):
        self.get_repo()
        given = self._valid(SessionStopSerializer)
        row = services.session_stop_current(
            repo_id=repo_id, author_id=request.user.pk, if_match=self._if_match(), actor=request.user, **given
        )
        return Response(session_body(row))

    @extend_schema(
        summary="Totals of the repo's sessions: time, people, places, days",
        parameters=[*FILTER_PARAMETERS, *IF_NONE_MATCH_PARAMETERS],
        responses={200: SessionStatsSerializer, **NOT_MODIFIED, **ERRORS_READ},
    )
    @action(detail=False, methods=["get"])
    def stats(self, request, repo_id: str):
        self.get_repo()
        stats = selectors.session_stats(repo_id=repo_id, filters=clean_filters(request.query_params))
        return Response(stats_body(stats))

    @extend_schema(
        summary="Download the repo's sessions as CSV or iCalendar (streamed, newest first)",
        parameters=[
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=[*EXPORT_FORMATS], required=True, description="csv or ics."
            ),
            *FILTER_PARAMETERS,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A header row, then a row per session."),
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="One VEVENT per session."),
            **ERRORS_READ,
        },
    )
    @action(detail=False, methods=["get"])
    def export(self, request, repo_id: str):
        repo = self.get_repo()
        # Everything that can refuse the request is checked here: once the stream has
        # started, its status line is sent.
        chosen = EXPORT_FORMATS.get(request.query_params.get("format", ""))
        if chosen is None:
            raise ValidationError({"format": [f"Must be one of: {', '.join(EXPORT_FORMATS)}."]})
        content_type, extension, write = chosen
        chunks = selectors.session_chunks(
            repo_id=repo_id, filters=clean_filters(request.query_params), columns=export.COLUMNS
        )
        response = StreamingHttpResponse(with_heartbeat(write(chunks)), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{repo["slug"]}-sessions.{extension}"'
        return response

    def _repo_and_session(self, session_id: str) -> dict | None:
        """The session's row (None when the repo has none by that id), read in one statement
        with the repo, which is judged by the same permissions as ``get_repo()``'s first."""
        repo, row = selectors.repo_and_session_get(
            repo_id=self.kwargs[self.repo_url_kwarg], session_id=session_id, user=self.request.user
        )
        self.admit_repo(repo)
        return row

    def _if_match(self):
        """The request's ``If-Match`` as a condition for the service (None without one)."""
        return if_match_condition(self.request, session_etag)

    def _valid(self, serializer_class) -> dict:
        """The request body, checked by ``serializer_class``: what the client sent (422 if invalid)."""
        return validated(serializer_class, self.request.data)
