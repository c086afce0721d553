"""Session rules: create, stop, edit, append commits, delete. The API, the admin and the
commands all come through here, with ids and cleaned values, and get back the session as a
row (``sessions_app.render.ROW_FIELDS``); "no such session or repo" is ``NotFoundError``.

Concurrency is settled by the database, never by process-local locks (the service runs
as many gunicorn workers on many machines):
- a create inserts its row unless the id is taken (``ON CONFLICT DO NOTHING``): a retry
  racing its first try waits on the id's unique index, then finds the first one's row.
  It bumps the repo's ``session_count`` too, which holds the repo row lock until commit:
  a repo delete either waits for the create, or the create finds no repo and writes
  nothing;
- a stop is one conditional UPDATE (``WHERE ended_at IS NULL``): of two racing stops
  exactly one matches, the other waits on the row lock and then finds it stopped;
- an edit, an append and a delete lock the session row (``SELECT ... FOR UPDATE``) first,
  so each sees what the others committed before it;
- a caller's precondition (``if_match``, an HTTP ``If-Match``) is judged on that locked row
  (a stop with one locks its row first), so nothing changes between check and write.

Every change records its event (``events_app.services.event_record``): the event, and its
webhook deliveries, commit with the change or not at all. On PostgreSQL a write and its
event are one statement (data-modifying CTEs), and a create or a stop without a
precondition runs it outside any transaction: it commits at once, holding its locks for
no round trip (``_write_transaction``). On SQLite they are statements in one transaction.
A write that changes nothing (a retried create, a second stop, an edit or append that
leaves every value as it was) records none. ``actor`` is the user who made the change (the
API caller, the admin user), None for commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events_app.services import Change, event_record
from musehub.core.errors import ConflictError, NotFoundError, PreconditionFailedError
from musehub.core.naming import camel
from musehub.core.timestamps import format_timestamp, to_utc
from musehub.genesis import compute_identity_id, compute_session_id
from repos_app.models import Repo
from repos_app.selectors import REPO_NOT_FOUND, RepoNotWritableError, repo_writable_sql
from sessions_app.fields import COMPARED, MAX_COMMITS, check_editable, create_values
from sessions_app.models import Session
from sessions_app.render import AUTHOR, ROW_FIELDS, session_body
from sessions_app.selectors import SESSION_NOT_FOUND, session_current, session_get, sessions_stale

Row = dict[str, Any]
#: A caller's condition on a session's current row (``_check``).
Precondition = Callable[[Row], bool]
_ONE_MICROSECOND = timedelta(microseconds=1)


def session_id_for(*, repo_id: str, author, started_at: datetime) -> str:
    """The id a session of ``author`` on ``repo_id`` started at ``started_at`` has."""
    identity = compute_identity_id(author.get_username().encode("utf-8")) if author is not None else ""
    return compute_session_id(repo_id, identity, format_timestamp(started_at))


def session_create(*, repo_id: str, author, actor=None, writer=None, **given: Any) -> tuple[Row, bool]:
    """Start (or push an already finished) session; returns ``(row, created)``.

    ``given`` holds the fields the client set (``sessions_app.fields``); the others take
    their defaults. With an explicit ``started_at`` the session id is fixed by (repo,
    author, started_at), so a retried create finds the first one: it is returned with
    ``created=False`` when every given field matches, and ``ConflictError`` is raised when
    one differs. Without ``started_at`` the server picks a start instant unique for this
    author and repo. ``NotFoundError`` when the repo does not exist.

    ``writer``: a user who must be allowed to write to the repo (the API's caller). The
    insert is then made only if they may, checked by the insert itself (one round trip,
    not a read before it); ``RepoNotWritableError`` when they may not, or there is no repo.
    """
    values = create_values(given)
    now = timezone.now()
    explicit_start = values["started_at"] is not None
    start = to_utc(values["started_at"]) if explicit_start else now
    end = to_utc(values["ended_at"]) if values["ended_at"] is not None else None
    if given.get("is_active") and end is not None:
        raise ValidationError({"is_active": ["Cannot be true when endedAt is given."]})
    if given.get("is_active") is False and end is None:
        end = max(now, start)
    if end is not None and end < start:
        raise ValidationError({"ended_at": ["Must not be before startedAt."]})
    values.update(started_at=start, ended_at=end, is_active=end is None, commits=_dedupe(values["commits"]))
    row: Row = {
        **values,
        "session_id": session_id_for(repo_id=repo_id, author=author, started_at=start),
        "repo_id": repo_id,
        AUTHOR: author.get_username() if author is not None else None,
        "created_at": now,
    }
    author_id = author.pk if author is not None else None
    while True:
        with _write_transaction():
            inserted, counted = _insert_counted(row, author_id=author_id, actor=actor, writer=writer)
            if inserted and not counted:
                # The repo is gone (deleted since the caller looked it up): take the row back out.
                Session.objects.filter(pk=row["session_id"]).delete()
                raise NotFoundError(REPO_NOT_FOUND)
        if inserted:
            return row, True
        try:
            existing = session_get(repo_id=repo_id, session_id=row["session_id"])
        except NotFoundError:  # deleted since the insert found it: try the same id again
            continue
        if explicit_start:  # a retry of an earlier create
            _check_retry_matches(existing, {name: row[name] for name in COMPARED if name in given})
            return existing, False
        # The server picked the start, and this author started another session in the same
        # microsecond: step forward until the instant is free.
        row["started_at"] += _ONE_MICROSECOND
        if row["ended_at"] is not None and row["ended_at"] < row["started_at"]:
            row["ended_at"] = row["started_at"]
        row["session_id"] = session_id_for(repo_id=repo_id, author=author, started_at=row["started_at"])


def session_stop(
    *,
    repo_id: str,
    session_id: str,
    ended_at: datetime | None = None,
    notes: str | None = None,
    if_match: Precondition | None = None,
    actor=None,
    current: Row | None = None,
) -> Row:
    """End a session; idempotent.

    ``ended_at`` defaults to now, or to ``started_at`` if that is later. A session that
    already ended keeps its first ``ended_at`` (and notes): stopping it changes nothing.
    ``if_match``: see ``_check``. ``current``: the session's row as the caller just read it
    (the API reads it with the repo, in one statement); read here when not given.
    """
    # With a condition, it is judged on the row as it is while no one else can change it
    # (locked, in a transaction). Without one, a plain read: a session that has ended never
    # starts again, so a stop of one answers with it and writes nothing; one that has not is
    # stopped by one conditional statement, atomic on its own.
    with _write_transaction(locking=if_match is not None):
        if if_match is not None:
            row = _check(_locked_row(repo_id, session_id), if_match)
        else:
            row = dict(current) if current is not None else session_get(repo_id=repo_id, session_id=session_id)
        while row["is_active"]:
            end = to_utc(ended_at) if ended_at is not None else max(timezone.now(), row["started_at"])
            if end < row["started_at"]:
                raise ValidationError({"ended_at": ["Must not be before the session's startedAt."]})
            changes = {"ended_at": end, "is_active": False, **({"notes": notes} if notes is not None else {})}
            stopped = {**row, **changes}
            if _update(stopped, changes, event="session.stopped", actor=actor, while_active=True):
                return stopped
            # Another stop ended it between the read and the UPDATE (which waited for that
            # stop's commit): answer with the session as that stop left it.
            row = session_get(repo_id=repo_id, session_id=session_id)
        return row


def session_stop_current(
    *,
    repo_id: str,
    author_id: int,
    ended_at: datetime | None = None,
    notes: str | None = None,
    if_match: Precondition | None = None,
    actor=None,
) -> Row:
    """Stop the newest active session of ``author_id`` in the repo (``session_current``);
    ``NotFoundError`` when there is none. The CLI's ``muse session stop`` needs no id."""
    current = session_current(repo_id=repo_id, author_id=author_id)
    return session_stop(
        repo_id=repo_id,
        session_id=current["session_id"],
        ended_at=ended_at,
        notes=notes,
        if_match=if_match,
        actor=actor,
    )


@transaction.atomic
def session_update(
    *, repo_id: str, session_id: str, if_match: Precondition | None = None, actor=None, **changes: Any
) -> Row:
    """Edit what ``sessions_app.fields`` marks editable (intent, location, notes,
    participants, commits, tags). Only the columns whose value changes are written."""
    check_editable(changes)
    if "commits" in changes:
        changes["commits"] = _dedupe(changes["commits"])
    return _apply(_check(_locked_row(repo_id, session_id), if_match), changes, event="session.updated", actor=actor)


@transaction.atomic
def session_commits_add(
    *, repo_id: str, session_id: str, commits: Iterable[str], if_match: Precondition | None = None, actor=None
) -> Row:
    """Append commit ids, keeping order and dropping ids already present."""
    row = _check(_locked_row(repo_id, session_id), if_match)
    merged = _dedupe([*row["commits"], *commits])
    if len(merged) > MAX_COMMITS:
        raise ValidationError({"commits": [f"A session holds at most {MAX_COMMITS} commits."]})
    return _apply(row, {"commits": merged}, event="session.commits_added", actor=actor)


@transaction.atomic
def session_delete(*, repo_id: str, session_id: str, if_match: Precondition | None = None, actor=None) -> Row:
    """Delete a session and keep the repo's count exact; returns the session as it was."""
    row = _check(_locked_row(repo_id, session_id), if_match)
    Session.objects.filter(pk=session_id).delete()
    _add_to_session_count(repo_id, -1)
    _record(row, "session.deleted", actor)
    return row


def sessions_stop_stale(
    *, older_than: timedelta, dry_run: bool = False, on_stop: Callable[[str], None] | None = None
) -> list[str]:
    """Stop every session active for longer than ``older_than``; returns their ids.

    ``on_stop(session_id)`` is called after each one is stopped (a command's progress).
    """
    stale = sessions_stale(started_before=timezone.now() - older_than)
    if not dry_run:
        for repo_id, session_id in stale:
            session_stop(repo_id=repo_id, session_id=session_id)
            if on_stop is not None:
                on_stop(session_id)
    return [session_id for _, session_id in stale]


# ── Helpers ──────────────────────────────────────────────────────────────────
def _dedupe(ids: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each id, in order."""
    return list(dict.fromkeys(ids))


def _check_retry_matches(existing: Row, given: Mapping[str, Any]) -> None:
    different = [name for name, value in given.items() if value != existing[name]]
    if different:
        names = ", ".join(camel(name) for name in different)
        raise ConflictError(
            f"A session with this startedAt already exists for you in this repo, with different {names}."
        )


def _check(row: Row, if_match: Precondition | None) -> Row:
    """``row`` when the caller's precondition holds for it (or there is none); else
    ``PreconditionFailedError``, before anything is written.

    ``if_match(row)`` is the caller's condition on the session as it is now (an HTTP
    ``If-Match``, already turned into a predicate by the API). Every write that takes one
    judges it on the locked row, so no change can slip in between the check and the write.
    """
    if if_match is not None and not if_match(row):
        raise PreconditionFailedError()
    return row


def _locked_row(repo_id: str, session_id: str) -> Row:
    """The session's row, locked until the transaction ends; ``NotFoundError`` if none."""
    row = (
        Session.objects.select_for_update(of=("self",))
        .filter(repo_id=repo_id, pk=session_id)
        .order_by()
        .values(*ROW_FIELDS)
        .first()
    )
    if row is None:
        raise NotFoundError(SESSION_NOT_FOUND)
    return row


def _apply(row: Row, changes: Mapping[str, Any], *, event: str, actor) -> Row:
    """Write the ``changes`` that differ from the locked ``row``, and their ``event``; returns
    the row after. Nothing differs: nothing written, no event."""
    changed = {name: value for name, value in changes.items() if row[name] != value}
    if changed:
        row.update(changed)
        _update(row, changed, event=event, actor=actor)
    return row


def _write_transaction(*, locking: bool = False):
    """The transaction a write needs. On PostgreSQL a write is one statement, its event
    included (``events_app.services.event_record(change=...)``): atomic on its own, it needs
    none, unless the write first reads a row it locks (``locking``). On SQLite, which has
    no data-modifying CTEs, the write and its event are statements in one transaction."""
    if locking or connection.vendor != "postgresql":
        return transaction.atomic()
    return nullcontext()


def _record(row: Row, event: str, actor, change: Change | None = None) -> tuple[Any, ...]:
    """The change's event, with the session as the API shows it (``row``, after the change).
    Without ``change``, last in the transaction that made it (it locks the repo's event
    sequence until the commit); with one, the change and the event are one statement."""
    return event_record(
        repo_id=row["repo_id"],
        session_id=row["session_id"],
        type=event,
        actor=actor,
        session=session_body(row),
        change=change,
    )


def _add_to_session_count(repo_id: str, delta: int) -> bool:
    """Add ``delta`` to the repo's kept session count; False when there is no such repo.

    Hand-written: every create runs it, and the ORM's ``F()`` update cost more CPU to build
    than the database spends running it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Repo._meta.db_table} SET session_count = session_count + %s WHERE repo_id = %s", [delta, repo_id]
        )
        return cursor.rowcount > 0


_INSERT_FIELDS = tuple(Session._meta.concrete_fields)


def _insert_counted(row: Row, *, author_id: int | None, actor, writer=None) -> tuple[bool, bool]:
    """INSERT the session ``row`` unless a session with its id exists, count it in its repo's
    ``session_count`` and record ``session.created``. Returns ``(inserted, counted)``:
    ``(False, False)`` when the id was taken (nothing written), ``(True, False)`` when the
    repo is gone (no event; in a transaction the row is written, and the caller takes it
    back out; outside one nothing is). With a ``writer`` who may not write to the repo (or
    no repo), nothing is written: ``RepoNotWritableError``.

    Hand-written (``ON CONFLICT DO NOTHING``: PostgreSQL 9.5+, SQLite 3.24+): every create
    runs it, and ``Model.save()`` cost more CPU to build than the statement costs to run.
    Values are converted by each field, as ``save()`` converts them. On PostgreSQL the
    insert, the count and the event are one statement (data-modifying CTEs): each statement
    there is a round trip over the network, while SQLite's are calls into the library, where
    they stay apart.
    """
    values = [
        field.get_db_prep_save(author_id if field.name == "author" else row[field.attname], connection)
        for field in _INSERT_FIELDS
    ]
    writable = repo_writable_sql(repo_id=row["repo_id"], user=writer) if writer is not None else None
    if connection.vendor == "postgresql":
        admitted, admitted_params = writable or (None, [])
        params = [*admitted_params, *values, 1]
        change = Change(_insert_counted_ctes(admitted), params, made="counted", returning=_INSERT_COUNTED_RETURNING)
        try:
            inserted, counted, allowed = _record(row, "session.created", actor, change)
        except IntegrityError:
            # Outside a transaction the statement commits at once: a repo deleted since the
            # statement began fails its (deferred) foreign key check, and nothing is written.
            if Repo.objects.filter(pk=row["repo_id"]).exists():
                raise
            return True, False
        if not allowed:
            raise RepoNotWritableError()
        return bool(inserted), bool(counted)
    with connection.cursor() as cursor:
        if writable is not None:
            cursor.execute(f"SELECT EXISTS ({writable[0]})", writable[1])
            if not cursor.fetchone()[0]:
                raise RepoNotWritableError()
        cursor.execute(_insert_sql(), values)
        if cursor.rowcount == 0:
            return False, False
    if not _add_to_session_count(row["repo_id"], 1):
        return True, False
    _record(row, "session.created", actor)
    return True, True


@cache
def _insert_sql(*, when_admitted: bool = False) -> str:
    """The session INSERT, ``ON CONFLICT`` of its id doing nothing. ``when_admitted`` (the
    create's statement on PostgreSQL): an ``INSERT ... SELECT`` made only when the CTE
    ``admitted`` has a row. There nothing but a cast gives a parameter its type (a NULL, a
    string), so each is cast to its column's; strings to ``text``, which the column refuses
    if too long, where a cast to ``varchar(n)`` would cut them short."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in _INSERT_FIELDS)
    if when_admitted:
        marks = ", ".join(
            "%s::text"
            if field.get_internal_type() in ("CharField", "TextField")
            else f"%s::{field.db_type(connection)}"
            for field in _INSERT_FIELDS
        )
        source = f"SELECT {marks} WHERE EXISTS (SELECT FROM admitted)"
    else:
        source = f"VALUES ({', '.join(['%s'] * len(_INSERT_FIELDS))})"
    key = quote(Session._meta.pk.column)
    return f"INSERT INTO {quote(Session._meta.db_table)} ({names}) {source} ON CONFLICT ({key}) DO NOTHING"


_INSERT_COUNTED_RETURNING = (
    "(SELECT count(*) FROM inserted), (SELECT count(*) FROM counted), EXISTS (SELECT FROM admitted)"
)


@cache
def _insert_counted_ctes(admitted: str | None) -> str:
    """The create's CTEs on PostgreSQL. The CTE ``admitted`` runs the query ``admitted`` (the
    writer's repo: ``repo_writable_sql``, its parameters first), or without one is a row
    regardless; the insert is made only when it has a row."""
    quote = connection.ops.quote_name
    repo_id = quote(Session._meta.get_field("repo").column)
    return f"""
        admitted AS ({admitted or "SELECT"}),
        inserted AS ({_insert_sql(when_admitted=True)} RETURNING {repo_id}),
        counted AS (
            UPDATE {quote(Repo._meta.db_table)} SET session_count = session_count + %s
            WHERE {quote(Repo._meta.pk.column)} IN (SELECT {repo_id} FROM inserted)
            RETURNING 1
        )
    """


def _update(row: Row, changes: Mapping[str, Any], *, event: str, actor, while_active: bool = False) -> bool:
    """Write ``changes`` (field name -> value) to the session's row and record ``event``
    (``row`` is the session after the change); with ``while_active``, only if it has not
    ended (the stop's conditional UPDATE: of two racing stops exactly one matches). True
    when the row was written; no event when it was not. On PostgreSQL, one statement.

    Hand-written, portable SQL: building the ORM's UPDATE cost more CPU than a stop's other
    queries together. Values are converted by each field, as ``QuerySet.update`` converts them.
    """
    quote = connection.ops.quote_name
    fields = [Session._meta.get_field(name) for name in changes]
    sets = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    values = [field.get_db_prep_save(value, connection) for field, value in zip(fields, changes.values(), strict=True)]
    where = f"{quote(Session._meta.pk.column)} = %s"
    if while_active:
        where += f" AND {quote(Session._meta.get_field('ended_at').column)} IS NULL"
    update = f"UPDATE {quote(Session._meta.db_table)} SET {sets} WHERE {where}"
    params = [*values, row["session_id"]]
    if connection.vendor == "postgresql":
        change = Change(
            f"changed AS ({update} RETURNING 1)", params, made="changed", returning="EXISTS (SELECT 1 FROM changed)"
        )
        (written,) = _record(row, event, actor, change)
        return written
    with connection.cursor() as cursor:
        cursor.execute(update, params)
        if cursor.rowcount == 0:
            return False
    _record(row, event, actor)
    return True
