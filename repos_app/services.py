"""Repo rules: creating, changing and deleting repos, and sharing them. The API, the admin
and the commands all come through here, with ids and cleaned values; a repo comes back as
a row (``repos_app.selectors.REPO_ROW_FIELDS``)."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from musehub.core.errors import ConflictError, NotFoundError
from musehub.core.timestamps import format_timestamp
from musehub.genesis import compute_identity_id, compute_repo_id
from repos_app.models import Collaborator, Permission, Repo, Visibility
from repos_app.selectors import REPO_NOT_FOUND, REPO_ROW_FIELDS, user_by_username

Row = dict[str, Any]


def repo_slug(name: str) -> str:
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


def repo_check_slug_free(*, owner_id: int, slug: str, repo_id: str | None = None) -> None:
    """``ConflictError`` when the owner has another repo (not ``repo_id``) with ``slug``."""
    taken = Repo.objects.filter(owner_id=owner_id, slug=slug)
    if repo_id is not None:
        taken = taken.exclude(pk=repo_id)
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
) -> Row:
    """Create a repo owned by ``owner``; its slug comes from ``name`` (409 if taken)."""
    slug = repo_slug(name)
    repo_check_slug_free(owner_id=owner.pk, slug=slug)
    now = timezone.now()
    repo_id = compute_repo_id(
        compute_identity_id(owner.get_username().encode("utf-8")), slug, domain, format_timestamp(now)
    )
    repo = Repo.objects.create(
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
    return {name: getattr(repo, name) for name in REPO_ROW_FIELDS if "__" not in name} | {
        "owner__username": owner.get_username()
    }


@transaction.atomic(savepoint=False)
def repo_update(
    *, repo_id: str, name: str | None = None, description: str | None = None, visibility: str | None = None
) -> Row:
    """Change a repo's name (and so its slug), description or visibility."""
    repo = Repo.objects.select_for_update().filter(pk=repo_id).first()
    if repo is None:
        raise NotFoundError(REPO_NOT_FOUND)
    changed = []
    if name is not None and name != repo.name:
        slug = repo_slug(name)
        if slug != repo.slug:
            repo_check_slug_free(owner_id=repo.owner_id, slug=slug, repo_id=repo_id)
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
    return _row(repo_id)


@transaction.atomic(savepoint=False)
def repo_delete(*, repo_id: str) -> None:
    """Delete a repo with its sessions and collaborators (single DELETE statements)."""
    # Lock the repo row first, as a session create does (sessions_app.services): a create in
    # flight commits before its sessions are collected, and one arriving later finds no repo.
    # Unlocked, a session committed between the two DELETEs broke the foreign key (a 500).
    repo = Repo.objects.select_for_update().filter(pk=repo_id).first()
    if repo is None:
        raise NotFoundError(REPO_NOT_FOUND)
    repo.delete()


@transaction.atomic(savepoint=False)
def collaborator_set(*, repo_id: str, username: str, permission: str) -> tuple[dict[str, str], bool]:
    """Share the repo with ``username`` (or change their permission).

    Returns ``({"username", "permission"}, created)``.
    """
    if permission not in Permission.values:
        raise ValidationError({"permission": [f"Must be one of: {', '.join(Permission.values)}."]})
    user = user_by_username(username)
    owner_id = Repo.objects.filter(pk=repo_id).values_list("owner_id", flat=True).first()
    if owner_id is None:
        raise NotFoundError(REPO_NOT_FOUND)
    if user.pk == owner_id:
        raise ValidationError({"username": ["The owner already has every permission on the repo."]})
    grant, created = Collaborator.objects.select_for_update().get_or_create(
        repo_id=repo_id, user=user, defaults={"permission": permission}
    )
    if not created and grant.permission != permission:
        grant.permission = permission
        grant.save(update_fields=["permission"])
    return {"username": user.get_username(), "permission": grant.permission}, created


@transaction.atomic(savepoint=False)
def collaborator_remove(*, repo_id: str, username: str) -> None:
    """Revoke a collaborator's access; effective from the next request."""
    user = user_by_username(username)
    deleted, _ = Collaborator.objects.filter(repo_id=repo_id, user=user).delete()
    if not deleted:
        raise NotFoundError(f"'{username}' is not a collaborator on this repo.")


def _row(repo_id: str) -> Row:
    return Repo.objects.filter(pk=repo_id).values(*REPO_ROW_FIELDS).get()
