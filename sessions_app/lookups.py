"""``has_element``: does a JSON array column contain this exact string?

The participant filter needs it on both databases, and Django's ``contains`` on a
JSONField is not supported on SQLite, so the SQL is spelled once per vendor here.
"""

from __future__ import annotations

import json

from django.db.models import JSONField, Lookup


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
