"""``manage.py stop_stale_sessions --older-than DURATION [--dry-run]``."""

from __future__ import annotations

from datetime import timedelta

from musehub.core.commands import MuseHubCommand, add_older_than_arguments
from sessions_app.services import sessions_stop_stale


class Command(MuseHubCommand):
    help = (
        "Stop every recording session that is still active and started longer than DURATION ago "
        "(a Muse CLI that never ran 'muse session stop'). Each one is stopped as the API's stop does: "
        "its endedAt becomes now. Prints the id of each session as it is stopped; a summary goes to "
        "stderr. With --dry-run nothing changes and it prints the ids it would stop."
    )
    examples = ("--older-than 12h", "--older-than 7d --dry-run")

    def add_arguments(self, parser):
        add_older_than_arguments(
            parser,
            what="How long a session must have been running to count as stale",
            dry_run="Only list the sessions",
        )

    def handle(self, *args, older_than: timedelta, dry_run: bool, **options):
        def stopped(session_id: str) -> None:
            # Printed (and flushed) as each one is stopped: progress on a long run, and a
            # record of what was done if it is interrupted.
            self.stdout.write(session_id)
            self.stdout.flush()

        if dry_run:
            ids = sessions_stop_stale(older_than=older_than, dry_run=True)
            for session_id in ids:
                self.stdout.write(session_id)
            self.stderr.write(f"Would stop {len(ids)} session(s) active for longer than {older_than}.")
            return
        ids = sessions_stop_stale(older_than=older_than, on_stop=stopped)
        self.stderr.write(f"Stopped {len(ids)} session(s) active for longer than {older_than}.")
