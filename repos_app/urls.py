from django.urls import path

from repos_app.views import CollaboratorViewSet, RepoViewSet

repo_list = RepoViewSet.as_view({"get": "list", "post": "create"})
repo_detail = RepoViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
collaborator_list = CollaboratorViewSet.as_view({"get": "list"})
collaborator_detail = CollaboratorViewSet.as_view({"put": "update", "delete": "destroy"})

urlpatterns = [
    path("repos", repo_list, name="repo-list"),
    path("repos/<hexid:repo_id>", repo_detail, name="repo-detail"),
    path("repos/<hexid:repo_id>/collaborators", collaborator_list, name="collaborator-list"),
    path("repos/<hexid:repo_id>/collaborators/<str:username>", collaborator_detail, name="collaborator-detail"),
]
