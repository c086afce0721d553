"""The one list of what a client may set on a session, and how each value is checked.

``SessionField`` says, for each settable field, how its value is validated (the API's
serializers and the admin's form run the same check), what a create stores when it is
left out, whether PATCH may change it, and whether a retried create compares it. The
serializers, the services, the admin form and the bench seeder all derive from ``FIELDS``;
the columns themselves are ``sessions_app.models.Session``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import serializers

from musehub.api.fields import CommitIdField, StrictBooleanField, StrictCharField, TagField, TimestampField

#: Most commits one session may hold.
MAX_COMMITS = 10_000
MAX_PARTICIPANTS = 100
MAX_PARTICIPANT_LENGTH = 100
MAX_TEXT = 10_000
MAX_LOCATION = 255
MAX_TAGS = 20


def _list_of(child: Callable[[], serializers.Field], *, max_length: int, **kwargs) -> serializers.ListField:
    return serializers.ListField(child=child(), max_length=max_length, **kwargs)


class TagListField(serializers.ListField):
    """Up to 20 distinct tags, in the order given: a repeated tag is an error, not dropped."""

    default_error_messages = {"duplicate": "Each tag may appear only once."}

    def __init__(self, **kwargs):
        super().__init__(child=TagField(), max_length=MAX_TAGS, **kwargs)

    def to_internal_value(self, data):
        tags = super().to_internal_value(data)
        if len(set(tags)) != len(tags):
            self.fail("duplicate")
        return tags


def _text(max_length: int) -> Callable[..., serializers.Field]:
    return partial(StrictCharField, allow_blank=True, max_length=max_length)


@dataclass(frozen=True)
class SessionField:
    """One field a client may set: its check, its default, and where it may be set."""

    name: str
    #: Makes the serializer field that checks a client's value (``required=False``).
    check: Callable[..., serializers.Field]
    #: Stored when a create leaves the field out (a callable makes a fresh list).
    default: Any = None
    #: PATCH (and the admin form) may change it after the create.
    editable: bool = True
    #: A retried create (same author and explicit startedAt) compares it when given.
    compared: bool = True
    help_text: str = ""

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


FIELDS: tuple[SessionField, ...] = (
    SessionField("started_at", TimestampField, editable=False, compared=False, help_text="Default: server time."),
    SessionField("ended_at", TimestampField, editable=False, help_text="Push an already finished session."),
    SessionField(
        "is_active",
        StrictBooleanField,
        default=True,
        editable=False,
        help_text="Default true; false without endedAt ends the session at server time.",
    ),
    SessionField(
        "participants",
        partial(
            _list_of,
            partial(StrictCharField, min_length=1, max_length=MAX_PARTICIPANT_LENGTH),
            max_length=MAX_PARTICIPANTS,
        ),
        default=list,
    ),
    SessionField("intent", _text(MAX_TEXT), default=""),
    SessionField("location", _text(MAX_LOCATION), default=""),
    SessionField("notes", _text(MAX_TEXT), default=""),
    SessionField("commits", partial(_list_of, CommitIdField, max_length=MAX_COMMITS), default=list),
    SessionField(
        "tags",
        TagListField,
        default=list,
        help_text="Up to 20 distinct tags of a-z, 0-9 and '-', 1 to 40 characters each, in the order given.",
    ),
)
BY_NAME = {field.name: field for field in FIELDS}
#: What PATCH and the admin form may change.
EDITABLE = tuple(field.name for field in FIELDS if field.editable)
#: What a retried create compares (each only when the retry gives it).
COMPARED = tuple(field.name for field in FIELDS if field.compared)


def input_serializer(name: str, names: Iterable[str], doc: str) -> type[serializers.Serializer]:
    """A request-body serializer for the fields ``names``, each optional and checked as
    ``FIELDS`` says. Its ``validated_data`` holds exactly the fields the client sent."""
    declared = {
        field: BY_NAME[field].check(required=False, help_text=BY_NAME[field].help_text or None) for field in names
    }
    return type(name, (serializers.Serializer,), {"__doc__": doc, "__module__": __name__, **declared})


def create_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every settable field for a create: the ``given`` ones, the defaults for the rest."""
    unknown = set(given) - set(BY_NAME)
    if unknown:
        raise ValidationError({name: ["This field cannot be set."] for name in sorted(unknown)})
    return {field.name: given[field.name] if field.name in given else field.default_value() for field in FIELDS}


def check_editable(changes: Mapping[str, Any]) -> None:
    """``ValidationError`` naming each field in ``changes`` that may not be edited."""
    refused = sorted(set(changes) - set(EDITABLE))
    if refused:
        raise ValidationError({name: ["This field cannot be changed."] for name in refused})
