"""The one timestamp format of the API: ISO 8601 in UTC with a ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; a naive value is taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime | None) -> str | None:
    """``2025-06-01T12:00:00Z`` / ``2025-06-01T12:00:00.250000Z`` (as DRF renders UTC)."""
    if value is None:
        return None
    return to_utc(value).isoformat().replace("+00:00", "Z")
