"""Token authentication: ``Authorization: Bearer <token>`` (or ``Token <token>``).

Tokens are django-rest-knox tokens: random, shown once, stored only as a SHA-512 digest,
many per user, revoked by deleting the row.

Each worker remembers a token it has accepted for ``TOKEN_CACHE_SECONDS`` (5 by default):
the token's query was one of the three or four round trips of every authenticated request,
and a client sends the same token again and again. The price is that a revoked token (or a
deactivated user) is refused within those seconds rather than at once. Refusals are never
remembered: each wrong guess is checked (and throttled, per address).
"""

from __future__ import annotations

import re
import time
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import get_user_model
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

from musehub.core.compiled import CompiledQuery, columns, instance_from_row

_SCHEMES = {b"bearer", b"token"}
_TOKEN_RE = re.compile(rb"[0-9a-f]{64}")


# The tokens sharing a key prefix, each with its user: knox's own lookup, compiled once
# (musehub.core.compiled). Every authenticated request runs it.
_TOKENS_WITH_USER = CompiledQuery(
    lambda token_key: (
        get_token_model()
        .objects.filter(token_key=token_key)
        .values(*columns(get_token_model()), *(f"user__{name}" for name in columns(get_user_model())))
    )
)


#: Accepted tokens of this worker: SHA-512 digest of the token -> (good until, user and token).
_accepted: dict[str, tuple[float, tuple]] = {}
#: Bound on ``_accepted``: past it, what has expired goes, and if that is not enough, all.
_ACCEPTED_MAX = 10_000
_clock = time.monotonic


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

    def authenticate_credentials(self, token: bytes):
        """Knox's check, unchanged: the SHA-512 digest compared in constant time, an expired
        token skipped, an inactive user refused. Only the read differs: knox's ORM query
        (built for each request) cost more CPU than the rest of a GET."""
        token = token.decode()
        digest = hash_token(token)
        now = _clock()
        remembered = _accepted.get(digest)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        for row in _TOKENS_WITH_USER.fetch(token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH]):
            auth_token = self._token_and_user(row)
            if self._cleanup_token(auth_token):
                continue
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                accepted = self.validate_user(auth_token)
                self._remember(digest, accepted, now)
                return accepted
        raise exceptions.AuthenticationFailed("Invalid token.")

    def _remember(self, digest: str, accepted: tuple, now: float) -> None:
        seconds = settings.TOKEN_CACHE_SECONDS
        _, auth_token = accepted
        if auth_token.expiry is not None:  # never past the token's own expiry
            seconds = min(seconds, (auth_token.expiry - self._now()).total_seconds())
        if seconds <= 0:
            return
        if len(_accepted) >= _ACCEPTED_MAX:
            for key in [key for key, (until, _) in _accepted.items() if until <= now]:
                del _accepted[key]
            if len(_accepted) >= _ACCEPTED_MAX:
                _accepted.clear()
        _accepted[digest] = (now + seconds, accepted)

    @staticmethod
    def _token_and_user(row: dict):
        """The AuthToken, with its user attached, that a row of ``_TOKENS_WITH_USER`` holds."""
        auth_token = instance_from_row(get_token_model(), row)
        auth_token.user = instance_from_row(get_user_model(), row, prefix="user__")
        return auth_token

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
