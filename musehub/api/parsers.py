"""Request parsing: JSON bodies with camelCase keys, bounded in size."""

from __future__ import annotations

import json

from django.conf import settings
from djangorestframework_camel_case.parser import CamelCaseJSONParser
from djangorestframework_camel_case.util import underscoreize
from rest_framework.exceptions import ParseError

from musehub.api.exceptions import RequestTooLarge


def _reject_constant(name: str):
    # Python's json module accepts NaN, Infinity and -Infinity; JSON (RFC 8259) does not.
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(CamelCaseJSONParser):
    """camelCase JSON in, snake_case Python out; a body over the limit is a 413."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return {}
        limit = settings.MAX_REQUEST_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge()
        if not raw.strip():
            # An empty body on a POST means "no fields", as a CLI sends for a plain stop.
            return {}
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError as exc:
            raise ParseError("JSON parse error: the body is not valid UTF-8.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
        except RecursionError as exc:
            # "[[[[..." a hundred thousand deep would otherwise be a 500.
            raise ParseError("JSON parse error: nested too deeply.") from exc
        # A "\ud800" escape is valid JSON grammar; the fields refuse such strings (422).
        try:
            return underscoreize(data, **self.json_underscoreize)
        except RecursionError as exc:
            raise ParseError("JSON parse error: nested too deeply.") from exc
