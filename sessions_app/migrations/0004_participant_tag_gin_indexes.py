"""GIN indexes for ``?participant=`` and ``?tag=`` on PostgreSQL.

Both filters are jsonb containment (``participants @> '["alice"]'``, see
``sessions_app.lookups``), which a ``jsonb_path_ops`` GIN index answers without reading
every session of the repo. SQLite has no such index (nor ``jsonb``), so nothing happens
there. Built ``CONCURRENTLY`` would need a non-atomic migration; on a table this size at
the time of the release a plain build is a short lock.
"""

from django.db import migrations

INDEXES = {
    "session_participants_gin": "participants",
    "session_tags_gin": "tags",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("sessions_app", "Session")._meta.db_table
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0003_session_tags")]

    operations = [migrations.RunPython(create, drop)]
