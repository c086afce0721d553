"""``manage.py stop_stale_sessions --older-than DURATION [--dry-run]``."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

from repos_app.management.commands._base import MuseHubCommand
from sessions_app.services import stop_stale_sessions

_DURATION = re.compile(r"^\s*(\d{1,9})\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
#: timedelta's own limit is 999,999,999 days; no session is that old.
_MAX_DAYS = 100 * 365


def parse_duration(text: str) -> timedelta:
    """``"90m"`` → 90 minutes, ``"12h"``, ``"7d"``; anything else is an argument error."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a whole number followed by m, h or d, like 90m, 12h or 7d"
        )
    amount, unit = int(match[1]), match[2]
    if amount == 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be more than zero")
    duration = timedelta(**{_UNITS[unit]: amount})
    if duration > timedelta(days=_MAX_DAYS):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: at most {_MAX_DAYS} days")
    return duration


class Command(MuseHubCommand):
    help = (
        "Stop every recording session that is still active and started longer than DURATION ago "
        "(a Muse CLI that never ran 'muse session stop'). Each one is stopped as the API's stop does: "
        "its endedAt becomes now. Prints the id of each session as it is stopped; a summary goes to "
        "stderr. With --dry-run nothing changes and it prints the ids it would stop."
    )
    examples = ("--older-than 12h", "--older-than 7d --dry-run")

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            required=True,
            type=parse_duration,
            metavar="DURATION",
            help="How long a session must have been running to count as stale: minutes, hours or days, "
            "like 90m, 12h, 7d.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list the sessions; change nothing.")

    def handle(self, *args, older_than: timedelta, dry_run: bool, **options):
        def stopped(session_id: str) -> None:
            # Printed (and flushed) as each one is stopped: progress on a long run, and a
            # record of what was done if it is interrupted.
            self.stdout.write(session_id)
            self.stdout.flush()

        if dry_run:
            ids = stop_stale_sessions(older_than=older_than, dry_run=True)
            for session_id in ids:
                self.stdout.write(session_id)
            self.stderr.write(f"Would stop {len(ids)} session(s) active for longer than {older_than}.")
            return
        ids = stop_stale_sessions(older_than=older_than, on_stop=stopped)
        self.stderr.write(f"Stopped {len(ids)} session(s) active for longer than {older_than}.")
