"""The one place that computes MuseHub ids.

Every id is a 64-character lowercase hex SHA-256 digest of a domain tag and the parts
that define the thing. The tag differs per kind, so an identity id can never equal a
repo id or a session id built from the same bytes. Parts are length-prefixed, so no
choice of parts can be confused with another (``("ab", "c")`` vs ``("a", "bc")``).
"""

from __future__ import annotations

import hashlib

_IDENTITY_TAG = b"musehub/identity/v1"
_REPO_TAG = b"musehub/repo/v1"
_SESSION_TAG = b"musehub/session/v1"


def _digest(tag: bytes, *parts: bytes) -> str:
    h = hashlib.sha256()
    h.update(len(tag).to_bytes(4, "big"))
    h.update(tag)
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def compute_identity_id(username: bytes) -> str:
    """Id of the identity (user) with this username."""
    if isinstance(username, str):
        username = username.encode("utf-8")
    return _digest(_IDENTITY_TAG, username)


def compute_repo_id(owner_identity_id: str, slug: str, domain: str = "code", created_at: str = "") -> str:
    """Id of a repo: its owner, slug, Muse domain and creation instant (ISO string)."""
    return _digest(
        _REPO_TAG,
        owner_identity_id.encode(),
        slug.encode("utf-8"),
        domain.encode("utf-8"),
        created_at.encode(),
    )


def compute_session_id(repo_id: str, author_identity_id: str, started_at: str) -> str:
    """Id of a session: its repo, its author and its start instant (ISO string)."""
    return _digest(_SESSION_TAG, repo_id.encode(), author_identity_id.encode(), started_at.encode())
