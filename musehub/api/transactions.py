"""Where an API request's transaction begins: after authentication and throttling.

``ATOMIC_REQUESTS`` would wrap the whole view, throttle included. A refused request (a 404,
a 422) rolls its transaction back, and with it a throttle count kept in the database:
a flood of bad requests would never be throttled. So it is off, and API views run only
their handler in a transaction. Authentication, permissions and throttling
(``APIView.initial``) run before it, in autocommit: the throttle's write is its own.

A read (``GET``, ``HEAD``, ``OPTIONS``) writes nothing, and each of its statements already
runs in a transaction of its own (autocommit). Wrapping them in one more would only add a
``BEGIN`` and a ``COMMIT``: two round trips to the database on the busiest routes, with no
difference to what the read sees (READ COMMITTED gives each statement its own snapshot
either way). So only writes get the handler-wide transaction.

The session routes, the busiest writes, do without it: each of their handlers makes one
call to a service that takes the transaction its write needs, and on PostgreSQL a create
or a stop is one statement that needs none (``sessions_app.services``).
"""

from __future__ import annotations

from django.db import transaction

#: Methods whose handlers only read.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AtomicHandlerMixin:
    """Run a write's handler (create, stop, ...) in one transaction, after ``initial()``."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in READ_ONLY_METHODS:
            return
        # APIView.dispatch looks the handler up after initial(): wrap the one it will call.
        # An exception leaves the atomic block, so the handler's writes are rolled back.
        method = request.method.lower()
        handler = getattr(self, method, None)
        if handler is not None:
            setattr(self, method, transaction.atomic(handler))
