from django.urls import path

from sessions_app.views import SessionViewSet

session_list = SessionViewSet.as_view({"get": "list", "post": "create"})
session_detail = SessionViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
session_stop = SessionViewSet.as_view({"post": "stop"})
session_commits = SessionViewSet.as_view({"post": "commits"})

urlpatterns = [
    path("repos/<hexid:repo_id>/sessions", session_list, name="session-list"),
    path("repos/<hexid:repo_id>/sessions/<hexid:session_id>", session_detail, name="session-detail"),
    path("repos/<hexid:repo_id>/sessions/<hexid:session_id>/stop", session_stop, name="session-stop"),
    path("repos/<hexid:repo_id>/sessions/<hexid:session_id>/commits", session_commits, name="session-commits"),
]
