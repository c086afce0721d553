from django.urls import path, register_converter

from events_app.views import EventFeedView, HookViewSet


class DatabaseIdConverter:
    """A hook or delivery id: at most 18 digits, so a longer one is a 404 and never an
    integer the database cannot hold."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


register_converter(DatabaseIdConverter, "dbid")

hook_list = HookViewSet.as_view({"get": "list", "post": "create"})
hook_detail = HookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
hook_ping = HookViewSet.as_view({"post": "ping"})
hook_deliveries = HookViewSet.as_view({"get": "deliveries"})
hook_redeliver = HookViewSet.as_view({"post": "redeliver"})

_HOOK = "repos/<hexid:repo_id>/hooks/<dbid:hook_id>"

urlpatterns = [
    path("repos/<hexid:repo_id>/events", EventFeedView.as_view(), name="event-feed"),
    path("repos/<hexid:repo_id>/hooks", hook_list, name="hook-list"),
    path(_HOOK, hook_detail, name="hook-detail"),
    path(f"{_HOOK}/ping", hook_ping, name="hook-ping"),
    path(f"{_HOOK}/deliveries", hook_deliveries, name="hook-deliveries"),
    path(f"{_HOOK}/deliveries/<dbid:delivery_id>/redeliver", hook_redeliver, name="hook-redeliver"),
]
