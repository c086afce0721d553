"""Request bodies checked by DRF serializers, without making a serializer per request.

Making a serializer deep-copies every field it declares (``Serializer.get_fields``): for a
session's create body that was ~0.2 ms, most of what checking the body cost. Checking
itself keeps no state on the serializer (``run_validation`` takes the data and returns
the values or raises), so each thread keeps one serializer per class and reuses it. A body
it refuses is checked once more by a new serializer's ``is_valid()``, so the 422 reads
exactly as DRF words it (the rare path pays for the exact words).
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

_local = threading.local()


def validated(serializer_class: type[serializers.Serializer], data: Any, *, partial: bool = False) -> dict[str, Any]:
    """``data`` checked by ``serializer_class``: the values the client sent, cleaned; a
    ``rest_framework.exceptions.ValidationError`` (422) when it refuses them."""
    checkers = getattr(_local, "checkers", None)
    if checkers is None:
        checkers = _local.checkers = {}
    checker = checkers.get((serializer_class, partial))
    if checker is None:
        checker = checkers[serializer_class, partial] = serializer_class(partial=partial)
    try:
        return checker.run_validation(data)
    except serializers.ValidationError:
        serializer = serializer_class(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        raise  # is_valid() accepted what run_validation() refused: a bug, never a silent accept
