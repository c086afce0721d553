"""Token authentication: ``Authorization: Bearer <token>`` (or ``Token <token>``).

Tokens are django-rest-knox tokens: random, shown once, stored only as a SHA-512 digest,
many per user, revoked by deleting the row.
"""

from __future__ import annotations

import re

from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

_SCHEMES = {b"bearer", b"token"}
_TOKEN_RE = re.compile(rb"[0-9a-f]{64}")


class BearerTokenAuthentication(TokenAuthentication):
    """Knox token authentication accepting the ``Bearer`` and ``Token`` schemes."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in _SCHEMES:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        if not _TOKEN_RE.fullmatch(parts[1]):
            # Checked before any hashing or query: a malformed token can never match.
            raise exceptions.AuthenticationFailed("Invalid token.")
        return self.authenticate_credentials(parts[1])

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'

    def _cleanup_token(self, auth_token) -> bool:
        # Knox also scans every other token of the user on each request to delete expired
        # ones: one more query per request. Our tokens never expire (TOKEN_TTL = None), so
        # only this token's own expiry is checked; revocation deletes the row.
        return auth_token.expiry is not None and auth_token.expiry < self._now()

    @staticmethod
    def _now():
        from django.utils import timezone

        return timezone.now()
