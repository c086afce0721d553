"""Who may do what with a repo: SPEC "Permissions", implemented once.

Every repo and session view resolves its repo through ``RepoAccessMixin.get_repo()`` and
combines these predicates. How a refusal is answered follows from DRF and one rule here:
- a signed-in caller who may not read a private repo gets 404, exactly as if it did not
  exist (``get_repo``), so its existence does not leak;
- otherwise a failed predicate is 403 for a signed-in caller and 401 for an anonymous one
  (DRF's ``permission_denied``), which is also how a private repo answers anonymous reads.
"""

from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from repos_app.models import Repo, RepoAccess, Role


def can_read(repo: Repo | RepoAccess) -> bool:
    return repo.is_public or repo.caller_role in Role.CAN_READ


class CanReadRepo(BasePermission):
    """Anyone may read a public repo; a private one needs a role on it."""

    def has_object_permission(self, request, view, obj: Repo) -> bool:
        return can_read(obj)


class IsRepoMember(BasePermission):
    """The owner and collaborators (e.g. to see who else is on the repo)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj: Repo) -> bool:
        return obj.caller_role in Role.CAN_READ


class CanWriteRepo(BasePermission):
    """The owner and write collaborators may record and change sessions."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj: Repo) -> bool:
        return obj.caller_role in Role.CAN_WRITE


class IsRepoOwner(BasePermission):
    """Only the owner may change the repo itself or manage its collaborators."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj: Repo) -> bool:
        return obj.caller_role == Role.OWNER


class RepoAccessMixin:
    """For views under ``/repos/{repo_id}``: resolve the repo once, with the caller's role.

    DRF skips object permissions on list and create, so this lookup is what guards the
    nested routes. It costs one query (the role is a subquery of the same statement).
    """

    repo_url_kwarg = "repo_id"

    def get_repo(self) -> Repo | RepoAccess:
        repo = getattr(self, "_repo", None)
        if repo is not None:
            return repo
        request = self.request
        repo = self.load_repo(self.kwargs[self.repo_url_kwarg])
        if repo is None or (not can_read(repo) and request.user.is_authenticated):
            raise NotFound()
        self.check_object_permissions(request, repo)
        self._repo = repo
        return repo

    def load_repo(self, repo_id: str) -> Repo | None:
        """The repo annotated with ``caller_role``, or None. A view that needs less of it
        (the session routes: ``RepoAccess``) overrides this with a cheaper read."""
        return Repo.objects.with_role(self.request.user).select_related("owner").filter(pk=repo_id).first()
