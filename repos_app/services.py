"""Repo rules: creating, changing and deleting repos, and sharing them."""

from __future__ import annotations

import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from musehub.api.pagination import KeysetPage, keyset_page
from musehub.api.timestamps import format_timestamp
from musehub.errors import ConflictError, NotFoundError
from musehub.genesis import compute_identity_id, compute_repo_id
from repos_app.models import Collaborator, Permission, Repo, Visibility

#: Columns read for API rows (``owner__username`` is the owner's name).
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


def _slug_for(name: str) -> str:
    """The URL-friendly form of a repo name: "Café Über" -> "cafe-uber".

    ASCII when dropping accents is all it takes; a name with letters that have no ASCII
    form keeps them ("夜のドライブ 2" -> "夜のドライブ-2") instead of losing them.
    """
    ascii_is_enough = all(
        char.isascii() or unicodedata.combining(char) or not char.isalnum()
        for char in unicodedata.normalize("NFKD", name)
    )
    slug = slugify(name, allow_unicode=not ascii_is_enough)[:100].strip("-")
    if not slug:
        raise ValidationError({"name": ["The name must contain at least one letter or digit."]})
    return slug


def _ensure_slug_free(*, owner, slug: str, exclude_repo_id: str | None = None) -> None:
    taken = Repo.objects.filter(owner=owner, slug=slug)
    if exclude_repo_id is not None:
        taken = taken.exclude(pk=exclude_repo_id)
    if taken.exists():
        raise ConflictError(f"You already have a repo with the slug '{slug}'.")


@transaction.atomic(savepoint=False)
def repo_create(
    *,
    owner,
    name: str,
    visibility: str = Visibility.PRIVATE,
    description: str = "",
    domain: str = "code",
) -> Repo:
    """Create a repo owned by ``owner``; its slug comes from ``name`` (409 if taken)."""
    slug = _slug_for(name)
    _ensure_slug_free(owner=owner, slug=slug)
    now = timezone.now()
    repo_id = compute_repo_id(
        compute_identity_id(owner.get_username().encode("utf-8")), slug, domain, format_timestamp(now)
    )
    return Repo.objects.create(
        repo_id=repo_id,
        owner=owner,
        name=name,
        slug=slug,
        domain=domain,
        visibility=visibility,
        description=description,
        created_at=now,
        updated_at=now,
    )


@transaction.atomic(savepoint=False)
def repo_update(
    *,
    repo: Repo,
    name: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
) -> Repo:
    """Change a repo's name (and so its slug), description or visibility."""
    changed = []
    if name is not None and name != repo.name:
        slug = _slug_for(name)
        if slug != repo.slug:
            _ensure_slug_free(owner=repo.owner_id, slug=slug, exclude_repo_id=repo.pk)
        repo.name, repo.slug = name, slug
        changed += ["name", "slug"]
    if description is not None and description != repo.description:
        repo.description = description
        changed.append("description")
    if visibility is not None and visibility != repo.visibility:
        repo.visibility = visibility
        changed.append("visibility")
    if changed:
        repo.updated_at = timezone.now()
        repo.save(update_fields=[*changed, "updated_at"])
    return repo


@transaction.atomic(savepoint=False)
def repo_delete(*, repo: Repo) -> None:
    """Delete a repo with its sessions and collaborators (single DELETE statements)."""
    # Lock the repo row first, as a session create does (sessions_app.services): a create in
    # flight commits before its sessions are collected, and one arriving later finds no repo.
    # Unlocked, a session committed between the two DELETEs broke the foreign key (a 500).
    Repo.objects.select_for_update().filter(pk=repo.pk).exists()
    repo.delete()


def _can_be_username(name: str) -> bool:
    """False for a string no user can have: longer than the field, or holding U+0000
    (which PostgreSQL cannot even compare with a column)."""
    user_model = get_user_model()
    return "\x00" not in name and len(name) <= user_model._meta.get_field(user_model.USERNAME_FIELD).max_length


def _user_by_username(username: str):
    # A name no user can have is simply an unknown user.
    user = get_user_model().objects.filter(username=username).first() if _can_be_username(username) else None
    if user is None:
        raise NotFoundError(f"No user named '{username}'.")
    return user


@transaction.atomic(savepoint=False)
def collaborator_set(*, repo: Repo, username: str, permission: str) -> tuple[Collaborator, bool]:
    """Share ``repo`` with ``username`` (or change their permission). Returns (grant, created)."""
    if permission not in Permission.values:
        raise ValidationError({"permission": [f"Must be one of: {', '.join(Permission.values)}."]})
    user = _user_by_username(username)
    if user.pk == repo.owner_id:
        raise ValidationError({"username": ["The owner already has every permission on the repo."]})
    grant, created = Collaborator.objects.select_for_update().get_or_create(
        repo=repo, user=user, defaults={"permission": permission}
    )
    if not created and grant.permission != permission:
        grant.permission = permission
        grant.save(update_fields=["permission"])
    return grant, created


@transaction.atomic(savepoint=False)
def collaborator_remove(*, repo: Repo, username: str) -> None:
    """Revoke a collaborator's access; effective from the next request."""
    user = _user_by_username(username)
    deleted, _ = Collaborator.objects.filter(repo=repo, user=user).delete()
    if not deleted:
        raise NotFoundError(f"'{username}' is not a collaborator on this repo.")


def list_repos(*, user, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> KeysetPage:
    """The repos ``user`` may read, newest first, one keyset page at a time."""
    queryset = Repo.objects.all()
    if owner:
        if not _can_be_username(owner):
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
