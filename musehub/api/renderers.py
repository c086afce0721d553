"""Response rendering: JSON with camelCase keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.encoding import force_str
from django.utils.functional import Promise
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.utils.mediatypes import media_type_matches

from musehub.core.naming import camel


class Camelized(dict):
    """A dict whose keys are camelCase already and whose values hold no dicts: ``camelize``
    passes it through as it is, without walking its values (made by ``camelized``)."""

    __slots__ = ()


def camelized(flat: Mapping[str, Any]) -> Camelized:
    """``flat`` with camelCase keys, marked so the renderer does not walk it again.

    For rows whose values are scalars and lists of scalars (a session's participants and
    commits): walking every commit id of every session of a page cost more than the rest
    of the rendering.
    """
    return Camelized({camel(key): value for key, value in flat.items()})


def camelize(data: Any) -> Any:
    """Turn every dict key into camelCase, at any depth; values are left as they are.

    The same result as djangorestframework-camel-case's ``camelize`` (without its
    ``JSON_UNDERSCOREIZE`` options, which we do not use), but it only descends into dicts,
    lists and tuples and converts each distinct key once. The library's walk checks every
    value (each commit id of each session) and was half the CPU time of a session list.
    """
    if isinstance(data, Camelized):
        return data
    if isinstance(data, dict):
        return {
            (camel(key) if isinstance(key, str) else _other_key(key)): (
                camelize(value) if isinstance(value, _CONTAINERS) else value
            )
            for key, value in data.items()
        }
    if isinstance(data, _CONTAINERS):
        return [camelize(item) if isinstance(item, _CONTAINERS) else item for item in data]
    return data


_CONTAINERS = (dict, list, tuple)  # a Camelized is a dict: camelize() hands it back as it is


def _other_key(key: Any) -> Any:
    """A key that is not a str: a lazy translation is converted, anything else kept."""
    return camel(force_str(key)) if isinstance(key, Promise) else key


class JSONRenderer(DRFJSONRenderer):
    """snake_case Python out as camelCase JSON."""

    # Compact separators: smaller bodies, and the CLI never reads them by eye.
    compact = True

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return super().render(camelize(data), accepted_media_type, renderer_context)


def accepts(request, media_type: str) -> bool:
    """Whether the request's ``Accept`` header allows ``media_type`` (no header allows
    anything), for answers no renderer makes (a streamed export)."""
    header = request.META.get("HTTP_ACCEPT", "") or "*/*"
    bare = media_type.split(";")[0].strip()  # its parameters (charset) are not negotiated
    return any(media_type_matches(bare, accepted.strip()) for accepted in header.split(","))
