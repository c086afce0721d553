"""Hook secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256), not hashed,
because the worker needs the secret itself to sign each delivery."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_key(material: str) -> bytes:
    """A Fernet key from ``material``: used as it is when it is one, else derived from it."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except ValueError:
        pass
    digest = hashlib.sha256(b"musehub:webhook-secret-key:" + material.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def _fernet(keys: str, secret_key: str) -> MultiFernet:
    materials = [key.strip() for key in keys.split(",") if key.strip()] or [secret_key]
    return MultiFernet([Fernet(_fernet_key(material)) for material in materials])


def _current() -> MultiFernet:
    return _fernet(settings.MUSEHUB_WEBHOOK_KEY, settings.SECRET_KEY)


def encrypt_secret(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    """The secret; ``ValueError`` when no configured key opens it (the key was changed)."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("the hook's secret cannot be decrypted with the configured MUSEHUB_WEBHOOK_KEY") from None
