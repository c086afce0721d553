"""Session rules: start, stop, edit, list, delete. The API, the admin and the commands
all come through here.

Concurrency is settled by the database, never by process-local locks (the service runs
as many gunicorn workers on many machines):
- a create inserts its row unless the id is taken (``ON CONFLICT DO NOTHING``): a retry
  racing its first try waits on the id's unique index, then finds the first one's row.
  It then bumps the repo's ``session_count``, which holds the repo row lock until commit:
  a repo delete either waits for the create, or the create finds no repo and takes its
  row back out;
- a stop is one conditional UPDATE (``WHERE ended_at IS NULL``): of two racing stops
  exactly one matches, the other waits on the row lock and then finds it stopped;
- a commit append locks the session row (``SELECT ... FOR UPDATE``) before merging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from musehub.api.compiled import CompiledQuery, columns, instance_from_row
from musehub.api.pagination import KeysetPage, keyset_page, keyset_rows
from musehub.api.timestamps import format_timestamp, to_utc
from musehub.errors import ConflictError, NotFoundError
from musehub.genesis import compute_identity_id, compute_session_id
from repos_app.models import Repo
from sessions_app.filters import clean_filters, filter_sessions
from sessions_app.models import Session

#: Most commits one session may hold.
MAX_COMMITS = 10_000
#: The fields a retried create is compared on (when present in its body).
RETRY_COMPARED_FIELDS = ("ended_at", "participants", "intent", "location", "notes", "commits", "is_active")
#: Columns read for API rows (``author__username`` is the author's name).
ROW_FIELDS = (
    "session_id",
    "repo_id",
    "author__username",
    "started_at",
    "ended_at",
    "participants",
    "commits",
    "notes",
    "intent",
    "location",
    "is_active",
    "created_at",
)
_NEWEST_FIRST = ("started_at", "session_id")
#: The columns a session's writes (edit, stop, append) change after it is created.
_WRITABLE_FIELDS = ("ended_at", "is_active", "participants", "commits", "notes", "intent", "location")
_ONE_MICROSECOND = timedelta(microseconds=1)


def _dedupe(ids: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each id, in order."""
    return list(dict.fromkeys(ids))


def _author_identity(author) -> str:
    return compute_identity_id(author.get_username().encode("utf-8")) if author is not None else ""


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


def session_id_for(*, repo_id: str, author, started_at: datetime) -> str:
    """The id a session of ``author`` on ``repo_id`` started at ``started_at`` has."""
    return compute_session_id(repo_id, _author_identity(author), format_timestamp(started_at))


@transaction.atomic(savepoint=False)
def upsert_session(
    *,
    repo_id: str,
    author,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    participants: list[str] | None = None,
    intent: str | None = None,
    location: str | None = None,
    notes: str | None = None,
    commits: list[str] | None = None,
    is_active: bool | None = None,
) -> tuple[Session | None, bool]:
    """Start (or push an already finished) session; returns ``(session, created)``.

    Arguments left as None were not given. With an explicit ``started_at`` the session id
    is fixed by (repo, author, started_at), so a retried create finds the first one: it is
    returned with ``created=False`` when every given field matches, and ``ConflictError``
    is raised when one differs. Without ``started_at`` the server picks a start instant
    unique for this author and repo. Returns ``(None, False)`` when the repo does not exist.
    """
    now = timezone.now()
    explicit_start = started_at is not None
    start = to_utc(started_at) if explicit_start else now
    end = to_utc(ended_at) if ended_at is not None else None
    if is_active and end is not None:
        raise ValidationError({"is_active": ["Cannot be true when endedAt is given."]})
    if is_active is False and end is None:
        end = max(now, start)
    if end is not None and end < start:
        raise ValidationError({"ended_at": ["Must not be before startedAt."]})
    commit_ids = _dedupe(commits or [])

    session = Session(
        session_id=session_id_for(repo_id=repo_id, author=author, started_at=start),
        repo_id=repo_id,
        author=author,
        started_at=start,
        ended_at=end,
        participants=list(participants or []),
        commits=commit_ids,
        notes=notes or "",
        intent=intent or "",
        location=location or "",
        is_active=end is None,
        created_at=now,
    )
    while not _insert_if_new(session):
        existing = _session_by_id(session.session_id, author=author)
        if existing is None:  # deleted since the insert found it: try the same id again
            continue
        if explicit_start:  # a retry of an earlier create
            _check_retry_matches(
                existing,
                {
                    "ended_at": end if ended_at is not None else None,
                    "participants": participants,
                    "intent": intent,
                    "location": location,
                    "notes": notes,
                    "commits": commit_ids if commits is not None else None,
                    "is_active": is_active,
                },
            )
            return existing, False
        # The server picked the start, and this author started another session in the same
        # microsecond: step forward until the instant is free.
        session.started_at += _ONE_MICROSECOND
        if session.ended_at is not None and session.ended_at < session.started_at:
            session.ended_at = session.started_at
        session.session_id = session_id_for(repo_id=repo_id, author=author, started_at=session.started_at)

    if not _add_to_session_count(repo_id, 1):
        # The repo is gone (deleted since the caller looked it up): take the row back out.
        Session.objects.filter(pk=session.pk).delete()
        return None, False
    return session, True


def _insert_if_new(session: Session) -> bool:
    """INSERT ``session`` unless a session with its id exists; True when it was inserted.

    Hand-written, portable SQL (``ON CONFLICT DO NOTHING``: PostgreSQL 9.5+, SQLite 3.24+):
    every create runs it, and ``Model.save()`` cost more CPU to build than the statement
    costs to run. Values are converted by each field, as ``save()`` converts them. The
    instance is then marked saved, as ``save()`` leaves it.
    """
    values = [field.get_db_prep_save(getattr(session, field.attname), connection) for field in _INSERT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), values)
        inserted = cursor.rowcount > 0
    if inserted:
        session._state.adding = False
        session._state.db = connection.alias
    return inserted


_INSERT_FIELDS = tuple(Session._meta.concrete_fields)


@cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in _INSERT_FIELDS)
    marks = ", ".join(["%s"] * len(_INSERT_FIELDS))
    key = quote(Session._meta.pk.column)
    return f"INSERT INTO {quote(Session._meta.db_table)} ({names}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING"


# A retried create reads the first one's row: compiled once (musehub.api.compiled).
_SESSION_BY_ID = CompiledQuery(lambda session_id: Session.objects.filter(pk=session_id).values(*columns(Session)))


def _session_by_id(session_id: str, *, author) -> Session | None:
    """The session ``session_id``, or None. Its author is ``author`` when the ids match (a
    retry answers with it, within create's query budget); otherwise it loads on access."""
    rows = _SESSION_BY_ID.fetch(session_id=session_id)
    if not rows:
        return None
    session = instance_from_row(Session, rows[0])
    if author is not None and session.author_id == author.pk:
        session.author = author
    return session


def _check_retry_matches(existing: Session, given: Mapping[str, Any]) -> None:
    different = [
        field
        for field in RETRY_COMPARED_FIELDS
        if given[field] is not None and given[field] != getattr(existing, field)
    ]
    if different:
        names = ", ".join(_api_name(field) for field in different)
        raise ConflictError(
            f"A session with this startedAt already exists for you in this repo, with different {names}."
        )


def _api_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def create_session(
    *,
    repo_id: str,
    author,
    started_at: datetime | None = None,
    participants: list[str] | None = None,
    intent: str = "",
    location: str = "",
    notes: str = "",
    commits: list[str] | None = None,
    ended_at: datetime | None = None,
) -> Session | None:
    """Start a session (the seed's ``create_session``); None when the repo does not exist."""
    session, _ = upsert_session(
        repo_id=repo_id,
        author=author,
        started_at=started_at,
        ended_at=ended_at,
        participants=participants,
        intent=intent,
        location=location,
        notes=notes,
        commits=commits,
    )
    return session


def get_session(*, repo_id: str, session_id: str) -> Session | None:
    """The session ``session_id`` of repo ``repo_id``, or None (also when it is another repo's)."""
    return Session.objects.select_related("author").filter(repo_id=repo_id, pk=session_id).first()


# GET .../sessions/{id} runs this on every request: compiled once (musehub.api.compiled).
_SESSION_ROW = CompiledQuery(
    lambda repo_id, session_id: Session.objects.filter(repo_id=repo_id, pk=session_id).order_by().values(*ROW_FIELDS)
)


def get_session_row(*, repo_id: str, session_id: str) -> dict[str, Any] | None:
    """``get_session`` as an API row (``ROW_FIELDS``, for ``session_data``), or None."""
    rows = _SESSION_ROW.fetch(repo_id=repo_id, session_id=session_id)
    return rows[0] if rows else None


@transaction.atomic(savepoint=False)
def stop_session(
    *,
    repo_id: str,
    session_id: str,
    ended_at: datetime | None = None,
    notes: str | None = None,
) -> Session | None:
    """End a session; idempotent. None when there is no such session in the repo.

    ``ended_at`` defaults to now, or to ``started_at`` if that is later. A session that
    already ended keeps its first ``ended_at`` (and notes): stopping it changes nothing.
    """
    return _stop_and_read(get_session, repo_id=repo_id, session_id=session_id, ended_at=ended_at, notes=notes)


@transaction.atomic(savepoint=False)
def stop_session_row(
    *,
    repo_id: str,
    session_id: str,
    ended_at: datetime | None = None,
    notes: str | None = None,
) -> dict[str, Any] | None:
    """``stop_session`` for ``POST .../stop``: the same rule, the session read back as an
    API row (``get_session_row``) instead of a model instance."""
    return _stop_and_read(get_session_row, repo_id=repo_id, session_id=session_id, ended_at=ended_at, notes=notes)


def _stop_and_read(read: Callable[..., Any], *, repo_id: str, session_id: str, ended_at, notes) -> Any:
    """The stop rule, then the session as ``read`` loads it (an instance or an API row)."""
    stopped = _stop(repo_id=repo_id, session_id=session_id, ended_at=ended_at, notes=notes)
    found = read(repo_id=repo_id, session_id=session_id)
    active = found is not None and (found["is_active"] if isinstance(found, dict) else found.is_active)
    # Not stopped yet still active: the given endedAt is before the session's start.
    if not stopped and active:
        raise ValidationError({"ended_at": ["Must not be before the session's startedAt."]})
    return found


def _stop(*, repo_id: str, session_id: str, ended_at: datetime | None, notes: str | None) -> bool:
    """The stop itself, one conditional UPDATE: True when this call ended the session.

    Hand-written (portable SQL): building the ORM's UPDATE cost more CPU than a stop's
    other queries together. Only an active session matches; without ``ended_at`` it ends
    now, or at its start if that is later.
    """
    to_db = connection.ops.adapt_datetimefield_value
    sets, set_params = ["is_active = %s"], [False]
    where, where_params = ["repo_id = %s", "session_id = %s", "ended_at IS NULL"], [repo_id, session_id]
    if ended_at is None:
        now = to_db(timezone.now())
        sets.append("ended_at = CASE WHEN started_at > %s THEN started_at ELSE %s END")
        set_params += [now, now]
    else:
        ended_at = to_db(to_utc(ended_at))
        sets.append("ended_at = %s")
        set_params.append(ended_at)
        where.append("started_at <= %s")
        where_params.append(ended_at)
    if notes is not None:
        sets.append("notes = %s")
        set_params.append(notes)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Session._meta.db_table} SET {', '.join(sets)} WHERE {' AND '.join(where)}",
            [*set_params, *where_params],
        )
        return cursor.rowcount > 0


@transaction.atomic(savepoint=False)
def update_session(*, session: Session, **fields: Any) -> Session:
    """Edit a session's intent, location, notes, participants or commits.

    Only the given columns are written, so racing edits of different fields both stand.
    The session is read back afterwards: a stop or an append that committed since it was
    loaded shows in the result. ``NotFoundError`` when it was deleted meanwhile.
    """
    editable = {"intent", "location", "notes", "participants", "commits"}
    unknown = set(fields) - editable
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    if "commits" in fields:
        fields["commits"] = _dedupe(fields["commits"])
    if not fields:
        return session
    if not Session.objects.filter(pk=session.pk).update(**fields):
        raise NotFoundError("Session not found.")
    # Only what other writers change: the author joined at lookup stays (no query for it).
    session.refresh_from_db(fields=_WRITABLE_FIELDS)
    return session


@transaction.atomic(savepoint=False)
def append_commits(*, repo_id: str, session_id: str, commits: list[str]) -> Session | None:
    """Append commit ids, keeping order and dropping ids already present.

    The row is locked first, so racing appends each see the others' commits.
    """
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("author")
        .filter(repo_id=repo_id, pk=session_id)
        .first()
    )
    if session is None:
        return None
    merged = _dedupe([*session.commits, *commits])
    if len(merged) > MAX_COMMITS:
        raise ValidationError({"commits": [f"A session holds at most {MAX_COMMITS} commits."]})
    if len(merged) != len(session.commits):
        Session.objects.filter(pk=session.pk).update(commits=merged)
        session.commits = merged
    return session


@transaction.atomic(savepoint=False)
def delete_session(*, repo_id: str, session_id: str) -> bool:
    """Delete a session and keep the repo's count exact. False when there was none."""
    deleted, _ = Session.objects.filter(repo_id=repo_id, pk=session_id).delete()
    if deleted:
        _add_to_session_count(repo_id, -1)
    return bool(deleted)


def list_sessions(
    *,
    repo: Repo | str,
    limit: int = 50,
    cursor: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page of ``repo``'s sessions, newest first: ``(rows, total, next_cursor)``.

    ``filters`` are the API's query filters (``active``, ``participant``, ``startedAfter``,
    ``startedBefore``); ``total`` counts every session matching them. Unfiltered, it is
    the repo's kept count, so a repo with a million sessions costs no ``COUNT(*)``.
    """
    if isinstance(repo, str):
        repo = Repo.objects.only("repo_id", "session_count").get(pk=repo)
    given = clean_filters(filters) if filters else {}
    if "participant" in given:  # compares a JSON value: the ORM builds this one each time
        page: KeysetPage = keyset_page(
            filter_sessions(Session.objects.filter(repo_id=repo.pk), given).values(*ROW_FIELDS),
            keys=_NEWEST_FIRST,
            limit=limit,
            cursor=cursor,
        )
    elif given:  # active, startedAfter, startedBefore: compiled once per combination
        page = keyset_page(
            None,
            keys=_NEWEST_FIRST,
            limit=limit,
            cursor=cursor,
            fetch=partial(_filtered_page, repo_id=repo.pk, limit=limit, given=given),
            count=partial(_filtered_total, repo_id=repo.pk, given=given),
        )
    else:  # the common case: the total is the kept counter
        page = keyset_page(
            None,
            keys=_NEWEST_FIRST,
            limit=limit,
            cursor=cursor,
            total=repo.session_count,
            fetch=partial(_unfiltered_page, repo_id=repo.pk, limit=limit),
        )
    return page.rows, page.total, page.next_cursor


# The hot list queries, each compiled once per shape (musehub.api.compiled): an unfiltered
# page (first, or after a cursor), and a page and total filtered by any of active,
# startedAfter and startedBefore.
_FIRST_PAGE = CompiledQuery(
    lambda repo_id, limit: keyset_rows(
        Session.objects.filter(repo_id=repo_id).values(*ROW_FIELDS), keys=_NEWEST_FIRST, limit=limit
    ),
    shape=("limit",),
)
_PAGE_AFTER = CompiledQuery(
    lambda repo_id, after_time, after_id, limit: keyset_rows(
        Session.objects.filter(repo_id=repo_id).values(*ROW_FIELDS),
        keys=_NEWEST_FIRST,
        limit=limit,
        after=(after_time, after_id),
    ),
    datetimes=("after_time",),
    shape=("limit",),
)


def _matching(repo_id, active, started_after, started_before, present) -> QuerySet:
    """The sessions of ``repo_id`` matching the filters named in ``present``."""
    values = {"active": active, "startedAfter": started_after, "startedBefore": started_before}
    return filter_sessions(Session.objects.filter(repo_id=repo_id), {name: values[name] for name in present})


_FILTERED_PAGE = CompiledQuery(
    lambda repo_id, started_after, started_before, after_time, after_id, limit, active, present, paged: keyset_rows(
        _matching(repo_id, active, started_after, started_before, present).values(*ROW_FIELDS),
        keys=_NEWEST_FIRST,
        limit=limit,
        after=(after_time, after_id) if paged else None,
    ),
    datetimes=("started_after", "started_before", "after_time"),
    shape=("limit", "active", "present", "paged"),
)
_FILTERED_TOTAL = CompiledQuery(
    lambda repo_id, started_after, started_before, active, present: (
        _matching(repo_id, active, started_after, started_before, present)
        .order_by()
        .values("repo_id")
        .annotate(total=Count("*"))
    ),
    datetimes=("started_after", "started_before"),
    shape=("active", "present"),
)


def _unfiltered_page(after: tuple[datetime, str] | None, *, repo_id: str, limit: int) -> list[dict[str, Any]]:
    if after is None:
        return _FIRST_PAGE.fetch(repo_id=repo_id, limit=limit)
    after_time, after_id = after
    return _PAGE_AFTER.fetch(repo_id=repo_id, after_time=after_time, after_id=after_id, limit=limit)


def _filter_params(given: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "active": given.get("active"),
        "started_after": given.get("startedAfter"),
        "started_before": given.get("startedBefore"),
        "present": tuple(sorted(given)),
    }


def _filtered_page(
    after: tuple[datetime, str] | None, *, repo_id: str, limit: int, given: Mapping[str, Any]
) -> list[dict[str, Any]]:
    after_time, after_id = after or (None, None)
    return _FILTERED_PAGE.fetch(
        repo_id=repo_id,
        after_time=after_time,
        after_id=after_id,
        limit=limit,
        paged=after is not None,
        **_filter_params(given),
    )


def _filtered_total(*, repo_id: str, given: Mapping[str, Any]) -> int:
    rows = _FILTERED_TOTAL.fetch(repo_id=repo_id, **_filter_params(given))
    return rows[0]["total"] if rows else 0


def stop_stale_sessions(
    *, older_than: timedelta, dry_run: bool = False, on_stop: Callable[[str], None] | None = None
) -> list[str]:
    """Stop every session active for longer than ``older_than``; returns their ids.

    ``on_stop(session_id)`` is called after each one is stopped (a command's progress).
    """
    cutoff = timezone.now() - older_than
    stale = list(
        Session.objects.filter(is_active=True, started_at__lt=cutoff)
        .order_by("started_at", "session_id")
        .values_list("repo_id", "session_id")
    )
    if not dry_run:
        for repo_id, session_id in stale:
            stop_session(repo_id=repo_id, session_id=session_id)
            if on_stop is not None:
                on_stop(session_id)
    return [session_id for _, session_id in stale]
