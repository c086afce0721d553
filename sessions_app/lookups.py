"""The SQL over JSON arrays that PostgreSQL and SQLite spell differently, once per vendor:

- ``has_element``: does a JSON array column contain this exact string? (the participant and
  tag filters; Django's ``contains`` on a JSONField is not supported on SQLite);
- ``JsonArrayLength``: how many elements an array holds (a session's commit count);
- ``names_and_seconds_sql``: sessions and ended seconds per participant and per location
  (the stats), which needs an array expanded into rows.
"""

from __future__ import annotations

import json

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


# Each distinct participant of one session row ``b`` (listed twice, it counts once):
# (the join after ``FROM (...) b``, its condition, the name's column).
_DISTINCT_PARTICIPANTS = {
    "postgresql": (
        "CROSS JOIN LATERAL (SELECT DISTINCT e.name FROM jsonb_array_elements_text(b.participants) AS e(name)) p",
        "",
        "p.name",
    ),
    # SQLite has no LATERAL subquery: keep each name's first occurrence instead.
    "sqlite": (
        "CROSS JOIN json_each(b.participants) p",
        "WHERE NOT EXISTS (SELECT 1 FROM json_each(b.participants) q WHERE q.key < p.key AND q.value = p.value)",
        "p.value",
    ),
}


def names_and_seconds_sql(per_session: QuerySet, connection) -> tuple[str, list]:
    """SQL answering ``(kind, name, sessions, seconds)`` rows, ``kind`` being
    ``participant`` or ``location``, over ``per_session``: a ``.values("session_id",
    "participants", "location", "duration")`` query of the sessions to count.

    ``seconds`` is the sum of ``duration`` (NULL for an active session, so only ended
    sessions count), as the database sums a duration: an interval on PostgreSQL,
    microseconds on SQLite. Sessions without a location are left out of the locations.
    """
    inner, params = per_session.query.sql_with_params()
    join, where, name = _DISTINCT_PARTICIPANTS[connection.vendor]
    sql = (
        f"SELECT 'participant', {name}, COUNT(*), SUM(b.duration) FROM ({inner}) b {join} {where} GROUP BY {name} "
        "UNION ALL "
        f"SELECT 'location', b.location, COUNT(*), SUM(b.duration) FROM ({inner}) b "
        "WHERE b.location <> '' GROUP BY b.location"
    )
    return sql, [*params, *params]
