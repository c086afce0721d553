"""Reading repos: one repo with the caller's role on it, the repos a caller can read, and
a repo's collaborators.

A repo is read as a row (``REPO_ROW_FIELDS``, plus ``caller_role`` where the caller
matters), the one shape the API renders with ``repos_app.render.repo_body`` and the
permission predicates judge; "no such repo" is ``NotFoundError``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, OuterRef, QuerySet, Subquery, Value, When

from musehub.core.compiled import CompiledQuery
from musehub.core.errors import NotFoundError
from musehub.core.keyset import KeysetPage, keyset_page
from repos_app.models import Collaborator, Repo, Role

REPO_NOT_FOUND = "Repo not found."


class RepoNotWritableError(NotFoundError):
    """A write made only if the caller may write to the repo (``repo_writable_sql``) was not
    made: there is no such repo, or the caller may not write to it. Answered as a missing
    repo, unless the caller asks the permission predicates why (a repo the caller may read
    is 403 there)."""

    def __init__(self) -> None:
        super().__init__(REPO_NOT_FOUND)


#: The columns of a repo row (``owner__username`` is the owner's name).
REPO_ROW_FIELDS = (
    "repo_id",
    "name",
    "slug",
    "owner__username",
    "visibility",
    "description",
    "created_at",
    "updated_at",
    "session_count",
)


def _role_of(user_id, owner_role) -> Case:
    """The role of user ``user_id`` on each repo: ``owner_role`` (``Role.OWNER``), write,
    read or None (one subquery in the same statement, so a repo and the caller's rights
    cost one query). The owner's role is a parameter so that the statement compiles once."""
    grant = (
        # No ordering: at most one row matches, and Collaborator's default ordering would
        # join repo and user into the subquery.
        Collaborator.objects.filter(repo=OuterRef("pk"), user_id=user_id).order_by().values("permission")[:1]
    )
    return Case(
        When(owner_id=user_id, then=Value(owner_role)),
        default=Subquery(grant),
        output_field=CharField(),
    )


def repo_for_caller(repo_id, user_id, owner_role) -> QuerySet:
    """Repo ``repo_id`` with ``caller_role`` annotated: the query behind ``repo_get``, for
    reads that take more in the same statement (a session route reads its session too).
    Its parameters are ``repo_get``'s placeholders: compile it (``CompiledQuery``, with
    ``user_id`` an integer) and call with ``caller_id(user)`` and ``Role.OWNER``."""
    return Repo.objects.filter(pk=repo_id).order_by().annotate(caller_role=_role_of(user_id, owner_role))


def caller_id(user) -> int | None:
    """The user's id, None for an anonymous caller (NULL: it matches no owner and no grant)."""
    return user.pk if user is not None and user.is_authenticated else None


# Every request under /repos/{repoId} runs this: compiled once (musehub.core.compiled).
_REPO_FOR_CALLER = CompiledQuery(
    lambda repo_id, user_id, owner_role: repo_for_caller(repo_id, user_id, owner_role).values(
        *REPO_ROW_FIELDS, "caller_role"
    ),
    integers=("user_id",),
)


# The repo, if the caller may write to it, as a subquery of a write made only then
# (``repo_writable_sql``): CanWriteRepo's rule, a role in ``Role.CAN_WRITE`` (owner, write).
_REPO_WRITABLE = CompiledQuery(
    lambda repo_id, user_id, owner_role, write_role: (
        repo_for_caller(repo_id, user_id, owner_role).filter(caller_role__in=(owner_role, write_role)).values("repo_id")
    ),
    integers=("user_id",),
)


def repo_writable_sql(*, repo_id: str, user) -> tuple[str, list[Any]]:
    """A ``SELECT`` (and its values) that finds repo ``repo_id`` when ``user`` may write to
    it, and no row when the repo is missing or the user may not: for a statement that
    writes only if the caller may, so that the check and the write are one round trip.
    Why a caller was refused is then ``repo_get``'s and the permission predicates' to say."""
    return _REPO_WRITABLE.sql(repo_id=repo_id, user_id=caller_id(user), owner_role=Role.OWNER, write_role=Role.WRITE)


def repo_get(*, repo_id: str, user) -> dict[str, Any]:
    """Repo ``repo_id`` as a row, with ``caller_role``: what ``user`` is to it (owner,
    write, read or None). ``NotFoundError`` when there is no such repo; whether the caller
    may see it is for the permission predicates (``repos_app.permissions``)."""
    rows = _REPO_FOR_CALLER.fetch(repo_id=repo_id, user_id=caller_id(user), owner_role=Role.OWNER)
    if not rows:
        raise NotFoundError(REPO_NOT_FOUND)
    return rows[0]


def repo_list(*, user, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> KeysetPage:
    """The repos ``user`` may read, newest first, one keyset page at a time."""
    queryset = Repo.objects.all()
    if owner:
        if not can_be_username(owner):
            raise ValidationError({"owner": ["Must be a username."]})
        queryset = queryset.filter(owner__username=owner)
    return keyset_page(
        queryset.for_user(user).values(*REPO_ROW_FIELDS),
        keys=("created_at", "repo_id"),
        limit=limit,
        cursor=cursor,
        # Not a count through the page's query (an OR over every repo, plus the owner join).
        count=lambda: queryset.count_for_user(user),
    )


def collaborator_list(*, repo_id: str) -> list[dict[str, str]]:
    """Who repo ``repo_id`` is shared with: ``{"username", "permission"}``, by username."""
    return [
        {"username": username, "permission": permission}
        for username, permission in Collaborator.objects.filter(repo_id=repo_id)
        .order_by("user__username")
        .values_list("user__username", "permission")
    ]


def can_be_username(name: str) -> bool:
    """False for a string no user can have: longer than the field, or holding U+0000
    (which PostgreSQL cannot even compare with a column)."""
    user_model = get_user_model()
    return "\x00" not in name and len(name) <= user_model._meta.get_field(user_model.USERNAME_FIELD).max_length


def user_by_username(username: str):
    """The user named ``username``; ``NotFoundError`` when there is none."""
    # A name no user can have is simply an unknown user.
    user = get_user_model().objects.filter(username=username).first() if can_be_username(username) else None
    if user is None:
        raise NotFoundError(f"No user named '{username}'.")
    return user
