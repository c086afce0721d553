"""Session request and response shapes (snake_case here; camelCase on the wire).

The request bodies are made from ``sessions_app.fields.FIELDS``: each holds exactly what
the client sent, checked as that list says (the services apply the defaults). The response
is ``sessions_app.render.session_body``; ``SessionSerializer`` describes it for OpenAPI.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from musehub.api.fields import StrictCharField, TimestampField
from sessions_app.fields import BY_NAME, EDITABLE, FIELDS, MAX_TEXT, input_serializer
from sessions_app.render import session_body

SessionCreateSerializer = input_serializer(
    "SessionCreateSerializer",
    [field.name for field in FIELDS],
    "Body of ``POST /repos/{repoId}/sessions``; every field is optional.",
)
SessionUpdateSerializer = input_serializer(
    "SessionUpdateSerializer", EDITABLE, "Body of ``PATCH .../sessions/{sessionId}``: the fields a musician may edit."
)


class SessionStopSerializer(serializers.Serializer):
    """Body of ``POST .../stop``; both fields optional."""

    ended_at = TimestampField(required=False, help_text="Default: server time (or startedAt if later).")
    notes = StrictCharField(required=False, allow_blank=True, max_length=MAX_TEXT)


class SessionCommitsSerializer(serializers.Serializer):
    """Body of ``POST .../commits``: commit ids to append."""

    commits = BY_NAME["commits"].check(allow_empty=True)


class _SessionBody(serializers.Serializer):
    """What the server sets on a session; ``SessionSerializer`` adds the settable fields."""

    session_id = serializers.CharField(read_only=True)
    repo_id = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True, allow_null=True, help_text="Username, or null.")
    duration_seconds = serializers.FloatField(
        read_only=True, allow_null=True, help_text="endedAt - startedAt; null while active."
    )
    created_at = TimestampField(read_only=True)

    def to_representation(self, row):
        return session_body(row)


SessionSerializer = type(
    "SessionSerializer",
    (_SessionBody,),
    {
        "__doc__": "A recording session as the API returns it (``session_body`` of a session row).",
        "__module__": __name__,
        **{field.name: field.check(read_only=True) for field in FIELDS},
        "ended_at": TimestampField(read_only=True, allow_null=True, help_text="null while active."),
        "is_active": serializers.BooleanField(read_only=True, help_text="true exactly when endedAt is null."),
    },
)


# The page is an object holding the list; the schema generator would wrap a list action's
# response in an array.
@extend_schema_serializer(many=False)
class SessionListSerializer(serializers.Serializer):
    """``GET /repos/{repoId}/sessions``: one page, the filtered total and the next cursor."""

    sessions = SessionSerializer(many=True, read_only=True)
    total = serializers.IntegerField(read_only=True)
    next_cursor = serializers.CharField(read_only=True, allow_null=True)


class _NamedTotalSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    sessions = serializers.IntegerField(read_only=True)
    seconds = serializers.FloatField(read_only=True, help_text="Of the ended sessions only.")


class _DayTotalSerializer(serializers.Serializer):
    date = serializers.DateField(read_only=True, help_text="UTC start date.")
    sessions = serializers.IntegerField(read_only=True)
    seconds = serializers.FloatField(read_only=True, help_text="Of the ended sessions only.")


@extend_schema_serializer(many=False)
class SessionStatsSerializer(serializers.Serializer):
    """``GET /repos/{repoId}/sessions/stats`` (``sessions_app.render.stats_body``)."""

    sessions = serializers.IntegerField(read_only=True, help_text="Sessions matching the filters.")
    active = serializers.IntegerField(read_only=True, help_text="Of those, how many are active.")
    total_seconds = serializers.FloatField(read_only=True, help_text="Sum of durationSeconds of the ended ones.")
    commits = serializers.IntegerField(read_only=True, help_text="Sum of their commit counts.")
    participants = _NamedTotalSerializer(many=True, read_only=True, help_text="By seconds descending, then name.")
    locations = _NamedTotalSerializer(
        many=True, read_only=True, help_text="By seconds descending, then name; sessions without one left out."
    )
    by_day = _DayTotalSerializer(many=True, read_only=True, help_text="By UTC start date, ascending.")
