"""Repo and collaborator routes under ``/api/repos``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from musehub.api.conditional import ConditionalGetMixin
from musehub.api.pagination import next_link, parse_limit
from musehub.api.schema import (
    ERRORS_MEMBERS_READ,
    ERRORS_READ,
    ERRORS_WRITE,
    IF_NONE_MATCH_PARAMETERS,
    LIST_PARAMETERS,
    NOT_MODIFIED,
)
from musehub.api.transactions import AtomicHandlerMixin
from musehub.api.validation import validated
from repos_app import selectors, services
from repos_app.models import Repo
from repos_app.permissions import CanReadRepo, IsRepoMember, IsRepoOwner, RepoScopedMixin
from repos_app.render import repo_body
from repos_app.serializers import (
    CollaboratorListSerializer,
    CollaboratorSerializer,
    CollaboratorSetSerializer,
    RepoCreateSerializer,
    RepoListSerializer,
    RepoSerializer,
    RepoUpdateSerializer,
)


@extend_schema_view(
    list=extend_schema(
        summary="List the repos you can read, newest first",
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter("owner", OpenApiTypes.STR, description="Only repos owned by this username."),
        ],
        responses={200: RepoListSerializer, **ERRORS_READ},
    ),
    create=extend_schema(
        summary="Create a repo", request=RepoCreateSerializer, responses={201: RepoSerializer, **ERRORS_WRITE}
    ),
    retrieve=extend_schema(
        summary="Get a repo",
        parameters=IF_NONE_MATCH_PARAMETERS,
        responses={200: RepoSerializer, **NOT_MODIFIED, **ERRORS_READ},
    ),
    partial_update=extend_schema(
        summary="Change a repo (owner only)",
        request=RepoUpdateSerializer,
        responses={200: RepoSerializer, **ERRORS_WRITE},
    ),
    destroy=extend_schema(summary="Delete a repo and its sessions (owner only)", responses={204: None, **ERRORS_WRITE}),
)
class RepoViewSet(ConditionalGetMixin, AtomicHandlerMixin, RepoScopedMixin, viewsets.GenericViewSet):
    """Muse repositories."""

    serializer_class = RepoSerializer
    queryset = Repo.objects.none()  # for the schema generator; requests go through get_repo()

    def get_permissions(self):
        if self.action == "list":
            return []
        if self.action == "create":
            return [IsAuthenticated()]
        if self.action == "retrieve":
            return [CanReadRepo()]
        return [IsRepoOwner()]

    def list(self, request):
        page = selectors.repo_list(
            user=request.user,
            owner=request.query_params.get("owner"),
            limit=parse_limit(request.query_params.get("limit")),
            cursor=request.query_params.get("cursor") or None,
        )
        body = {"repos": [repo_body(row) for row in page.rows], "total": page.total, "next_cursor": page.next_cursor}
        headers = {"Link": next_link(request, page.next_cursor)} if page.next_cursor else None
        return Response(body, headers=headers)

    def create(self, request):
        row = services.repo_create(owner=request.user, **validated(RepoCreateSerializer, request.data))
        return Response(repo_body(row), status=status.HTTP_201_CREATED)

    def retrieve(self, request, repo_id: str):
        return Response(repo_body(self.get_repo()))

    def partial_update(self, request, repo_id: str):
        self.get_repo()
        changes = validated(RepoUpdateSerializer, request.data, partial=True)
        return Response(repo_body(services.repo_update(repo_id=repo_id, **changes)))

    def destroy(self, request, repo_id: str):
        self.get_repo()
        services.repo_delete(repo_id=repo_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="List a repo's collaborators (owner and collaborators)",
        responses={200: CollaboratorListSerializer, **ERRORS_MEMBERS_READ},
    ),
    update=extend_schema(
        summary="Share the repo with a user, or change their permission (owner only)",
        request=CollaboratorSetSerializer,
        responses={201: CollaboratorSerializer, 200: CollaboratorSerializer, **ERRORS_WRITE},
    ),
    destroy=extend_schema(summary="Revoke a collaborator (owner only)", responses={204: None, **ERRORS_WRITE}),
)
class CollaboratorViewSet(ConditionalGetMixin, AtomicHandlerMixin, RepoScopedMixin, viewsets.GenericViewSet):
    """Who a repo is shared with."""

    serializer_class = CollaboratorSerializer
    queryset = Repo.objects.none()

    def get_permissions(self):
        if self.action == "list":
            return [IsRepoMember()]
        return [IsRepoOwner()]

    def list(self, request, repo_id: str):
        self.get_repo()
        return Response({"collaborators": selectors.collaborator_list(repo_id=repo_id)})

    def update(self, request, repo_id: str, username: str):
        self.get_repo()
        permission = validated(CollaboratorSetSerializer, request.data)["permission"]
        grant, created = services.collaborator_set(repo_id=repo_id, username=username, permission=permission)
        return Response(grant, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def destroy(self, request, repo_id: str, username: str):
        self.get_repo()
        services.collaborator_remove(repo_id=repo_id, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)
