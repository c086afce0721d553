"""Who may do what with a repo: SPEC "Permissions", implemented once.

Every repo and session view resolves its repo through ``RepoScopedMixin.get_repo()`` (a
repo row with the caller's role, ``repos_app.selectors.repo_get``) and combines these
predicates. One exception: a session create's insert checks ``CanWriteRepo``'s rule itself
(``repos_app.selectors.repo_writable_sql``), and the view asks ``get_repo()`` only when it
refused, for the answer. How a refusal is answered follows from DRF and one rule here:
- a signed-in caller who may not read a private repo gets 404, exactly as if it did not
  exist (``get_repo``), so its existence does not leak;
- otherwise a failed predicate is 403 for a signed-in caller and 401 for an anonymous one
  (DRF's ``permission_denied``), which is also how a private repo answers anonymous reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.permissions import BasePermission

from musehub.core.errors import NotFoundError
from repos_app.models import Role, Visibility
from repos_app.selectors import REPO_NOT_FOUND, repo_get


def can_read(repo: Mapping[str, Any]) -> bool:
    return repo["visibility"] == Visibility.PUBLIC or repo["caller_role"] in Role.CAN_READ


class CanReadRepo(BasePermission):
    """Anyone may read a public repo; a private one needs a role on it."""

    def has_object_permission(self, request, view, obj) -> bool:
        return can_read(obj)


class IsRepoMember(BasePermission):
    """The owner and collaborators (e.g. to see who else is on the repo)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        return obj["caller_role"] in Role.CAN_READ


class CanWriteRepo(BasePermission):
    """The owner and write collaborators may record and change sessions."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        return obj["caller_role"] in Role.CAN_WRITE


class IsRepoOwner(BasePermission):
    """Only the owner may change the repo itself or manage its collaborators."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        return obj["caller_role"] == Role.OWNER


class RepoScopedMixin:
    """For views under ``/repos/{repo_id}``: resolve the repo once, with the caller's role.

    DRF skips object permissions on list and create, so this lookup is what guards the
    nested routes (a create's insert applies ``CanWriteRepo``'s rule itself). It costs one
    query (the role is a subquery of the same statement).
    """

    repo_url_kwarg = "repo_id"

    def get_repo(self) -> dict[str, Any]:
        repo = getattr(self, "_repo", None)
        if repo is None:
            repo = self.admit_repo(repo_get(repo_id=self.kwargs[self.repo_url_kwarg], user=self.request.user))
        return repo

    def admit_repo(self, repo: dict[str, Any]) -> dict[str, Any]:
        """``repo`` (a row with ``caller_role``, read by ``repo_get`` or with more in the same
        statement) when the caller may take this view's action on it, else the refusal;
        from then on it is the view's repo (``get_repo``)."""
        request = self.request
        if not can_read(repo) and request.user.is_authenticated:
            # The very answer a missing repo gets: its existence must not leak.
            raise NotFoundError(REPO_NOT_FOUND)
        self.check_object_permissions(request, repo)
        self._repo = repo
        return repo

    def get_object(self) -> dict[str, Any]:
        """DRF's lookup hook (OPTIONS calls it): the repo, through the permission layer."""
        return self.get_repo()
