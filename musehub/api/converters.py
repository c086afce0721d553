"""URL path converters."""


class HexIdConverter:
    """A MuseHub id: 64 lowercase hex characters. Anything else is a 404 before any query."""

    regex = "[0-9a-f]{64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
