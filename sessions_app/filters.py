"""Query filters of ``GET /repos/{repoId}/sessions`` (django-filter)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django_filters.constants import EMPTY_VALUES
from djangorestframework_camel_case.util import camel_to_underscore
from drf_spectacular.utils import extend_schema_field

from musehub.api.fields import TAG_PATTERN
from musehub.core.naming import camel
from musehub.core.timestamps import to_utc
from sessions_app.models import Session


class QueryBooleanField(forms.Field):
    """A query string's ``true``/``false`` (also ``1``/``0``, any case); anything else is an
    error, not "unset"."""

    TRUE = {"true", "1"}
    FALSE = {"false", "0"}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")


class QueryBooleanFilter(django_filters.Filter):
    field_class = QueryBooleanField


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 instant, naive meaning UTC, converted to UTC here.

    Converting up front turns an instant that has no UTC equivalent (year 1 at +14:00) into
    a 422; left to the database adapter it would overflow there, a 500.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return to_utc(parsed)
        except OverflowError:
            raise forms.ValidationError("Timestamp out of range.", code="overflow") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class TagsField(forms.Field):
    """Every value of a repeated ``?tag=`` parameter, each a valid tag (all must match)."""

    def to_python(self, value):
        # An empty value is no filter, as for every other filter (``?tag=`` from a form).
        tags = [tag for tag in ([value] if isinstance(value, str) else list(value or [])) if tag != ""]
        for tag in tags:
            if not isinstance(tag, str) or not re.fullmatch(TAG_PATTERN, tag):
                raise forms.ValidationError("Each tag is 1 to 40 characters of a-z, 0-9 and '-'.", code="invalid")
        return list(dict.fromkeys(tags))


@extend_schema_field({"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"}})
class AllTagsFilter(django_filters.Filter):
    """Sessions holding every given tag."""

    field_class = TagsField
    #: Read with ``getlist``: the parameter may be repeated.
    repeatable = True

    def filter(self, queryset, value):
        for tag in value or ():
            queryset = queryset.filter(**{f"{self.field_name}__has_element": tag})
        return queryset


class SessionFilter(django_filters.FilterSet):
    """The filters of SPEC; parameter names are camelCase as on the wire."""

    active = QueryBooleanFilter(field_name="is_active", help_text="Only active (true) or ended (false) sessions.")
    participant = django_filters.CharFilter(
        field_name="participants",
        lookup_expr="has_element",
        max_length=100,
        strip=False,
        help_text="Sessions with exactly this participant (case-sensitive).",
    )
    startedAfter = UtcIsoDateTimeFilter(  # noqa: N815 - the query parameter's name
        field_name="started_at", lookup_expr="gt", help_text="Started strictly after this instant."
    )
    startedBefore = UtcIsoDateTimeFilter(  # noqa: N815
        field_name="started_at", lookup_expr="lt", help_text="Started strictly before this instant."
    )
    tag = AllTagsFilter(field_name="tags", help_text="Sessions with this tag; repeat it to require several.")

    class Meta:
        model = Session
        fields: list[str] = []


def clean_filters(params: QueryDict) -> dict[str, Any]:
    """The filters given in the query string ``params`` with a value, cleaned as
    ``SessionFilter``'s form cleans them and keyed by their Python names (``started_after``);
    ``ValidationError`` (a 422) names each invalid one by its parameter name.

    Each filter's own form field does the cleaning, without making a FilterSet and its
    form for the request: those deep-copy every filter and field, which cost more than
    running the filtered page.
    """
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, declared in SessionFilter.base_filters.items():
        raw = params.getlist(name) if getattr(declared, "repeatable", False) else params.get(name)
        if raw is None or raw == []:
            continue
        try:
            value = declared.field.clean(raw)
        except forms.ValidationError as exc:
            errors[name] = exc.messages
            continue
        if value not in EMPTY_VALUES:
            values[camel_to_underscore(name)] = value
    if errors:
        raise ValidationError(errors)
    return values


def filter_sessions(queryset: QuerySet, values: Mapping[str, Any]) -> QuerySet:
    """``queryset`` narrowed by cleaned filter values (``clean_filters``), as the filters do."""
    for name, value in values.items():
        queryset = SessionFilter.base_filters[camel(name)].filter(queryset, value)
    return queryset
