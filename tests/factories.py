"""Factories: users through factory_boy; repos and sessions through the services,
exactly as the API creates them (so the repo's session count stays exact)."""

from __future__ import annotations

import secrets
from datetime import datetime

import factory
from django.contrib.auth import get_user_model
from knox.models import AuthToken

from repos_app.models import Collaborator, Repo
from repos_app.services import repo_create
from sessions_app.models import Session
from sessions_app.services import session_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")


def make_token(user) -> str:
    """Issue a token for ``user``; returns the raw token."""
    _, token = AuthToken.objects.create(user=user)
    return token


def auth_header(token: str) -> dict[str, str]:
    """Request headers that sign in with ``token`` (``client.get(url, headers=...)``)."""
    return {"Authorization": f"Bearer {token}"}


def make_repo(*, owner=None, visibility: str = "public", name: str | None = None, description: str = "") -> Repo:
    owner = owner or UserFactory(username="testuser")
    row = repo_create(
        owner=owner,
        name=name or f"sess-repo-{secrets.token_hex(4)}",
        visibility=visibility,
        description=description,
    )
    return Repo.objects.select_related("owner").get(pk=row["repo_id"])


def make_session(
    repo: Repo,
    *,
    author=None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    participants: list[str] | None = None,
    location: str = "Test Studio",
    intent: str = "test intent",
    notes: str | None = None,
    commits: list[str] | None = None,
    tags: list[str] | None = None,
) -> Session:
    given = {"started_at": started_at, "ended_at": ended_at, "notes": notes, "commits": commits, "tags": tags}
    row, created = session_create(
        repo_id=repo.pk,
        author=author or repo.owner,
        participants=participants or [],
        location=location,
        intent=intent,
        **{name: value for name, value in given.items() if value is not None},
    )
    assert created, "make_session must create a new session"
    return Session.objects.select_related("author").get(pk=row["session_id"])


def share(repo: Repo, user, permission: str) -> Collaborator:
    return Collaborator.objects.create(repo=repo, user=user, permission=permission)
