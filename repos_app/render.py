"""The one JSON shape of a repo, from a repo row (``repos_app.selectors.REPO_ROW_FIELDS``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from musehub.api.renderers import Camelized
from musehub.core.timestamps import format_timestamp


def repo_body(row: Mapping[str, Any]) -> Camelized:
    """A repo row as the API shows it: camelCase keys, ``Z`` timestamps, the owner's name."""
    return Camelized(
        {
            "repoId": row["repo_id"],
            "name": row["name"],
            "slug": row["slug"],
            "owner": row["owner__username"],
            "visibility": row["visibility"],
            "description": row["description"],
            "createdAt": format_timestamp(row["created_at"]),
            "updatedAt": format_timestamp(row["updated_at"]),
            "sessionCount": row["session_count"],
        }
    )
