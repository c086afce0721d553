"""Staff inspect events, webhooks and deliveries (read-only), and redeliver.

A hook's secret is never shown: its encrypted column is not among any admin's fields.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet

from events_app import services
from events_app.models import Delivery, Event, Hook


class ReadOnlyAdmin(admin.ModelAdmin):
    """Inspect, never edit: rows come from the API and the session services."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "repo", "session_id", "actor", "occurred_at")
    list_filter = ("type",)
    search_fields = ("=repo__repo_id", "=session_id", "=actor")
    fields = ("repo", "event_id", "type", "session_id", "actor", "occurred_at", "session")
    list_select_related = ("repo", "repo__owner")
    show_full_result_count = False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("id", "type", "status", "attempts", "last_status_code", "last_error", "created_at", "delivered_at")
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    max_num = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request)[:20]  # the newest; the deliveries list has them all


@admin.register(Hook)
class HookAdmin(ReadOnlyAdmin):
    list_display = ("id", "repo", "url", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("=repo__repo_id", "url")
    # Not secret_encrypted: the secret is never shown, not even encrypted.
    fields = ("repo", "url", "events", "active", "created_at")
    readonly_fields = fields
    list_select_related = ("repo", "repo__owner")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "hook",
        "type",
        "event_number",
        "status",
        "attempts",
        "last_status_code",
        "duration_ms",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "type")
    search_fields = ("=id", "=hook__id")
    fields = (
        "hook",
        "event",
        "type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "duration_ms",
        "created_at",
        "delivered_at",
    )
    readonly_fields = fields
    list_select_related = ("hook", "event")
    show_full_result_count = False
    actions = ("redeliver",)

    @admin.display(description="event id")
    def event_number(self, delivery: Delivery):
        return delivery.event.event_id if delivery.event_id else "—"

    @admin.action(description="Redeliver selected deliveries", permissions=["view"])
    def redeliver(self, request, queryset: QuerySet[Delivery]) -> None:
        count = 0
        for delivery in queryset.select_related("event"):
            services.delivery_redeliver(delivery=delivery)
            count += 1
        self.message_user(request, f"Queued {count} delivery(ies) for one more attempt.", messages.SUCCESS)
