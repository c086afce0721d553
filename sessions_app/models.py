"""Recording sessions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from repos_app.models import Repo


class Session(models.Model):
    """A recording session on one repo: who played, where, what for, and when."""

    session_id = models.CharField("session id", max_length=64, primary_key=True, editable=False)
    # No index of its own: session_repo_newest_idx starts with repo_id and serves every
    # lookup by repo (and the cascade of a repo's delete); another would only cost inserts.
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="sessions", db_index=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recording_sessions",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    participants = models.JSONField(default=list, blank=True)
    commits = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True, default="")
    intent = models.TextField(blank=True, default="")
    location = models.CharField(max_length=255, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "recording session"
        verbose_name_plural = "recording sessions"
        ordering = ["-started_at", "-session_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ended_not_before_started",
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, ended_at__isnull=True) | Q(is_active=False, ended_at__isnull=False),
                name="session_active_iff_not_ended",
            ),
        ]
        indexes = [
            # GET /repos/{id}/sessions: a repo's newest sessions, keyset-paginated.
            models.Index(fields=["repo", "-started_at", "-session_id"], name="session_repo_newest_idx"),
            # GET /repos/{id}/sessions?active=true on a repo with a million finished ones.
            models.Index(
                fields=["repo", "-started_at", "-session_id"],
                condition=Q(is_active=True),
                name="session_repo_active_idx",
            ),
            # The admin's sessions list: newest first across every repo (100,000 rows: an
            # index scan of one page instead of sorting the table).
            models.Index(fields=["-started_at", "-session_id"], name="session_newest_idx"),
            # stop_stale_sessions: active sessions started before a cutoff, any repo.
            models.Index(fields=["started_at"], condition=Q(is_active=True), name="session_active_started_idx"),
        ]
        # On PostgreSQL, ``?participant=`` and ``?tag=`` (jsonb containment, ``@>``) are also
        # served by GIN indexes on those columns (``jsonb_path_ops``): migration 0004 creates
        # them there only, as SQLite has no such index.

    def __str__(self) -> str:
        return f"session {self.session_id[:12]}"

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end; None while the session is active."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
