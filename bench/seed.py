"""Seed the benchmark database (PostgreSQL): ``python bench/seed.py``.

One repo with 1,000,000 sessions (1,000 of them active) and 1,000 repos with 50 sessions
each, all private and owned by the user ``bench``. Repos are made by the project's own
service; sessions are streamed in with ``COPY`` (the secondary indexes are dropped first
and rebuilt after, which is several times faster than keeping them up to date row by row).
Session ids are the real derived ids, so every row is one the API could have created.

Idempotent: a database that already holds the full data set is left as it is. A partly
seeded one (an interrupted run) is emptied and seeded again.

The database is ``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/musehub_bench``; it is created if missing. Not
``DATABASE_URL``: a shell that runs the tests exports that, and a million rows do not
belong in a development or CI database.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musehub_bench"

BENCH_USER = "bench"
BIG_SLUG = "million"
BIG_SESSIONS = 1_000_000
BIG_ACTIVE_EVERY = 1_000  # every 1,000th session is active: 1,000 in all
SMALL_REPOS = 1_000
SMALL_SESSIONS = 50
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def setup_django(url: str) -> None:
    """Configure Django (bench settings) on the benchmark database, creating it if missing."""
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # Seeding COPYs a million rows and rebuilds indexes: statements far longer than a
    # request may run (DATABASE_STATEMENT_TIMEOUT, 15 s by default).
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg
    from psycopg import sql

    db = dj_database_url.parse(url)
    params = {
        "dbname": "postgres",
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
    }
    try:
        with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone() is None:
                print(f"creating database {db['NAME']}", file=sys.stderr)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    except psycopg.OperationalError as error:
        sys.exit(f"bench: cannot reach PostgreSQL at {url}: {error}".strip())


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self.started = self.shown = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown >= 0.5 or self.done >= self.total:
            self.shown = now
            share = self.done / self.total
            bar = "#" * int(share * 30)
            print(
                f"\r{self.label} [{bar:<30}] {share:6.1%} {self.done:,}/{self.total:,} rows {now - self.started:5.1f}s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def finish(self) -> None:
        print(file=sys.stderr)


def is_seeded() -> bool:
    from repos_app.models import Repo

    repos = Repo.objects.filter(owner__username=BENCH_USER)
    return (
        repos.filter(slug=BIG_SLUG, session_count=BIG_SESSIONS).exists()
        and repos.filter(slug__startswith="small-", session_count=SMALL_SESSIONS).count() == SMALL_REPOS
    )


def session_lines(
    repo_id: str,
    author_id: int,
    count: int,
    *,
    active_every: int,
    spacing: timedelta,
    intent: str = "bench take",
    with_commits: bool = True,
) -> Iterator[str]:
    """COPY text lines of ``count`` sessions of one repo, ``spacing`` apart, oldest first.

    Each row is the model's columns (``copy_columns``), holding what a create through the
    API would store: the fields' defaults (``sessions_app.fields``) and the bench's values.
    """
    from musehub.core.timestamps import format_timestamp
    from musehub.genesis import compute_identity_id, compute_session_id
    from sessions_app.fields import create_values

    identity = compute_identity_id(BENCH_USER.encode())
    base = create_values({"participants": ["ana", "bo"], "intent": intent, "location": "Studio A"})
    columns = copy_columns()
    for i in range(count):
        started = T0 + spacing * i
        started_text = format_timestamp(started)
        active = i % active_every == active_every - 1
        row = {
            **base,
            "session_id": compute_session_id(repo_id, identity, started_text),
            "repo_id": repo_id,
            "author_id": author_id,
            "started_at": started,
            "ended_at": None if active else started + timedelta(minutes=30),
            "commits": [f"{i:064x}", f"{i + 1:064x}"] if with_commits else [],
            "is_active": active,
            "created_at": started,
        }
        yield "\t".join(copy_text(row[column]) for column in columns) + "\n"


def copy_columns() -> list[str]:
    """The session table's columns, in the model's order."""
    from sessions_app.models import Session

    return [field.attname for field in Session._meta.concrete_fields]


def copy_text(value) -> str:
    """``value`` in COPY's text format (the bench's values hold no tab, newline or backslash)."""
    from musehub.core.timestamps import format_timestamp

    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def copy_sessions(batches: list[tuple[str, int, int, timedelta]], author_id: int, label: str, **shape) -> None:
    """COPY the sessions of each (repo_id, count, active_every, spacing) and set each repo's count;
    ``shape`` (``intent``, ``with_commits``) goes to ``session_lines``."""
    from django.db import connection

    total = sum(count for _, count, _, _ in batches)
    progress = Progress(total, label)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: it speaks COPY
        columns = ", ".join(copy_columns())
        with raw.copy(f"COPY sessions_app_session ({columns}) FROM STDIN") as copy:
            for repo_id, count, active_every, spacing in batches:
                chunk: list[str] = []
                for line in session_lines(
                    repo_id, author_id, count, active_every=active_every, spacing=spacing, **shape
                ):
                    chunk.append(line)
                    if len(chunk) == 10_000:
                        copy.write("".join(chunk))
                        progress.advance(len(chunk))
                        chunk = []
                if chunk:
                    copy.write("".join(chunk))
                    progress.advance(len(chunk))
        for repo_id, count, _, _ in batches:
            cursor.execute(
                "UPDATE repos_app_repo SET session_count = session_count + %s WHERE repo_id = %s", [count, repo_id]
            )
    progress.finish()


def secondary_indexes() -> list[tuple[str, str]]:
    """(name, definition) of the session table's indexes that no constraint owns."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = 'sessions_app_session'::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
            """
        )
        return cursor.fetchall()


def seed() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from events_app.models import Event
    from repos_app.models import Repo
    from repos_app.services import repo_create
    from sessions_app.models import Session

    call_command("migrate", verbosity=0)
    if is_seeded():
        print("bench: database already seeded", file=sys.stderr)
        return
    started = time.monotonic()
    with transaction.atomic():
        # An interrupted seed leaves a partial data set: start from an empty one (this
        # database is the benchmark's own). Sessions and events first, in one statement
        # (deliveries go with their events), so that deleting the user does not cascade
        # through them row by row: a million sessions, and an event for every session
        # earlier runs created, more than the 65,535 parameters PostgreSQL takes in the
        # one DELETE Django would send for them.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Session._meta.db_table}, {Event._meta.db_table} CASCADE")
        get_user_model().objects.filter(username=BENCH_USER).delete()
        user = get_user_model().objects.create(username=BENCH_USER)
        big = repo_create(owner=user, name=BIG_SLUG, visibility="private", description="a decade of sessions")
        small = [repo_create(owner=user, name=f"small-{n:04d}", visibility="private") for n in range(SMALL_REPOS)]
        print(f"bench: {1 + len(small):,} repos created", file=sys.stderr)

        indexes = secondary_indexes()
        with connection.cursor() as cursor:
            # Check the foreign keys row by row: a million deferred checks would otherwise
            # pile up until commit, and no index can be built while they are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        copy_sessions(
            [(big["repo_id"], BIG_SESSIONS, BIG_ACTIVE_EVERY, timedelta(minutes=5))]
            + [(repo["repo_id"], SMALL_SESSIONS, SMALL_SESSIONS, timedelta(hours=6)) for repo in small],
            user.pk,
            "bench: sessions",
        )
        print(f"bench: rebuilding {len(indexes)} indexes", file=sys.stderr)
        with connection.cursor() as cursor:
            for _, definition in indexes:
                cursor.execute(definition)
    # Outside the transaction: statistics for the planner, and a visibility map.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sessions_app_session")
        cursor.execute("VACUUM ANALYZE repos_app_repo")
    assert Repo.objects.get(owner=user, slug=BIG_SLUG).session_count == BIG_SESSIONS
    print(f"bench: seeded in {time.monotonic() - started:.0f}s", file=sys.stderr)


def main() -> None:
    setup_django(database_url())
    seed()


if __name__ == "__main__":
    main()
