"""Events (the numbered log of session changes), webhooks and their deliveries."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from repos_app.models import Repo


class EventType(models.TextChoices):
    """What happened to a session (SPEC "Events"). Each has a bit in ``Hook.events_mask``."""

    SESSION_CREATED = "session.created", "session.created"
    SESSION_STOPPED = "session.stopped", "session.stopped"
    SESSION_UPDATED = "session.updated", "session.updated"
    SESSION_COMMITS_ADDED = "session.commits_added", "session.commits_added"
    SESSION_DELETED = "session.deleted", "session.deleted"


#: The type of a hook's test delivery (``POST .../ping``); never in the event log.
PING = "ping"
#: Each event type's bit in ``Hook.events_mask``: the fan-out filters hooks with one AND,
#: the same SQL on PostgreSQL and SQLite (a JSON list would need each one's JSON operators).
EVENT_BITS: dict[str, int] = {event_type: 1 << n for n, event_type in enumerate(EventType.values)}
ALL_EVENTS_MASK = sum(EVENT_BITS.values())


def events_to_mask(events: list[str]) -> int:
    return sum(EVENT_BITS[event_type] for event_type in set(events))


def mask_to_events(mask: int) -> list[str]:
    """The types in ``mask``, in the order SPEC lists them."""
    return [event_type for event_type, bit in EVENT_BITS.items() if mask & bit]


class EventSequence(models.Model):
    """The last event number given out in a repo.

    The writing transaction bumps it (``INSERT ... ON CONFLICT DO UPDATE``) and holds its row
    lock until it commits: that is what makes the feed gap-free (``events_app.services``).
    A separate row, not ``MAX(event_id)``: pruning old events never lets a number come back.
    """

    repo = models.OneToOneField(Repo, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "event sequence"

    def __str__(self) -> str:
        return f"events of {self.repo_id[:12]}: {self.last}"


class Event(models.Model):
    """One change to a session, numbered within its repo (``event_id``: 1, 2, 3, ...)."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="events", db_index=False)
    event_id = models.BigIntegerField("event id")
    type = models.CharField(max_length=40, choices=EventType.choices)
    session_id = models.CharField("session id", max_length=64)
    # Null (not ""): the API shows null for a change no user made (a command).
    actor = models.CharField(max_length=150, null=True, blank=True, help_text="Username; null for commands.")  # noqa: DJ001
    occurred_at = models.DateTimeField(default=timezone.now)
    #: The session after the change (before it, for a delete) as the API renders it: compact
    #: JSON text, kept byte for byte so every delivery of the event signs the same body.
    session = models.TextField()

    class Meta:
        verbose_name = "event"
        ordering = ["repo", "event_id"]
        constraints = [
            # Also the feed's index: a repo's events after N, oldest first.
            models.UniqueConstraint(fields=["repo", "event_id"], name="event_repo_number_uniq"),
        ]
        indexes = [models.Index(fields=["occurred_at"], name="event_occurred_idx")]  # prune_events

    def __str__(self) -> str:
        return f"{self.type} #{self.event_id} in {self.repo_id[:12]}"


class Hook(models.Model):
    """A webhook: the repo's events POSTed, signed with its secret, to ``url``."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="hooks")
    url = models.CharField("URL", max_length=2000)
    #: Fernet token of the secret (``events_app.crypto``); never shown, never logged.
    secret_encrypted = models.TextField(editable=False)
    events_mask = models.PositiveIntegerField(default=ALL_EVENTS_MASK)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    #: While a worker is sending to this hook: one attempt per hook at a time, so a receiver
    #: that hangs ties up one worker thread, never all of them.
    busy_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "webhook"
        ordering = ["repo", "id"]

    def __str__(self) -> str:
        return f"hook {self.pk} → {self.url}"

    @property
    def events(self) -> list[str]:
        return mask_to_events(self.events_mask)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"


class Delivery(models.Model):
    """One event (or ping) to send to one hook, and how its attempts went.

    The rows commit with their event (the outbox); a worker claims a row for an attempt
    with a lease (``lease_until``), so an attempt cut short by a dead worker is retried
    once the lease runs out, and two copies of a task never both send.
    """

    hook = models.ForeignKey(Hook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    type = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    #: Null: the backoff's own count (delays + 1); a redelivery allows one attempt more.
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    #: When a message for it was last put on the queue by the sweep or a retry: the sweep
    #: does not queue it again while one is on its way.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        ordering = ["-id"]
        indexes = [
            # GET .../hooks/{id}/deliveries: newest first (the id grows with time).
            models.Index(fields=["hook", "-id"], name="delivery_hook_newest_idx"),
            # The sweep and a hook's next delivery: what is pending, by when it is due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending_due_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.type}, {self.status})"
