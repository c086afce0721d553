"""The GIN indexes of ``?participant=`` and ``?tag=`` take each session as it is written.

With GIN's default ``fastupdate``, new entries wait in a pending list (up to
``gin_pending_list_limit``, 4 MB) that every search reads in full, and that the insert
which fills it merges into the index at once. Under a steady flow of creates the bench's
``participant=cy`` on the 1,000,000-session repo read 452 buffers (~3 ms) to find 10 rows,
twice the small repo's page; with the list merged, a handful. Off, each insert adds its
few keys (two participants, a tag or two) to the index itself: a search costs the same
however many sessions were created since the last vacuum, and no create pays for merging
thousands of others' entries. PostgreSQL only, like the indexes (migration 0004).
"""

from django.db import migrations

INDEXES = ("session_participants_gin", "session_tags_gin")


def fastupdate_off(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        # What is already pending stays there until merged: merge it now.
        schema_editor.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def fastupdate_on(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX {name} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0005_session_indexes_each_insert_needs")]

    operations = [migrations.RunPython(fastupdate_off, fastupdate_on)]
