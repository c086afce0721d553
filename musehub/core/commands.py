"""What every MuseHub command shares: errors are one line and a non-zero exit, never a
traceback; ``--help`` ends with examples; durations are written ``90m``, ``12h``, ``7d``."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import DatabaseError


class _HelpFormatter(DjangoHelpFormatter):
    """Wraps the description as usual but keeps the examples one per line."""

    def _fill_text(self, text, width, indent):
        if text.startswith("Examples:"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


class MuseHubCommand(BaseCommand):
    #: Lines shown under "Examples:" at the end of ``--help``.
    examples: tuple[str, ...] = ()

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.examples:
            lines = [f"  python manage.py {subcommand} {example}".rstrip() for example in self.examples]
            parser.epilog = "\n".join(["Examples:", *lines])
            parser.formatter_class = _HelpFormatter
        # argparse prints the whole usage before a bad-argument error; one line is enough
        # (`--help` still shows it).
        parser.print_usage = lambda file=None: None
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DatabaseError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(f"Database error: {first_line}") from None


def check_text(value: str, *, what: str, max_length: int, allow_blank: bool = False) -> str:
    """Refuse text the database would choke on, with a one-line error."""
    if not value and not allow_blank:
        raise CommandError(f"{what} must not be empty.")
    if len(value) > max_length:
        raise CommandError(f"{what} is at most {max_length} characters (got {len(value)}).")
    if "\x00" in value:
        raise CommandError(f"{what} must not contain NUL characters.")
    return value


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


def add_older_than_arguments(parser, *, what: str, dry_run: str) -> None:
    """``--older-than DURATION`` (required) and ``--dry-run``, as every pruning command takes
    them; ``what`` and ``dry_run`` finish their help lines."""
    parser.add_argument(
        "--older-than",
        required=True,
        type=parse_duration,
        metavar="DURATION",
        help=f"{what}: minutes, hours or days, like 90m, 12h, 7d.",
    )
    parser.add_argument("--dry-run", action="store_true", help=f"{dry_run}; change nothing.")
