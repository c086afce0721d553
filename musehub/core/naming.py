"""The one snake_case -> camelCase conversion: JSON keys, error field names, OpenAPI
path parameters and messages that name a field all go through ``camel``."""

from __future__ import annotations

from functools import lru_cache

from djangorestframework_camel_case.util import camelize_re, underscore_to_camel


@lru_cache(maxsize=1024)
def camel(name: str) -> str:
    """``session_id`` -> ``sessionId``: djangorestframework-camel-case's own conversion."""
    return camelize_re.sub(underscore_to_camel, name) if "_" in name else name
