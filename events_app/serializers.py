"""Event, hook and delivery shapes (snake_case here; camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from events_app.models import Delivery, EventType, Hook
from events_app.outbound import MAX_URL_LENGTH
from events_app.services import MAX_SECRET, MIN_SECRET
from musehub.api.fields import StrictBooleanField, StrictCharField, TimestampField


class EventTypeField(serializers.ChoiceField):
    """One of the event types; the error names them and never echoes the input."""

    def __init__(self, **kwargs):
        super().__init__(EventType.choices, **kwargs)
        self.error_messages["invalid_choice"] = f"Must be one of: {', '.join(EventType.values)}."

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input="")
        return super().to_internal_value(data)


class _HookFields(serializers.Serializer):
    url = StrictCharField(max_length=MAX_URL_LENGTH, help_text="http or https; not a private address.")
    secret = StrictCharField(
        min_length=MIN_SECRET,
        max_length=MAX_SECRET,
        write_only=True,
        help_text="Signs each delivery (X-MuseHub-Signature-256). Write-only: never returned.",
    )
    events = serializers.ListField(
        child=EventTypeField(), max_length=len(EventType.values) * 4, help_text="Default: every event type."
    )
    active = StrictBooleanField(help_text="Default true. An inactive hook gets no events (pings still go).")


class HookCreateSerializer(_HookFields):
    """Body of ``POST /repos/{repoId}/hooks``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].required = False
        self.fields["active"].required = False


class HookUpdateSerializer(_HookFields):
    """Body of ``PATCH /repos/{repoId}/hooks/{hookId}``: any of the fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def delivery_data(delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": str(delivery.pk),
        "event_id": delivery.event.event_id if delivery.event_id is not None else None,
        "type": delivery.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error or None,
        "duration_ms": delivery.duration_ms,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
    }


class DeliverySerializer(serializers.Serializer):
    """One delivery of an event (or ping) to a hook, and how its attempts went."""

    delivery_id = serializers.CharField(read_only=True, help_text="Sent as X-MuseHub-Delivery on every attempt.")
    event_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="null for a ping.")
    type = serializers.CharField(read_only=True, help_text="An event type, or ping.")
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"], read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    last_status_code = serializers.IntegerField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True, allow_null=True)
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True, help_text="Of the last attempt.")
    created_at = TimestampField(read_only=True)
    delivered_at = TimestampField(read_only=True, allow_null=True)

    def to_representation(self, instance):
        data = delivery_data(instance)
        data["created_at"] = TimestampField().to_representation(data["created_at"])
        data["delivered_at"] = TimestampField().to_representation(data["delivered_at"])
        return data


class HookSerializer(serializers.Serializer):
    """A webhook as the API returns it (never its secret)."""

    hook_id = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)
    active = serializers.BooleanField(read_only=True)
    created_at = TimestampField(read_only=True)
    last_delivery = DeliverySerializer(read_only=True, allow_null=True, help_text="The newest delivery, or null.")

    def to_representation(self, hook: Hook):
        last = getattr(hook, "last_delivery", None)
        return {
            "hook_id": str(hook.pk),
            "url": hook.url,
            "events": hook.events,
            "active": hook.active,
            "created_at": TimestampField().to_representation(hook.created_at),
            "last_delivery": DeliverySerializer(last).data if last is not None else None,
        }


@extend_schema_serializer(many=False)
class HookListSerializer(serializers.Serializer):
    hooks = HookSerializer(many=True, read_only=True)


@extend_schema_serializer(many=False)
class DeliveryListSerializer(serializers.Serializer):
    deliveries = DeliverySerializer(many=True, read_only=True)
    next_cursor = serializers.CharField(read_only=True, allow_null=True)


class SessionSnapshotSerializer(serializers.Serializer):
    """The session in an event (as ``GET .../sessions/{sessionId}`` shows it)."""

    session_id = serializers.CharField()
    repo_id = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    started_at = TimestampField()
    ended_at = TimestampField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    participants = serializers.ListField(child=serializers.CharField())
    commits = serializers.ListField(child=serializers.CharField())
    notes = serializers.CharField()
    intent = serializers.CharField()
    location = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = TimestampField()


class EventSerializer(serializers.Serializer):
    """An event: the feed's item, and the body of its webhook deliveries."""

    event_id = serializers.IntegerField(help_text="Strictly increasing within the repo.")
    type = serializers.ChoiceField(choices=EventType.choices)
    repo_id = serializers.CharField()
    session_id = serializers.CharField()
    actor = serializers.CharField(allow_null=True, help_text="Who made the change; null for commands.")
    occurred_at = TimestampField()
    session = SessionSnapshotSerializer(help_text="After the change; for session.deleted, as it was.")


@extend_schema_serializer(many=False)
class EventFeedSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    next_after = serializers.IntegerField(help_text="Poll again with after=nextAfter.")


class PingSerializer(serializers.Serializer):
    """The body of a ping delivery."""

    type = serializers.CharField(default="ping")
    hook_id = serializers.CharField()
    repo_id = serializers.CharField()
    occurred_at = TimestampField()
