"""Request rates per caller, counted in fixed windows (``musehub.api.counters``).

DRF's throttles keep, per caller, the list of every request time inside the window and
rewrite that list in the cache on each request: at 12,000/min one busy token costs a
100 KB cache write per request. These count per fixed window instead: one small integer
per caller, bumped and read by one atomic statement. The rates, scopes, keys and the 429
with ``Retry-After`` are DRF's own.

Each throttle also notes what it counted on the request, and ``RateLimitHeadersMiddleware``
answers the most constraining one as ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import throttling

from musehub.api.counters import counters


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One throttle's state after counting a request."""

    limit: int
    remaining: int
    reset: int  # Unix seconds when the window ends

    def tighter_than(self, other: RateLimit | None) -> bool:
        """Fewer requests left (or as few, for longer) than ``other``."""
        return other is None or (self.remaining, -self.reset) < (other.remaining, -other.reset)


class WindowCountMixin:
    """``allow_request`` for a ``SimpleRateThrottle``: at most ``num_requests`` per window.

    A window starts on a multiple of the rate's duration; a caller can spend one window's
    budget at its end and the next one's at the start, which is the usual price of
    counting instead of remembering every request.
    """

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window_end = (int(now) // self.duration + 1) * self.duration
        hits, window_end = counters().hit(self.key, window_end)
        self.retry_after = window_end - now
        state = RateLimit(self.num_requests, max(self.num_requests - hits, 0), window_end)
        # On the Django request, where the middleware finds it.
        http_request = getattr(request, "_request", request)
        if state.tighter_than(getattr(http_request, "rate_limit", None)):
            http_request.rate_limit = state
        return hits <= self.num_requests

    def wait(self) -> float:
        return max(self.retry_after, 1.0)


class AnonRateThrottle(WindowCountMixin, throttling.AnonRateThrottle):
    """Per client address (``NUM_PROXIES`` decides which one), for anonymous callers."""


class UserRateThrottle(WindowCountMixin, throttling.UserRateThrottle):
    """Per signed-in user, all of their tokens together.

    DRF's counts anonymous callers too, per address, in a second counter beside
    ``AnonRateThrottle``'s: a second round trip on every anonymous request, for a limit the
    anonymous one already sets. Here anonymous callers have the anonymous limit only.
    """

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class RateLimitHeadersMiddleware:
    """``X-RateLimit-*`` on every response a throttle counted: its tightest limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            response["X-RateLimit-Limit"] = str(state.limit)
            response["X-RateLimit-Remaining"] = str(state.remaining)
            response["X-RateLimit-Reset"] = str(state.reset)
        return response
