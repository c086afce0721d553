"""Where an API request's transaction begins: after authentication and throttling.

``ATOMIC_REQUESTS`` would wrap the whole view, throttle included. A refused request (a 404,
a 422) rolls its transaction back, and with it the throttle's count in the database cache:
a flood of bad requests would never be throttled. So it is off, and API views run only
their handler in a transaction. Authentication, permissions and throttling
(``APIView.initial``) run before it, in autocommit: the throttle's write is its own.
"""

from __future__ import annotations

from django.db import transaction


class AtomicHandlerMixin:
    """Run the handler (list, create, stop, ...) in one transaction, after ``initial()``."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # APIView.dispatch looks the handler up after initial(): wrap the one it will call.
        # An exception leaves the atomic block, so the handler's writes are rolled back.
        method = request.method.lower()
        handler = getattr(self, method, None)
        if handler is not None:
            setattr(self, method, transaction.atomic(handler))
