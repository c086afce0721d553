"""Serializer fields shared by both apps: strict types, ids and tags, and the one timestamp format."""

from __future__ import annotations

from rest_framework import serializers

from musehub.core.timestamps import format_timestamp, to_utc

#: The longest ISO 8601 timestamp worth parsing ("2025-06-01T12:00:00.123456+05:30" is 32).
MAX_TIMESTAMP_LENGTH = 64


class StrictCharField(serializers.CharField):
    """A string, and only a string: ``123`` or ``true`` is a type error (422), not coerced.

    Like DRF's CharField it refuses U+0000, and it keeps surrounding whitespace: what the
    musician typed is what is stored.
    """

    default_error_messages = {
        "invalid": "Must be a string.",
        "surrogate": "Must be valid Unicode text: a \\u escape here is an unpaired surrogate.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        # JSON's "\ud800" parses to a string that no UTF-8 database column can hold.
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")
        return super().to_internal_value(data)


class TimestampField(serializers.DateTimeField):
    """ISO 8601 in, ISO 8601 UTC with a ``Z`` out; a naive input means UTC."""

    default_error_messages = {
        "invalid": "Must be an ISO 8601 timestamp, such as 2025-06-01T12:00:00Z.",
        "overflow": "Timestamp out of range.",
    }

    def to_internal_value(self, value):
        # Python's ISO parser skips some junk (a NUL before the zone); we refuse it outright.
        if not isinstance(value, str) or "\x00" in value or len(value) > MAX_TIMESTAMP_LENGTH:
            self.fail("invalid")
        parsed = super().to_internal_value(value)
        try:
            return to_utc(parsed)
        except OverflowError:
            self.fail("overflow")

    def to_representation(self, value):
        return format_timestamp(value)


class CommitIdField(serializers.RegexField):
    """A Muse commit id: 64 lowercase hex characters."""

    default_error_messages = {"invalid": "Must be a commit id: 64 lowercase hex characters."}

    def __init__(self, **kwargs):
        # No trimming: " <id>\n" is not a commit id, and what is stored is what was sent.
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(r"^[0-9a-f]{64}\Z", **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


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


#: A tag: 1 to 40 characters of a-z, 0-9 and '-'.
TAG_PATTERN = r"^[a-z0-9-]{1,40}\Z"


class TagField(serializers.RegexField):
    """A session tag, such as ``mixing`` or ``take-2``."""

    default_error_messages = {"invalid": "Each tag is 1 to 40 characters of a-z, 0-9 and '-'."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(TAG_PATTERN, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
