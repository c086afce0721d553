"""Conditional requests (SPEC "Conveniences"): strong ETags, ``If-None-Match`` → 304 and
``If-Match`` → 412.

An ETag is a hash of the exact JSON bytes the renderer produces for a body, so it is a
strong validator (equal tags, equal bytes) computed the same way everywhere:
``etag_of(data)`` for a body a write is about to change, ``strong_etag(bytes)`` for a
response already rendered. Nothing is stored: a resource's tag is recomputed from its
current row, so it changes exactly when what a GET shows changes.

What a 304 saves is the body on the wire, not the database reads: the view still reads the
row (or the page) to know what it would answer, then the hook below hashes the rendered
bytes and drops them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpResponseNotModified
from django.utils.http import parse_etags
from rest_framework.response import Response

from musehub.api.renderers import JSONRenderer

_RENDERER = JSONRenderer()
#: Headers that describe the body a 304 does not carry.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def strong_etag(content: bytes) -> str:
    """The strong ETag of a body: a quoted 128-bit hash of its bytes."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def etag_of(data: Any) -> str:
    """The ETag a GET answering ``data`` carries (rendered as the API renders it)."""
    return strong_etag(_RENDERER.render(data))


def _opaque(tag: str) -> str:
    """A tag without its weakness indicator: ``If-None-Match`` compares weakly."""
    return tag[2:] if tag.startswith("W/") else tag


def if_match_condition(request, etag: Callable[[Mapping[str, Any]], str]) -> Callable[[Mapping[str, Any]], bool] | None:
    """The request's ``If-Match`` as a predicate on the current row (``etag(row)`` is that
    row's tag), for a service to check inside its transaction; None when there is none.

    ``*`` matches any row that exists. The comparison is strong (RFC 9110 13.1.1): a weak
    tag (``W/"..."``) never matches, nor does a header holding no valid tag at all.
    """
    header = request.META.get("HTTP_IF_MATCH", "").strip()
    if not header:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return lambda row: True
    strong = frozenset(tag for tag in tags if not tag.startswith("W/"))
    return lambda row: etag(row) in strong


class ConditionalGetMixin:
    """For API views: a strong ``ETag`` on every successful JSON answer (a GET's, and the
    resource a write hands back), and ``304 Not Modified`` for a GET whose ``If-None-Match``
    holds it. Streaming answers (exports) are left alone."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if not isinstance(response, Response) or response.status_code not in (200, 201) or response.data is None:
            return response
        response.render()
        tag = strong_etag(response.content)
        response["ETag"] = tag
        if request.method in ("GET", "HEAD") and _none_match_holds(request, tag):
            return _not_modified(response)
        return response


def _none_match_holds(request, tag: str) -> bool:
    """``If-None-Match`` names ``tag`` (or is ``*``): the client has this very body."""
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or _opaque(tag) in {_opaque(given) for given in tags}


def _not_modified(response: Response) -> HttpResponseNotModified:
    """A 304 with the response's headers (ETag, Vary, the rate-limit and request id ones),
    without its body."""
    not_modified = HttpResponseNotModified()
    for name, value in response.items():
        if name.lower() not in _BODY_HEADERS:
            not_modified[name] = value
    return not_modified
