"""The throttle counters' table (``musehub.api.counters.DatabaseCounters``).

``UNLOGGED`` on PostgreSQL: its writes skip the WAL, so a request's count never waits for a
disk flush (and the table is emptied after a server crash, which only resets the limits).
SQLite has no unlogged tables; there the counters default to a file of their own
(``SQLiteCounters``), and this plain table only serves a ``DatabaseCounters`` chosen
explicitly.
"""

from django.db import migrations


def create_table(apps, schema_editor):
    unlogged = "UNLOGGED " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE {unlogged}TABLE musehub_throttle "
        "(caller text PRIMARY KEY, window_end bigint NOT NULL, hits integer NOT NULL)"
    )


def drop_table(apps, schema_editor):
    schema_editor.execute("DROP TABLE musehub_throttle")


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_table, drop_table)]
