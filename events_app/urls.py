from django.urls import path, re_path

from events_app.views import EventFeedView, HookViewSet

hook_list = HookViewSet.as_view({"get": "list", "post": "create"})
hook_detail = HookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
hook_ping = HookViewSet.as_view({"post": "ping"})
hook_deliveries = HookViewSet.as_view({"get": "deliveries"})
hook_redeliver = HookViewSet.as_view({"post": "redeliver"})

# Hook and delivery ids are database ids: at most 18 digits, so a longer one is a 404 and
# never an integer the database cannot hold.
_HOOK = r"^repos/(?P<repo_id>[0-9a-f]{64})/hooks/(?P<hook_id>[0-9]{1,18})"

urlpatterns = [
    path("repos/<hexid:repo_id>/events", EventFeedView.as_view(), name="event-feed"),
    path("repos/<hexid:repo_id>/hooks", hook_list, name="hook-list"),
    re_path(_HOOK + r"\Z", hook_detail, name="hook-detail"),
    re_path(_HOOK + r"/ping\Z", hook_ping, name="hook-ping"),
    re_path(_HOOK + r"/deliveries\Z", hook_deliveries, name="hook-deliveries"),
    re_path(_HOOK + r"/deliveries/(?P<delivery_id>[0-9]{1,18})/redeliver\Z", hook_redeliver, name="hook-redeliver"),
]
