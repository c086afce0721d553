"""Errors the services raise. They know nothing of HTTP; the API maps them to status codes.

A broken rule on well-formed input is Django's ``ValidationError`` with a dict of
snake_case field names (422 on the API); these cover the rest.
"""


class NotFoundError(Exception):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)
        self.message = message


class ConflictError(Exception):
    """The request contradicts what is stored (a slug taken, a retry that differs)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def flatten_messages(detail) -> list[str]:
    """Validation messages nested in dicts and lists (a list field's per-item errors) as
    one flat list of strings."""
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in flatten_messages(value)]
    if isinstance(detail, list):
        return [text for value in detail for text in flatten_messages(value)]
    return [str(detail)]


class PreconditionFailedError(Exception):
    """The caller's condition on the current state (an ``If-Match``) does not hold: nothing
    was changed."""

    def __init__(self, message: str = "The session has changed since you read it: read it again.") -> None:
        super().__init__(message)
        self.message = message
