from django.urls import path

from sessions_app.views import SessionViewSet

session_list = SessionViewSet.as_view({"get": "list", "post": "create"})
session_detail = SessionViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
session_stop = SessionViewSet.as_view({"post": "stop"})
session_commits = SessionViewSet.as_view({"post": "commits"})
session_current = SessionViewSet.as_view({"get": "current"})
session_current_stop = SessionViewSet.as_view({"post": "current_stop"})
session_stats = SessionViewSet.as_view({"get": "stats"})
session_export = SessionViewSet.as_view({"get": "export"})

urlpatterns = [
    path("repos/<hexid:repo_id>/sessions", session_list, name="session-list"),
    # Words before ids: none of them is 64 hex characters, but no route should depend on it.
    path("repos/<hexid:repo_id>/sessions/current", session_current, name="session-current"),
    path("repos/<hexid:repo_id>/sessions/current/stop", session_current_stop, name="session-current-stop"),
    path("repos/<hexid:repo_id>/sessions/stats", session_stats, name="session-stats"),
    path("repos/<hexid:repo_id>/sessions/export", session_export, name="session-export"),
    path("repos/<hexid:repo_id>/sessions/<hexid:session_id>", session_detail, name="session-detail"),
    path("repos/<hexid:repo_id>/sessions/<hexid:session_id>/stop", session_stop, name="session-stop"),
    path("repos/<hexid:repo_id>/sessions/<hexid:session_id>/commits", session_commits, name="session-commits"),
]
