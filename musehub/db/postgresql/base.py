"""Django's PostgreSQL backend, with two per-request costs taken out.

**A health check without a round trip.** With ``CONN_HEALTH_CHECKS`` Django runs
``SELECT 1`` before the first query of every request, to find a kept connection the server
has closed (a restart, a failover, an idle timeout, ``pg_terminate_backend``). Such a
connection is readable at once: the server's ``FATAL`` message, or the end of file the
kernel reports. An idle healthy connection has nothing to read. So a zero-timeout poll of
the socket answers the question, and only when something is waiting there does Django's
``SELECT 1`` decide (a notice would be harmless). That ``SELECT 1`` was one of the four
round trips of a ``GET``. What neither check can see is a peer that vanished without
closing (a cut network): ``SELECT 1`` would hang on it as the request's first query does.

**Timestamps parsed in C.** Django loads ``timestamptz`` values through its own subclass
of psycopg's loader (to pin their time zone), and a subclass runs psycopg's pure-Python
parser, not the C one of ``psycopg[binary]``: ~130 parses of a 50-session page cost more
than rendering it. The loader here is Django's, time zone and all, but hands the parsing
to the C loader when there is one.

**A server that does not answer cannot hold a worker.** ``statement_timeout`` (set from
``DATABASE_STATEMENT_TIMEOUT`` in the settings) is enforced by the server: a server that is
frozen (SIGSTOPped, swapping to death, behind a stalled network) enforces nothing, and TCP
cannot tell either, since the kernel still acknowledges what is sent to a stopped process
(measured: libpq keepalives and ``tcp_user_timeout`` of 1 s still hung after 8 s). So each
wait for the server is also bounded here, by ``OPTIONS["answer_timeout"]`` seconds: past it
the connection is closed (its state is unknown) and the query fails with an
``OperationalError``, which the API answers with 503 like any unreachable database.
"""

from __future__ import annotations

import select
from functools import cache

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from psycopg import errors
from psycopg.adapt import AdaptersMap
from psycopg.pq import Format

#: psycopg's own ``timestamptz`` text loader: the C one when psycopg has its C extension.
_PSYCOPG_TIMESTAMPTZ = psycopg.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)


@cache
def _adapters(use_tz: bool, timezone) -> AdaptersMap:
    """Django's adapters for new connections, with the ``timestamptz`` loader below."""
    adapters = AdaptersMap(get_adapters_template(use_tz, timezone))

    class TimestamptzLoader(BaseTzLoader):
        """Django's loader (``timezone`` is what its ``create_cursor`` compares), parsing
        with psycopg's loader instead of its Python superclass."""

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._parse = _PSYCOPG_TIMESTAMPTZ(oid, context).load

        def load(self, data):
            return self._parse(data).replace(tzinfo=self.timezone)

    TimestamptzLoader.timezone = timezone
    adapters.register_loader("timestamptz", TimestamptzLoader)
    return adapters


class BoundedConnection(psycopg.Connection):
    """psycopg's connection, giving up on a server that has not answered within ``answer_timeout``.

    Every exchange with the server goes through ``wait()``, whose ``timeout`` psycopg (3.3,
    pinned) uses for its own bounded waits and otherwise leaves unset: here it defaults to
    ``answer_timeout``. ``_WaitTimeout`` is what psycopg raises when that expires.
    """

    answer_timeout: float | None = None

    def wait(self, gen, *args, timeout=None, **kwargs):
        if timeout is None:
            timeout = self.answer_timeout
        try:
            return super().wait(gen, *args, timeout=timeout, **kwargs)
        except errors._WaitTimeout:
            # Mid-query with no answer: nothing can be sent on this connection any more
            # (a cancel request would wait for the same frozen server). Drop it; Django
            # opens a new one (bounded by connect_timeout) on the next request.
            self.pgconn.finish()
            raise errors.OperationalError(f"the database did not answer within {timeout:g} s") from None


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if "context" in params:
            params["context"] = _adapters(*_template_key(self))
        # Ours, not libpq's: it would refuse an unknown connection option.
        params.pop("answer_timeout", None)
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # Django builds the connection with psycopg.connect() and has no hook for its
        # class; BoundedConnection only overrides a method, so it can take over this one.
        connection.__class__ = BoundedConnection
        connection.answer_timeout = self.settings_dict["OPTIONS"].get("answer_timeout") or None
        return connection

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if not hasattr(select, "poll"):  # Windows: no poll(); Django's own check
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN)
            waiting = poller.poll(0)
        except (base.Database.Error, OSError, ValueError):
            return False
        return not waiting or super().is_usable()


def _template_key(wrapper: DatabaseWrapper) -> tuple:
    from django.conf import settings

    return settings.USE_TZ, wrapper.timezone
