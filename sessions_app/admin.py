"""The sessions admin: staff inspect recording sessions and stop the ones left running.

Built to stay fast on a table of 100,000 sessions: one query for a page of rows (repo,
owner and author joined in, read from the newest-first index), no per-row queries, the
unfiltered total from the repos' kept counts and no second "full result" count. Every
change goes through ``sessions_app.services``, the same code the API runs, so the repo's
session count and the stop rules hold here too.
"""

from __future__ import annotations

import re

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal

from musehub.core.admin import ApiCheckedForm, JSONListField, NulSafeAdminMixin
from musehub.core.timestamps import format_timestamp, to_utc
from repos_app.models import Repo
from sessions_app import services
from sessions_app.fields import EDITABLE
from sessions_app.models import Session
from sessions_app.serializers import SessionUpdateSerializer

#: A search word this long made only of hex digits is taken as a session id (prefix).
ID_PREFIX = re.compile(r"[0-9a-fA-F]{8,64}")
#: Sessions named on the delete confirmation page (the rest are counted).
DELETE_LISTED = 100


def human_duration(seconds: float | None) -> str:
    """``9000.0`` → ``"2 h 30 min"``: the largest unit and the next one when it is not zero."""
    if seconds is None:
        return "—"
    remaining = int(seconds)
    amounts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        amounts.append((amount, unit))
    for index, (amount, unit) in enumerate(amounts):
        if amount:
            text = f"{amount} {unit}"
            following = amounts[index + 1] if index + 1 < len(amounts) else (0, "")
            return f"{text} {following[0]} {following[1]}" if following[0] else text
    return "0 s"


def _timestamp(value) -> str:
    """A compact UTC time for the list (``2026-03-01 10:00``), the exact one on hover."""
    if value is None:
        return "—"
    exact = format_timestamp(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', exact, exact, to_utc(value).strftime("%Y-%m-%d %H:%M")
    )


class ActiveFilter(admin.SimpleListFilter):
    """Active sessions are those that have not ended."""

    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return (("yes", "Active"), ("no", "Ended"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=False)
        return queryset


class SessionPaginator(Paginator):
    """Counts an unfiltered list from the repos' kept session counts (a sum over the repos
    instead of ``COUNT(*)`` over every session); a filtered list is counted as usual."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet) and not self.object_list.query.where:
            return Repo.objects.aggregate(total=Sum("session_count"))["total"] or 0
        return super().count


#: What staff may edit: what PATCH may, but the commit ids, which only the Muse CLI records
#: (a textarea of up to 10,000 ids is no way to edit them, and one slip would lose them).
ADMIN_EDITABLE = tuple(name for name in EDITABLE if name != "commits")


class SessionForm(ApiCheckedForm):
    """What staff may change, checked as PATCH checks it."""

    api_serializer = SessionUpdateSerializer

    class Meta:
        model = Session
        fields = ADMIN_EDITABLE
        field_classes = {"participants": JSONListField, "tags": JSONListField}


class TagFilter(admin.SimpleListFilter):
    """Sessions holding one tag, among the tags of the sessions listed."""

    title = "tag"
    parameter_name = "tag"
    #: At most this many tags are offered (the most used among the newest sessions).
    OFFERED = 30

    def lookups(self, request, model_admin):
        counts: dict[str, int] = {}
        for tags in Session.objects.order_by("-started_at").values_list("tags", flat=True)[:1000]:
            for tag in tags or ():
                counts[tag] = counts.get(tag, 0) + 1
        ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))[: self.OFFERED]
        return [(tag, tag) for tag in sorted(ranked)]

    def queryset(self, request, queryset):
        return queryset.filter(tags__has_element=self.value()) if self.value() else queryset


@admin.register(Session)
class SessionAdmin(NulSafeAdminMixin, admin.ModelAdmin):
    form = SessionForm
    list_display = (
        "short_id",
        "repo_link",
        "author_name",
        "started",
        "ended",
        "duration",
        "active",
        "participant_list",
        "tag_list",
    )
    list_display_links = ("short_id",)
    list_filter = (ActiveFilter, TagFilter, "repo__visibility")
    date_hierarchy = "started_at"
    search_fields = ("session_id", "intent", "location", "participants")
    search_help_text = "Search by session id (or its first 8+ characters), intent, location or participant."
    list_select_related = ("repo", "repo__owner", "author")
    show_full_result_count = False
    list_per_page = 50
    paginator = SessionPaginator
    actions = ("stop_selected_sessions",)
    fields = (
        "session_id",
        "repo",
        "author",
        "started_at",
        "ended_at",
        "duration",
        "is_active",
        "created_at",
        "intent",
        "location",
        "participants",
        "tags",
        "notes",
        "commits",
    )
    readonly_fields = tuple(name for name in fields if name not in ADMIN_EDITABLE)

    # ── Columns ───────────────────────────────────────────────────────────────
    @admin.display(description="id", ordering="session_id")
    def short_id(self, obj: Session) -> str:
        return obj.session_id[:12]

    @admin.display(description="repo", ordering="repo__name")
    def repo_link(self, obj: Session) -> str:
        url = reverse("admin:repos_app_repo_change", args=[obj.repo_id])
        return format_html('<a href="{}">{}</a>', url, f"{obj.repo.owner.username}/{obj.repo.slug}")

    @admin.display(description="author", ordering="author__username")
    def author_name(self, obj: Session) -> str:
        return obj.author.username if obj.author_id else "—"

    @admin.display(description="started (UTC)", ordering="started_at")
    def started(self, obj: Session) -> str:
        return _timestamp(obj.started_at)

    @admin.display(description="ended (UTC)", ordering="ended_at")
    def ended(self, obj: Session) -> str:
        return _timestamp(obj.ended_at)

    @admin.display(description="duration")
    def duration(self, obj: Session) -> str:
        return human_duration(obj.duration_seconds) if obj.ended_at else "running"

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, obj: Session) -> bool:
        return obj.ended_at is None

    @admin.display(description="participants")
    def participant_list(self, obj: Session) -> str:
        return ", ".join(obj.participants or []) or "—"

    @admin.display(description="tags")
    def tag_list(self, obj: Session) -> str:
        return ", ".join(obj.tags or []) or "—"

    # ── Search: id prefix, intent, location, participant (JSON list, both databases) ──
    def get_search_results(self, request, queryset, search_term):
        queryset = queryset.alias(participants_text=Cast("participants", TextField()))
        for term in smart_split(search_term):
            if len(term) >= 2 and term[0] in "\"'" and term[0] == term[-1]:
                term = unescape_string_literal(term)
            if not term:
                continue
            id_prefix = Q(session_id__startswith=term.lower())
            if ID_PREFIX.fullmatch(term):
                # Clearly an id (pasted from the API or a log): the primary key's index
                # answers it, without scanning every session's text.
                queryset = queryset.filter(id_prefix)
                continue
            queryset = queryset.filter(
                id_prefix
                | Q(intent__icontains=term)
                | Q(location__icontains=term)
                | Q(participants__has_element=term)
                # Part of a name, case-insensitively (searched in the list's JSON text).
                | Q(participants_text__icontains=term)
            )
        return queryset, False

    # ── Changes go through the services ───────────────────────────────────────
    def has_add_permission(self, request) -> bool:
        # Sessions are started by the Muse CLI through the API; their ids derive from it.
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in ADMIN_EDITABLE}
        services.session_update(repo_id=obj.repo_id, session_id=obj.pk, actor=request.user, **changes)

    def get_deleted_objects(self, objs, request):
        """The confirmation page lists at most 100 sessions (they have nothing hanging off them)."""
        total = objs.count() if isinstance(objs, QuerySet) else len(objs)
        shown = [f"{session} of {session.repo_id[:12]}" for session in objs[:DELETE_LISTED]]
        if total > DELETE_LISTED:
            shown.append(f"… and {total - DELETE_LISTED} more")
        perms_needed = set() if self.has_delete_permission(request) else {"recording session"}
        return shown, {"recording sessions": total}, perms_needed, []

    def delete_model(self, request, obj):
        services.session_delete(repo_id=obj.repo_id, session_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for repo_id, session_id in queryset.values_list("repo_id", "session_id"):
            services.session_delete(repo_id=repo_id, session_id=session_id, actor=request.user)

    @admin.action(description="Stop selected sessions", permissions=("change",))
    def stop_selected_sessions(self, request, queryset):
        """Stop the active ones among the selected sessions, as ``POST .../stop`` does.

        Ended sessions keep their first ``endedAt``; running it twice stops nothing more.
        """
        stopped = 0
        for repo_id, session_id in queryset.filter(ended_at__isnull=True).values_list("repo_id", "session_id"):
            services.session_stop(repo_id=repo_id, session_id=session_id, actor=request.user)
            stopped += 1
        level = messages.SUCCESS if stopped else messages.INFO
        self.message_user(request, f"Stopped {stopped} session(s).", level)
