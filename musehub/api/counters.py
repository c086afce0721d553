"""Fixed-window request counters for the throttles: one atomic statement per request.

A counter is bumped and read in one round trip, atomically, wherever the workers of every
instance can see it; none of the stores below waits for a disk flush on the request path,
and each keeps only the counters of recent windows. ``settings.THROTTLE_COUNTERS`` picks
one (``{"BACKEND": dotted path, "LOCATION": ...}``, like ``CACHES``); ``musehub.settings``
chooses by what is configured:

- ``RedisCounters`` when ``REDIS_URL`` is set: ``INCR`` and ``EXPIREAT`` in one round trip.
- ``DatabaseCounters`` on PostgreSQL: ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
  into ``musehub_throttle``, an ``UNLOGGED`` table (migration ``musehub_api.0001``). A
  transaction that writes only unlogged tables commits without waiting for the WAL, and
  the statement runs in autocommit on the request's own connection before the handler's
  transaction begins (``musehub.api.transactions``), so it is one round trip and is never
  rolled back with a refused request. An unlogged table is emptied after a crash of the
  database server: the limits start over, which is all that is lost.
- ``SQLiteCounters`` on SQLite: the same statement in a small database file of its own
  (``<database>-throttle``, ``synchronous=OFF``), not the main one: the main database has
  one writer at a time, and a write transaction (``BEGIN IMMEDIATE``) holds it for a whole
  create, which every other request's count would queue behind. A separate connection
  also cannot be rolled back with the request. A crash of the machine may lose recent
  counts: the limits start over.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver
from django.utils.module_loading import import_string

#: How often (seconds) a worker deletes the counters of windows that have ended. Until then
#: an old row costs nothing: the next hit of its caller starts it over.
PRUNE_INTERVAL = 60.0
#: A window's row outlives its end by this much, for instances whose clocks lag a little.
PRUNE_GRACE = 60

TABLE = "musehub_throttle"

# The one statement of a hit. A row holds the caller's current window: a hit of a later
# window starts it over at 1, a hit of the same window adds 1, and a late hit of an earlier
# window (a slow request, a lagging clock) counts in the newer one. The right-hand sides
# all read the row as it was before this statement.
_HIT = f"""
INSERT INTO {TABLE} AS t (caller, window_end, hits) VALUES ({{p}}, {{p}}, 1)
ON CONFLICT (caller) DO UPDATE SET
    hits = CASE WHEN t.window_end < excluded.window_end THEN 1 ELSE t.hits + 1 END,
    window_end = CASE WHEN t.window_end < excluded.window_end THEN excluded.window_end ELSE t.window_end END
RETURNING hits, window_end
"""
_PRUNE = f"DELETE FROM {TABLE} WHERE window_end < {{p}}"


class CountersUnavailableError(Exception):
    """The store did not answer (Redis down or too slow): the request cannot be counted,
    and is refused with a 503 (``musehub.api.errors``), as when the database is down."""


class Counters:
    """Where throttle counts live. ``hit`` is the only operation on the request path."""

    def __init__(self, location: str = "") -> None:
        self.location = location
        self._next_prune = 0.0

    def hit(self, caller: str, window_end: int) -> tuple[int, int]:
        """Count one request of ``caller`` in the window ending at ``window_end`` (Unix
        seconds); return the hits counted in that window so far, this one included, and
        the end of the window they were counted in."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget every count (tests, and an operator lifting every limit at once)."""
        raise NotImplementedError

    def _prune_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_prune:
            return False
        self._next_prune = now + PRUNE_INTERVAL
        return True


class DatabaseCounters(Counters):
    """Counts in ``musehub_throttle`` on a Django database (``LOCATION``: its alias).

    Made for PostgreSQL, where the migration creates the table ``UNLOGGED``. The statement
    belongs to whatever transaction the connection is in: the throttles run before the
    handler's transaction starts, in autocommit.
    """

    def __init__(self, location: str = "") -> None:
        super().__init__(location or "default")

    def hit(self, caller: str, window_end: int) -> tuple[int, int]:
        with connections[self.location].cursor() as cursor:
            if self._prune_due():
                cursor.execute(_PRUNE.format(p="%s"), [int(time.time()) - PRUNE_GRACE])
            cursor.execute(_HIT.format(p="%s"), [caller, window_end])
            return cursor.fetchone()

    def clear(self) -> None:
        with connections[self.location].cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")


class SQLiteCounters(Counters):
    """Counts in a SQLite file of their own (``LOCATION``: its path), one connection per
    thread and process, in autocommit, ``synchronous=OFF``. The file and its table are
    created on first use."""

    def __init__(self, location: str = "") -> None:
        super().__init__(location)
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or a forked worker
            conn = sqlite3.connect(self.location, timeout=20, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(caller TEXT PRIMARY KEY, window_end INTEGER NOT NULL, hits INTEGER NOT NULL) WITHOUT ROWID"
            )
            local.conn, local.pid = conn, os.getpid()
        return local.conn

    def hit(self, caller: str, window_end: int) -> tuple[int, int]:
        conn = self._connection()
        if self._prune_due():
            conn.execute(_PRUNE.format(p="?"), [int(time.time()) - PRUNE_GRACE])
        return conn.execute(_HIT.format(p="?"), [caller, window_end]).fetchone()

    def clear(self) -> None:
        self._connection().execute(f"DELETE FROM {TABLE}")


class RedisCounters(Counters):
    """Counts in Redis (``LOCATION``: its URL): one key per caller and window, expiring
    when the window ends. ``INCR`` and ``EXPIREAT`` go in one round trip, on a connection
    each process (and thread) keeps: redis-py's ``Connection``, without the client's
    pipeline around it, whose bookkeeping cost more CPU than the round trip itself
    (bench/NOTES.md, issue 13's fifth part)."""

    def __init__(self, location: str = "") -> None:
        super().__init__(location)
        self._client = None
        self._pid = None
        self._local = threading.local()

    def _redis(self):
        if self._pid != os.getpid():  # a client's sockets must not be shared with a fork
            import redis

            # A Redis that does not answer must not hold a worker: give up after a few seconds
            # (``socket_timeout`` / ``socket_connect_timeout`` in the URL win over these).
            client = redis.Redis.from_url(self.location, socket_connect_timeout=2, socket_timeout=2)
            self._client, self._pid = client, os.getpid()
        return self._client

    def _connection(self):
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or a forked worker
            local.connection, local.pid = self._redis().connection_pool.get_connection(), os.getpid()
        return local.connection

    def hit(self, caller: str, window_end: int) -> tuple[int, int]:
        from redis import ConnectionError, RedisError, TimeoutError

        key = f"musehub:throttle:{caller}:{window_end}"
        commands = (("INCR", key), ("EXPIREAT", key, window_end + 1))
        try:
            connection = self._connection()
            try:
                return self._incr(connection, commands), window_end
            except (ConnectionError, TimeoutError):
                # A connection Redis closed while it was idle (a restart, a timeout) fails
                # on first use: it opens again, and the hit is sent once more, as
                # redis-py's client would.
                return self._incr(connection, commands), window_end
        except RedisError as error:
            raise CountersUnavailableError(str(error)) from error

    @staticmethod
    def _incr(connection, commands) -> int:
        """Send ``INCR`` and ``EXPIREAT`` together; the count ``INCR`` answered."""
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            hits = connection.read_response()
            connection.read_response()
        except BaseException:
            connection.disconnect()  # a reply may be left unread: the next use starts afresh
            raise
        return hits

    def clear(self) -> None:
        client = self._redis()
        for key in client.scan_iter("musehub:throttle:*"):
            client.delete(key)


_counters: Counters | None = None
_lock = threading.Lock()


def counters() -> Counters:
    """The configured store, made once per process (and again when the setting changes)."""
    global _counters
    if _counters is None:
        with _lock:
            if _counters is None:
                config = settings.THROTTLE_COUNTERS
                _counters = import_string(config["BACKEND"])(config.get("LOCATION", ""))
    return _counters


@receiver(setting_changed)
def _forget_counters(*, setting, **kwargs) -> None:
    global _counters
    if setting == "THROTTLE_COUNTERS":
        _counters = None
