"""``manage.py prune_events --older-than DURATION [--dry-run]``."""

from __future__ import annotations

from datetime import timedelta

from events_app.services import events_prune
from musehub.core.commands import MuseHubCommand, add_older_than_arguments


class Command(MuseHubCommand):
    help = (
        "Delete events (and their webhook deliveries) that occurred longer than DURATION ago. "
        "SPEC keeps events at least 30 days: a cron job running --older-than 30d daily suits. "
        "Event numbers are never reused. With --dry-run nothing changes and it prints how many it would delete."
    )
    examples = ("--older-than 30d", "--older-than 90d --dry-run")

    def add_arguments(self, parser):
        add_older_than_arguments(parser, what="Age of the events to delete", dry_run="Only count them")

    def handle(self, *args, older_than: timedelta, dry_run: bool, **options):
        count = events_prune(older_than=older_than, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {count} event(s) older than {older_than}.")
