"""The SQL over JSON arrays that PostgreSQL and SQLite spell differently, once per vendor:

- ``has_element``: does a JSON array column contain this exact string? (the participant and
  tag filters; Django's ``contains`` on a JSONField is not supported on SQLite);
- ``JsonArrayLength``: how many elements an array holds (a session's commit count);
- ``stats_sql``: the stats' totals per day, per location and per participant, which
  needs an array expanded into rows (and ``big_read``, how PostgreSQL should run it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Func, IntegerField, JSONField, Lookup, QuerySet


@JSONField.register_lookup
class HasElement(Lookup):
    lookup_name = "has_element"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [value])

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # jsonb containment of a one-element array: exact, case-sensitive element match.
        return f"{lhs} @> %s::jsonb", [*lhs_params, json.dumps([self.rhs])]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.type = 'text' AND json_each.value = %s)",
            [*lhs_params, self.rhs],
        )

    def as_sql(self, compiler, connection):  # pragma: no cover - other vendors
        raise NotImplementedError(f"has_element is not implemented for {connection.vendor}")


class JsonArrayLength(Func):
    """The number of elements of a JSON array column."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="jsonb_array_length", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="json_array_length", **extra)

    def as_sql(self, compiler, connection, **extra):  # pragma: no cover - other vendors
        raise NotImplementedError(f"JsonArrayLength is not implemented for {connection.vendor}")


# Each distinct participant of one row ``g`` (listed twice, it counts once): (the join
# after ``FROM g``, its condition, the name's column).
_DISTINCT_PARTICIPANTS = {
    "postgresql": (
        "CROSS JOIN LATERAL (SELECT DISTINCT e.name FROM jsonb_array_elements_text(g.participants) AS e(name)) p",
        "",
        "p.name",
    ),
    # SQLite has no LATERAL subquery: keep each name's first occurrence instead.
    "sqlite": (
        "CROSS JOIN json_each(g.participants) p",
        "WHERE NOT EXISTS (SELECT 1 FROM json_each(g.participants) q WHERE q.key < p.key AND q.value = p.value)",
        "p.value",
    ),
}


def stats_sql(per_session: QuerySet, connection) -> tuple[str, list]:
    """One statement answering the stats of the sessions ``per_session`` selects, as rows
    ``(kind, key, sessions, active, duration, commits)``: ``kind`` is ``day`` (``key`` the
    UTC start date as ``YYYY-MM-DD``), ``location`` or ``participant`` (``key`` the name).

    ``per_session`` is a ``.values("day", "location", "participants", "is_active",
    "duration", "commit_count")`` query. ``duration`` is NULL for an active session, so only
    ended sessions add to a sum; it is summed as the database sums a duration (an
    interval on PostgreSQL, microseconds on SQLite). Sessions without a location are left
    out of the locations.

    The table is read once: the sessions are first grouped by (day, location,
    participants), a few thousand groups even for a million sessions, and each kind of
    total is summed over those groups.
    """
    inner, params = per_session.query.sql_with_params()
    join, where, name = _DISTINCT_PARTICIPANTS[connection.vendor]
    sql = (
        "WITH g AS ("
        "SELECT b.day, b.location, b.participants, COUNT(*) AS n, "
        "SUM(CASE WHEN b.is_active THEN 1 ELSE 0 END) AS active, SUM(b.duration) AS duration, "
        "SUM(b.commit_count) AS commits "
        f"FROM ({inner}) b GROUP BY b.day, b.location, b.participants) "
        "SELECT 'day', CAST(g.day AS TEXT), SUM(g.n), SUM(g.active), SUM(g.duration), SUM(g.commits) "
        "FROM g GROUP BY g.day "
        "UNION ALL "
        "SELECT 'location', g.location, SUM(g.n), SUM(g.active), SUM(g.duration), SUM(g.commits) "
        "FROM g WHERE g.location <> '' GROUP BY g.location "
        "UNION ALL "
        f"SELECT 'participant', {name}, SUM(g.n), SUM(g.active), SUM(g.duration), SUM(g.commits) "
        f"FROM g {join} {where} GROUP BY {name}"
    )
    return sql, params


#: How PostgreSQL should run the stats statement (``stats_sql``), each setting for that
#: statement only. The figures are from the 1,000,000-session repo of ``bench/seed.py``.
_BIG_READ_SETTINGS = {
    # The plan's cost crosses ``jit_above_cost``, and compiling it took longer (2.8 s) than
    # running it.
    "jit": "off",
    # psycopg prepares the statement after its second use (``prepare_threshold``), and five
    # executions later PostgreSQL switches to a generic plan if it looks no dearer than the
    # repo-specific ones so far: made for an average repo (~1,500 sessions), it reads a
    # million through the repo index, serially. Plan each execution for its repo and filters.
    "plan_cache_mode": "force_custom_plan",
    # PostgreSQL takes the number of UTC days from ``started_at`` (one per session), so it
    # expects ~400,000 (day, location, participants) groups where there are a few thousand,
    # and sorts every row (a parallel external merge: ~1 s of CPU and 200 MB of temporary
    # files) where a hash table of the groups takes half the CPU and no disk. Hash
    # aggregation spills to disk itself if the groups ever are that many.
    "enable_sort": "off",
    # The same misestimate has each parallel worker pass ~400,000 groups to the leader
    # (a few thousand in fact), at ``parallel_tuple_cost`` (0.1) each: priced so, the hash
    # aggregate runs serially. At a tenth of that it runs in parallel, in the same CPU time
    # and 40% less wall time on 2 cores (more when other processes compete for them).
    "parallel_tuple_cost": "0.01",
}


@contextmanager
def big_read(connection) -> Iterator[None]:
    """Run one large aggregate read (the stats of a million sessions) with
    ``_BIG_READ_SETTINGS``, set in one statement (``set_config(..., true)``: ``SET LOCAL``).
    Scoped to a transaction of its own, so the connection's other requests keep the
    server's settings. It commits: a rollback would also make psycopg forget every
    statement it has prepared on the connection."""
    if connection.vendor != "postgresql":
        yield
        return
    calls = ", ".join("set_config(%s, %s, true)" for _ in _BIG_READ_SETTINGS)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [part for setting in _BIG_READ_SETTINGS.items() for part in setting])
        yield
