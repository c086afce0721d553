"""Repo and collaborator request and response shapes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from musehub.api.fields import StrictCharField, TimestampField
from repos_app.models import Permission, Visibility
from repos_app.render import repo_body


class ChoiceField(serializers.ChoiceField):
    """One of a few strings. The error names the choices and never echoes the input: DRF's
    own message quotes it, and a quoted lone surrogate cannot even be encoded (a 500)."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices, **kwargs)
        self.error_messages["invalid_choice"] = f"Must be one of: {', '.join(self.choice_strings_to_values)}."


class RepoCreateSerializer(serializers.Serializer):
    """Body of ``POST /repos``."""

    name = StrictCharField(max_length=100)
    visibility = ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000, default="")


class RepoUpdateSerializer(serializers.Serializer):
    """Body of ``PATCH /repos/{repoId}``."""

    name = StrictCharField(required=False, max_length=100)
    visibility = ChoiceField(choices=Visibility.choices, required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000)


class RepoSerializer(serializers.Serializer):
    """A repo as the API returns it (``repo_body`` of a repo row)."""

    repo_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)
    owner = serializers.CharField(read_only=True, help_text="The owner's username.")
    visibility = serializers.ChoiceField(choices=Visibility.choices, read_only=True)
    description = serializers.CharField(read_only=True)
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)
    session_count = serializers.IntegerField(read_only=True)

    def to_representation(self, row):
        return repo_body(row)


# The page is an object holding the list; the schema generator would wrap a list action's
# response in an array.
@extend_schema_serializer(many=False)
class RepoListSerializer(serializers.Serializer):
    """``GET /repos``: one page, the total and the next cursor."""

    repos = RepoSerializer(many=True, read_only=True)
    total = serializers.IntegerField(read_only=True)
    next_cursor = serializers.CharField(read_only=True, allow_null=True)


class CollaboratorSerializer(serializers.Serializer):
    """A collaborator: who, and with which permission."""

    username = serializers.CharField(read_only=True)
    permission = serializers.ChoiceField(choices=Permission.choices, read_only=True)


@extend_schema_serializer(many=False)
class CollaboratorListSerializer(serializers.Serializer):
    collaborators = CollaboratorSerializer(many=True, read_only=True)


class CollaboratorSetSerializer(serializers.Serializer):
    """Body of ``PUT /repos/{repoId}/collaborators/{username}``."""

    permission = ChoiceField(choices=Permission.choices)
