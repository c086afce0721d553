"""Response rendering: JSON with camelCase keys."""

from djangorestframework_camel_case.render import CamelCaseJSONRenderer


class JSONRenderer(CamelCaseJSONRenderer):
    """snake_case Python out as camelCase JSON (djangorestframework-camel-case)."""

    # Compact separators: smaller bodies, and the CLI never reads them by eye.
    compact = True
