"""Event feed and webhook routes, nested under ``/api/repos/{repoId}``.

The feed follows the "read sessions" row of the permission table; hooks and their
deliveries the "change the repo" row (owner only).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from events_app import selectors, services
from events_app.models import EventType, Hook
from events_app.serializers import (
    DeliveryListSerializer,
    DeliverySerializer,
    EventFeedSerializer,
    HookCreateSerializer,
    HookListSerializer,
    HookSerializer,
    HookUpdateSerializer,
)
from musehub.api.pagination import next_link, parse_limit
from musehub.api.renderers import Camelized
from musehub.api.schema import ERRORS_DELETE, ERRORS_READ, ERRORS_WRITE
from musehub.api.transactions import AtomicHandlerMixin
from musehub.api.validation import validated
from repos_app.models import Repo
from repos_app.permissions import CanReadRepo, IsRepoOwner, RepoScopedMixin

_OWNER_READ_ERRORS = {**ERRORS_READ, 403: ERRORS_WRITE[403]}


class EventFeedView(RepoScopedMixin, GenericAPIView):
    """A repo's events, oldest first: poll with ``after=nextAfter`` to follow it."""

    serializer_class = EventFeedSerializer
    queryset = Repo.objects.none()  # for the schema generator

    def get_permissions(self):
        return [CanReadRepo()]

    @extend_schema(
        summary="A repo's events after a given eventId, oldest first (gap-free)",
        parameters=[
            OpenApiParameter(
                "after",
                {"type": "integer", "minimum": 0, "default": 0},
                description="Only events with a larger eventId (the previous nextAfter).",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 200, "default": 100},
                description="At most this many events (1 to 200, default 100).",
            ),
            OpenApiParameter(
                "type",
                {"type": "array", "items": {"type": "string", "enum": EventType.values}},
                explode=True,
                description="Only these types (repeat the parameter for several).",
            ),
        ],
        responses={200: EventFeedSerializer, **ERRORS_READ},
    )
    def get(self, request, repo_id: str):
        repo = self.get_repo()
        after, limit, types = selectors.parse_feed_query(request.query_params)
        texts, next_after = selectors.event_feed(repo_id=repo["repo_id"], after=after, limit=limit, types=types)
        events = [Camelized(item) for item in selectors.rendered_events(texts)]
        return Response({"events": events, "next_after": next_after})


_HOOK_ID = OpenApiParameter("hook_id", OpenApiTypes.STR, location=OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(
        summary="List a repo's webhooks (owner only)", responses={200: HookListSerializer, **_OWNER_READ_ERRORS}
    ),
    create=extend_schema(
        summary="Add a webhook (owner only)",
        description="The URL's host must not be or resolve to a loopback, private, link-local, multicast or "
        "reserved address (422 naming url), unless the server sets MUSEHUB_WEBHOOK_ALLOW_PRIVATE=1.",
        request=HookCreateSerializer,
        responses={201: HookSerializer, **ERRORS_WRITE},
    ),
    retrieve=extend_schema(
        summary="Get a webhook (owner only)",
        parameters=[_HOOK_ID],
        responses={200: HookSerializer, **_OWNER_READ_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a webhook (owner only)",
        parameters=[_HOOK_ID],
        request=HookUpdateSerializer,
        responses={200: HookSerializer, **ERRORS_WRITE},
    ),
    destroy=extend_schema(
        summary="Delete a webhook and its deliveries (owner only)",
        parameters=[_HOOK_ID],
        responses={204: None, **ERRORS_DELETE},
    ),
)
class HookViewSet(AtomicHandlerMixin, RepoScopedMixin, viewsets.GenericViewSet):
    """Webhooks of one repo, their deliveries, ping and redeliver. Owner only."""

    serializer_class = HookSerializer
    queryset = Hook.objects.none()  # for the schema generator; requests go through the services

    def get_permissions(self):
        return [IsRepoOwner()]

    def get_object(self) -> Hook:
        """The hook named in the URL, of the repo in the URL (after its permission check)."""
        repo = self.get_repo()
        hook = selectors.hook_of_repo(repo_id=repo["repo_id"], hook_id=int(self.kwargs["hook_id"]))
        if hook is None:
            raise NotFound("Hook not found.")
        return hook

    def _hook_body(self, repo_id: str, hook_id: int) -> dict:
        hooks = selectors.hooks_with_last_delivery(repo_id=repo_id, hook_id=hook_id)
        if not hooks:
            raise NotFound("Hook not found.")
        return HookSerializer(hooks[0]).data

    def list(self, request, repo_id: str):
        hooks = selectors.hooks_with_last_delivery(repo_id=self.get_repo()["repo_id"])
        return Response({"hooks": [HookSerializer(hook).data for hook in hooks]})

    def create(self, request, repo_id: str):
        repo = self.get_repo()
        hook = services.hook_create(repo_id=repo["repo_id"], **validated(HookCreateSerializer, request.data))
        hook.last_delivery = None
        return Response(HookSerializer(hook).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, repo_id: str, hook_id: str):
        return Response(self._hook_body(self.get_repo()["repo_id"], int(hook_id)))

    def partial_update(self, request, repo_id: str, hook_id: str):
        hook = self.get_object()
        services.hook_update(hook=hook, **validated(HookUpdateSerializer, request.data, partial=True))
        return Response(self._hook_body(hook.repo_id, hook.pk))

    def destroy(self, request, repo_id: str, hook_id: str):
        services.hook_delete(hook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send the hook a ping delivery (owner only)",
        description="Delivered whatever the hook's events and active; body: "
        '`{"type": "ping", "hookId", "repoId", "occurredAt"}`; its delivery\'s eventId is null.',
        parameters=[_HOOK_ID],
        request=None,
        responses={
            202: OpenApiResponse(DeliverySerializer, description="The ping's delivery, queued."),
            **ERRORS_DELETE,
        },
    )
    @action(detail=True, methods=["post"])
    def ping(self, request, repo_id: str, hook_id: str):
        delivery = services.hook_ping(hook=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="A hook's deliveries, newest first (owner only)",
        parameters=[
            _HOOK_ID,
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="nextCursor of the previous page."),
        ],
        responses={200: DeliveryListSerializer, **_OWNER_READ_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, repo_id: str, hook_id: str):
        hook = self.get_object()
        page, next_cursor = selectors.hook_deliveries(
            hook=hook,
            limit=parse_limit(request.query_params.get("limit")),
            cursor=request.query_params.get("cursor") or None,
        )
        body = {"deliveries": [DeliverySerializer(d).data for d in page], "next_cursor": next_cursor}
        headers = {"Link": next_link(request, next_cursor)} if next_cursor else None
        return Response(body, headers=headers)

    @extend_schema(
        summary="Attempt a delivery once more: same deliveryId and body (owner only)",
        parameters=[_HOOK_ID, OpenApiParameter("delivery_id", OpenApiTypes.STR, location=OpenApiParameter.PATH)],
        request=None,
        responses={202: OpenApiResponse(DeliverySerializer, description="The delivery, queued."), **ERRORS_DELETE},
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, repo_id: str, hook_id: str, delivery_id: str):
        hook = self.get_object()
        delivery = hook.deliveries.select_related("event").filter(pk=int(delivery_id)).first()
        if delivery is None:
            raise NotFound("Delivery not found.")
        delivery = services.delivery_redeliver(delivery=delivery)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
