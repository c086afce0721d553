"""Session routes, nested under ``/api/repos/{repoId}/sessions``.

Views are plumbing: resolve the repo (and the caller's rights) once, validate the body,
call a service, serialize. The rules live in ``sessions_app.services``.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from musehub.api.pagination import next_link, parse_limit
from musehub.api.schema import ERRORS_DELETE, ERRORS_IF_MATCH, ERRORS_READ, ERRORS_WRITE, LIST_PARAMETERS
from musehub.api.transactions import AtomicHandlerMixin
from repos_app.permissions import CanReadRepo, CanWriteRepo, RepoScopedMixin
from sessions_app import selectors, services
from sessions_app.filters import SessionFilter, clean_filters
from sessions_app.models import Session
from sessions_app.render import session_body
from sessions_app.serializers import (
    SessionCommitsSerializer,
    SessionCreateSerializer,
    SessionListSerializer,
    SessionSerializer,
    SessionStopSerializer,
    SessionUpdateSerializer,
)


@extend_schema_view(
    list=extend_schema(
        summary="List a repo's sessions, newest first",
        parameters=LIST_PARAMETERS,
        responses={200: SessionListSerializer, **ERRORS_READ},
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
    retrieve=extend_schema(summary="Get a session", responses={200: SessionSerializer, **ERRORS_READ}),
    partial_update=extend_schema(
        summary="Edit a session",
        request=SessionUpdateSerializer,
        responses={200: SessionSerializer, **ERRORS_WRITE, **ERRORS_IF_MATCH},
    ),
    destroy=extend_schema(summary="Delete a session", responses={204: None, **ERRORS_DELETE, **ERRORS_IF_MATCH}),
)
class SessionViewSet(AtomicHandlerMixin, RepoScopedMixin, viewsets.GenericViewSet):
    """Recording sessions of one repo."""

    serializer_class = SessionSerializer
    # Declared so the OpenAPI schema documents the filters; the list cleans them itself.
    filter_backends = [DjangoFilterBackend]
    filterset_class = SessionFilter
    lookup_url_kwarg = "session_id"

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [CanReadRepo()]
        return [CanWriteRepo()]

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
        self.get_repo()
        given = self._valid(SessionCreateSerializer)
        row, created = services.session_create(repo_id=repo_id, author=request.user, actor=request.user, **given)
        return Response(session_body(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def retrieve(self, request, repo_id: str, session_id: str):
        self.get_repo()
        return Response(session_body(selectors.session_get(repo_id=repo_id, session_id=session_id)))

    def partial_update(self, request, repo_id: str, session_id: str):
        self.get_repo()
        changes = self._valid(SessionUpdateSerializer)
        return Response(
            session_body(services.session_update(repo_id=repo_id, session_id=session_id, actor=request.user, **changes))
        )

    def destroy(self, request, repo_id: str, session_id: str):
        self.get_repo()
        services.session_delete(repo_id=repo_id, session_id=session_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Stop a session (idempotent)",
        request=SessionStopSerializer,
        responses={200: SessionSerializer, **ERRORS_WRITE, **ERRORS_IF_MATCH},
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, repo_id: str, session_id: str):
        self.get_repo()
        given = self._valid(SessionStopSerializer)
        return Response(
            session_body(services.session_stop(repo_id=repo_id, session_id=session_id, actor=request.user, **given))
        )

    @extend_schema(
        summary="Append commits to a session",
        request=SessionCommitsSerializer,
        responses={200: SessionSerializer, **ERRORS_WRITE, **ERRORS_IF_MATCH},
    )
    @action(detail=True, methods=["post"])
    def commits(self, request, repo_id: str, session_id: str):
        self.get_repo()
        commits = self._valid(SessionCommitsSerializer)["commits"]
        return Response(
            session_body(
                services.session_commits_add(
                    repo_id=repo_id, session_id=session_id, commits=commits, actor=request.user
                )
            )
        )

    def _valid(self, serializer_class) -> dict:
        """The request body, checked by ``serializer_class``: what the client sent (422 if invalid)."""
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
