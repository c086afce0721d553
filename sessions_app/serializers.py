"""Session request and response shapes (snake_case here; camelCase on the wire)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from musehub.api.fields import CommitIdField, StrictCharField, TimestampField
from musehub.api.timestamps import format_timestamp
from sessions_app.models import Session
from sessions_app.services import MAX_COMMITS

MAX_PARTICIPANTS = 100
MAX_TEXT = 10_000


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only: ``"yes"``, ``1`` or ``"true"`` is a type error (422).

    DRF's BooleanField coerces strings and numbers; a client sending them has a bug the
    API should name rather than guess at.
    """

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def participants_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=StrictCharField(min_length=1, max_length=100),
        max_length=MAX_PARTICIPANTS,
        **kwargs,
    )


def commits_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=CommitIdField(), max_length=MAX_COMMITS, **kwargs)


class SessionCreateSerializer(serializers.Serializer):
    """Body of ``POST /repos/{repoId}/sessions``; every field is optional."""

    started_at = TimestampField(required=False, default=None, help_text="Default: server time.")
    ended_at = TimestampField(required=False, default=None, help_text="Push an already finished session.")
    participants = participants_field(required=False, default=list)
    intent = StrictCharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")
    location = StrictCharField(required=False, allow_blank=True, max_length=255, default="")
    notes = StrictCharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")
    commits = commits_field(required=False, default=list)
    is_active = StrictBooleanField(
        required=False, default=True, help_text="false without endedAt ends the session at server time."
    )


class SessionStopSerializer(serializers.Serializer):
    """Body of ``POST .../stop``; both fields optional."""

    ended_at = TimestampField(required=False, default=None, help_text="Default: server time (or startedAt if later).")
    notes = StrictCharField(required=False, allow_blank=True, max_length=MAX_TEXT)


class SessionUpdateSerializer(serializers.Serializer):
    """Body of ``PATCH .../sessions/{sessionId}``: the fields a musician may edit."""

    intent = StrictCharField(required=False, allow_blank=True, max_length=MAX_TEXT)
    location = StrictCharField(required=False, allow_blank=True, max_length=255)
    notes = StrictCharField(required=False, allow_blank=True, max_length=MAX_TEXT)
    participants = participants_field(required=False)
    commits = commits_field(required=False)


class SessionCommitsSerializer(serializers.Serializer):
    """Body of ``POST .../commits``: commit ids to append."""

    commits = commits_field(allow_empty=True)


def session_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """A session row (``.values(*ROW_FIELDS)``) as the API shows it.

    Built by hand rather than field by field: a page of 50 sessions is the hot path, and
    this is several times faster than a ModelSerializer over model instances.
    """
    started_at = row["started_at"]
    ended_at = row["ended_at"]
    return {
        "session_id": row["session_id"],
        "repo_id": row["repo_id"],
        "author": row["author__username"],
        "started_at": format_timestamp(started_at),
        "ended_at": format_timestamp(ended_at),
        "duration_seconds": None if ended_at is None else (ended_at - started_at).total_seconds(),
        "participants": row["participants"],
        "commits": row["commits"],
        "notes": row["notes"],
        "intent": row["intent"],
        "location": row["location"],
        "is_active": row["is_active"],
        "created_at": format_timestamp(row["created_at"]),
    }


def session_row(session: Session) -> dict[str, Any]:
    """A Session instance as the row ``session_data`` takes."""
    return {
        "session_id": session.session_id,
        "repo_id": session.repo_id,
        "author__username": session.author.get_username() if session.author_id else None,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "participants": session.participants,
        "commits": session.commits,
        "notes": session.notes,
        "intent": session.intent,
        "location": session.location,
        "is_active": session.is_active,
        "created_at": session.created_at,
    }


class SessionSerializer(serializers.Serializer):
    """A recording session as the API returns it (instances or rows)."""

    session_id = serializers.CharField(read_only=True)
    repo_id = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True, allow_null=True, help_text="Username, or null.")
    started_at = TimestampField(read_only=True)
    ended_at = TimestampField(read_only=True, allow_null=True, help_text="null while active.")
    duration_seconds = serializers.FloatField(
        read_only=True, allow_null=True, help_text="endedAt - startedAt; null while active."
    )
    participants = serializers.ListField(child=serializers.CharField(), read_only=True)
    commits = serializers.ListField(child=serializers.CharField(), read_only=True)
    notes = serializers.CharField(read_only=True)
    intent = serializers.CharField(read_only=True)
    location = serializers.CharField(read_only=True)
    is_active = serializers.BooleanField(read_only=True, help_text="true exactly when endedAt is null.")
    created_at = TimestampField(read_only=True)

    def to_representation(self, instance):
        return session_data(session_row(instance) if isinstance(instance, Session) else instance)


# The page is an object holding the list; the schema generator would wrap a list action's
# response in an array.
@extend_schema_serializer(many=False)
class SessionListSerializer(serializers.Serializer):
    """``GET /repos/{repoId}/sessions``: one page, the filtered total and the next cursor."""

    sessions = SessionSerializer(many=True, read_only=True)
    total = serializers.IntegerField(read_only=True)
    next_cursor = serializers.CharField(read_only=True, allow_null=True)
