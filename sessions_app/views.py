"""Session routes, nested under ``/api/repos/{repoId}/sessions``.

Views are plumbing: resolve the repo (and the caller's rights) once, validate the body,
call a service, serialize. The rules live in ``sessions_app.services``.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from musehub.api.pagination import next_link, parse_limit
from musehub.api.renderers import camelized
from musehub.api.schema import ERRORS_DELETE, ERRORS_READ, ERRORS_WRITE, LIST_PARAMETERS
from musehub.api.transactions import AtomicHandlerMixin
from repos_app.models import repo_access
from repos_app.permissions import CanReadRepo, CanWriteRepo, RepoAccessMixin
from sessions_app import services
from sessions_app.filters import SessionFilter
from sessions_app.serializers import (
    SessionCommitsSerializer,
    SessionCreateSerializer,
    SessionListSerializer,
    SessionSerializer,
    SessionStopSerializer,
    SessionUpdateSerializer,
    session_data,
    session_row,
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
        responses={200: SessionSerializer, **ERRORS_WRITE},
    ),
    destroy=extend_schema(summary="Delete a session", responses={204: None, **ERRORS_DELETE}),
)
class SessionViewSet(AtomicHandlerMixin, RepoAccessMixin, viewsets.GenericViewSet):
    """Recording sessions of one repo."""

    serializer_class = SessionSerializer
    # Declared so the OpenAPI schema documents the filters; list_sessions applies them.
    filter_backends = [DjangoFilterBackend]
    filterset_class = SessionFilter
    lookup_url_kwarg = "session_id"

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [CanReadRepo()]
        return [CanWriteRepo()]

    def get_queryset(self):  # for the schema generator; requests go through the services
        return services.Session.objects.none()

    def load_repo(self, repo_id: str):
        # Id, visibility, kept count and role are all these routes need: no model instance.
        return repo_access(repo_id, self.request.user)

    def _session_or_404(self):
        repo = self.get_repo()
        session = services.get_session(repo_id=repo.pk, session_id=self.kwargs["session_id"])
        if session is None:
            raise NotFound("Session not found.")
        return session

    def list(self, request, repo_id: str):
        repo = self.get_repo()
        rows, total, next_cursor = services.list_sessions(
            repo=repo,
            limit=parse_limit(request.query_params.get("limit")),
            cursor=request.query_params.get("cursor") or None,
            filters=request.query_params,
        )
        sessions = [camelized(session_data(row)) for row in rows]
        body = {"sessions": sessions, "total": total, "next_cursor": next_cursor}
        headers = {"Link": next_link(request, next_cursor)} if next_cursor else None
        return Response(body, headers=headers)

    def create(self, request, repo_id: str):
        repo = self.get_repo()
        serializer = SessionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Only what the client sent takes part in a retry's comparison.
        given = {name: value for name, value in serializer.validated_data.items() if name in request.data}
        session, created = services.upsert_session(repo_id=repo.pk, author=request.user, **given)
        if session is None:  # the repo was deleted since get_repo() read it
            raise NotFound("Repo not found.")
        return Response(
            camelized(session_data(session_row(session))),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def retrieve(self, request, repo_id: str, session_id: str):
        row = services.get_session_row(repo_id=self.get_repo().pk, session_id=session_id)
        if row is None:
            raise NotFound("Session not found.")
        return Response(camelized(session_data(row)))

    def partial_update(self, request, repo_id: str, session_id: str):
        session = self._session_or_404()
        serializer = SessionUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        session = services.update_session(session=session, **serializer.validated_data)
        return Response(SessionSerializer(session).data)

    def destroy(self, request, repo_id: str, session_id: str):
        repo = self.get_repo()
        if not services.delete_session(repo_id=repo.pk, session_id=session_id):
            raise NotFound("Session not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Stop a session (idempotent)",
        request=SessionStopSerializer,
        responses={200: SessionSerializer, **ERRORS_WRITE},
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, repo_id: str, session_id: str):
        repo = self.get_repo()
        serializer = SessionStopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.stop_session_row(repo_id=repo.pk, session_id=session_id, **serializer.validated_data)
        if row is None:
            raise NotFound("Session not found.")
        return Response(camelized(session_data(row)))

    @extend_schema(
        summary="Append commits to a session",
        request=SessionCommitsSerializer,
        responses={200: SessionSerializer, **ERRORS_WRITE},
    )
    @action(detail=True, methods=["post"])
    def commits(self, request, repo_id: str, session_id: str):
        repo = self.get_repo()
        serializer = SessionCommitsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = services.append_commits(
            repo_id=repo.pk, session_id=session_id, commits=serializer.validated_data["commits"]
        )
        if session is None:
            raise NotFound("Session not found.")
        return Response(SessionSerializer(session).data)
