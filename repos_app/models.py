"""Repositories and collaborators."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Visibility(models.TextChoices):
    PUBLIC = "public", "public"
    PRIVATE = "private", "private"


class Permission(models.TextChoices):
    READ = "read", "read"
    WRITE = "write", "write"


class Role:
    """What the caller is to a repo (a repo row's ``caller_role``: ``repos_app.selectors``)."""

    OWNER = "owner"
    WRITE = Permission.WRITE.value
    READ = Permission.READ.value
    NONE = None

    CAN_READ = frozenset({OWNER, WRITE, READ})
    CAN_WRITE = frozenset({OWNER, WRITE})


class RepoQuerySet(models.QuerySet):
    def for_user(self, user) -> RepoQuerySet:
        """The repos ``user`` may read: public ones, plus their own and those shared with them."""
        visible = Q(visibility=Visibility.PUBLIC)
        if user is not None and user.is_authenticated:
            visible |= Q(owner_id=user.pk) | Q(pk__in=Collaborator.objects.filter(user_id=user.pk).values("repo_id"))
        return self.filter(visible)

    def count_for_user(self, user) -> int:
        """``self.for_user(user).count()``, without reading every repo to find out.

        The OR of ``for_user`` cannot use an index, so counting through it scans the whole
        table. Split into disjoint parts (public; the caller's own private ones; private
        ones shared with them), each part is an index scan and one UNION ALL adds them up.
        """
        public = self.filter(visibility=Visibility.PUBLIC)
        if user is None or not user.is_authenticated:
            return public.order_by().count()
        private = self.exclude(visibility=Visibility.PUBLIC).order_by()
        own = private.filter(owner_id=user.pk)
        shared = private.exclude(owner_id=user.pk).filter(
            pk__in=Collaborator.objects.filter(user_id=user.pk).values("repo_id")
        )
        return public.order_by().values("pk").union(own.values("pk"), shared.values("pk"), all=True).count()


class Repo(models.Model):
    """A Muse repository: the parent of recording sessions."""

    repo_id = models.CharField("repo id", max_length=64, primary_key=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="repos")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, allow_unicode=True)
    domain = models.CharField(max_length=32, default="code", help_text="The repo's Muse domain.")
    visibility = models.CharField(max_length=7, choices=Visibility.choices, default=Visibility.PRIVATE)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Kept exact by the session services in the transaction that creates or deletes a
    # session: listing a repo with a million sessions reads this instead of COUNT(*).
    session_count = models.PositiveBigIntegerField(default=0, editable=False)

    objects = RepoQuerySet.as_manager()

    class Meta:
        verbose_name = "repository"
        verbose_name_plural = "repositories"
        ordering = ["-created_at", "-repo_id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "slug"], name="repo_unique_owner_slug"),
            models.CheckConstraint(condition=Q(visibility__in=Visibility.values), name="repo_visibility_valid"),
        ]
        indexes = [
            # GET /repos: newest first, keyset-paginated.
            models.Index(fields=["-created_at", "-repo_id"], name="repo_newest_idx"),
            # GET /repos?owner=...
            models.Index(fields=["owner", "-created_at", "-repo_id"], name="repo_owner_newest_idx"),
            # GET /repos for anonymous callers, and counting public repos for ``total``.
            models.Index(
                fields=["-created_at", "-repo_id"],
                condition=Q(visibility=Visibility.PUBLIC),
                name="repo_public_newest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner.username}/{self.slug}" if self.owner_id else self.slug

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC


class Collaborator(models.Model):
    """A user the owner shared a repo with, with read or write permission."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="collaborators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collaborations")
    permission = models.CharField(max_length=5, choices=Permission.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "collaborator"
        ordering = ["repo", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["repo", "user"], name="collaborator_unique_repo_user"),
            models.CheckConstraint(condition=Q(permission__in=Permission.values), name="collaborator_permission_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.permission}) on {self.repo_id[:12]}"
