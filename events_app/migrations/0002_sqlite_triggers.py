"""SQLite only: the triggers that make recording an event one statement there.

On PostgreSQL ``event_record`` bumps the repo's sequence, inserts the event and its
deliveries in one statement with data-modifying CTEs; SQLite has none, so the event INSERT
does the rest through these triggers (events_app.services). The event type bits are
``events_app.models.EVENT_BITS`` as of this migration: a new type needs a new migration.
"""

from django.db import migrations

BITS = {
    "session.created": 1,
    "session.stopped": 2,
    "session.updated": 4,
    "session.commits_added": 8,
    "session.deleted": 16,
}
_TYPE_BIT = "CASE NEW.type " + " ".join(f"WHEN '{name}' THEN {bit}" for name, bit in BITS.items()) + " ELSE 0 END"

CREATE = [
    """
    CREATE TRIGGER events_app_event_numbered AFTER INSERT ON events_app_event
    BEGIN
        INSERT INTO events_app_eventsequence (repo_id, last) VALUES (NEW.repo_id, NEW.event_id)
        ON CONFLICT (repo_id) DO UPDATE SET last = excluded.last;
    END
    """,
    f"""
    CREATE TRIGGER events_app_event_fan_out AFTER INSERT ON events_app_event
    BEGIN
        INSERT INTO events_app_delivery
            (hook_id, event_id, type, status, attempts, next_attempt_at, last_error, created_at)
        SELECT h.id, NEW.id, NEW.type, 'pending', 0, NEW.occurred_at, '', NEW.occurred_at
        FROM events_app_hook h
        WHERE h.repo_id = NEW.repo_id AND h.active AND (h.events_mask & ({_TYPE_BIT})) != 0;
    END
    """,
]
DROP = [
    "DROP TRIGGER IF EXISTS events_app_event_fan_out",
    "DROP TRIGGER IF EXISTS events_app_event_numbered",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("events_app", "0001_initial")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
