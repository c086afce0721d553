"""Request rates per caller, counted in the shared cache (Redis, or the database).

DRF's throttles keep, per caller, the list of every request time inside the window and
rewrite that list on each request: at 12,000/min one busy token costs a 100 KB cache write
per request. These count per fixed window instead: one small integer per caller and
window, bumped with ``cache.incr`` (atomic on Redis). The rates, scopes, cache keys and the
429 with ``Retry-After`` are DRF's own.
"""

from __future__ import annotations

from rest_framework import throttling


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
        window_start = now - now % self.duration
        key = f"{self.key}:{int(window_start)}"
        # add() is a no-op when the window's counter exists; incr() then bumps it.
        self.cache.add(key, 0, self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # the counter expired between add() and incr()
            self.cache.set(key, 1, self.duration + 1)
            count = 1
        self.retry_after = window_start + self.duration - now
        return count <= self.num_requests

    def wait(self) -> float:
        return max(self.retry_after, 1.0)


class AnonRateThrottle(WindowCountMixin, throttling.AnonRateThrottle):
    """Per client address (``NUM_PROXIES`` decides which one), for anonymous callers."""


class UserRateThrottle(WindowCountMixin, throttling.UserRateThrottle):
    """Per signed-in user, all of their tokens together."""
