"""The list routes' query parameters and headers: ``limit`` and the ``Link`` to the next page.
The pages themselves come from ``musehub.core.keyset``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param

from musehub.core.keyset import DEFAULT_LIMIT, MAX_LIMIT


def parse_limit(raw: str | None) -> int:
    """``limit`` from a query string: an integer from 1 to 200, default 50."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    # ASCII digits only (int() would also take "1_0", " 5" and non-Latin digits), and few
    # of them: int() refuses over 4,300 digits with a ValueError of its own.
    if not (len(raw) <= 4 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
        raise ValidationError({"limit": [f"Must be an integer from 1 to {MAX_LIMIT}."]})
    return int(raw)


def next_link(request, cursor: str) -> str:
    """The ``Link`` header value pointing at the page after this one."""
    return f'<{replace_query_param(request.build_absolute_uri(), "cursor", cursor)}>; rel="next"'
