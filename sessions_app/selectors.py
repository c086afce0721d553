"""Reading sessions: one session, a caller's current one, a page of a repo's sessions, all
of them in chunks (exports), their totals (stats), the stale ones.

Every read returns session rows (``sessions_app.render.ROW_FIELDS``), the one shape the
API renders with ``session_body``; "no such session" is ``NotFoundError``. The hot reads
are compiled once (``musehub.core.compiled``): building and compiling an ORM query cost
more CPU than PostgreSQL spends answering it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, FilteredRelation, Q, QuerySet
from django.db.models.functions import TruncDate

from musehub.core.compiled import CompiledQuery
from musehub.core.errors import NotFoundError
from musehub.core.keyset import KeysetPage, keyset_page, keyset_rows
from repos_app.models import Role
from repos_app.selectors import REPO_NOT_FOUND, REPO_ROW_FIELDS, caller_id, repo_for_caller
from sessions_app.filters import filter_sessions
from sessions_app.lookups import JsonArrayLength, big_read, stats_sql
from sessions_app.models import Session
from sessions_app.render import ROW_FIELDS

#: Newest first: the order of every list (and of its cursor's keys).
NEWEST_FIRST = ("started_at", "session_id")
#: The filters a compiled query handles; the JSON ones (participant, tag) go through the ORM.
_COMPILED_FILTERS = frozenset({"active", "started_after", "started_before"})

SESSION_NOT_FOUND = "Session not found."

_SESSION_ROW = CompiledQuery(
    lambda repo_id, session_id: Session.objects.filter(repo_id=repo_id, pk=session_id).order_by().values(*ROW_FIELDS)
)
#: The session's columns in ``_REPO_AND_SESSION``'s row.
_JOINED = "session__"
_REPO_AND_SESSION = CompiledQuery(
    lambda repo_id, user_id, owner_role, session_id: (
        repo_for_caller(repo_id, user_id, owner_role)
        .annotate(session=FilteredRelation("sessions", condition=Q(sessions__session_id=session_id)))
        .values(*REPO_ROW_FIELDS, "caller_role", *(_JOINED + name for name in ROW_FIELDS))
    ),
    integers=("user_id",),
)


def session_get(*, repo_id: str, session_id: str) -> dict[str, Any]:
    """Session ``session_id`` of repo ``repo_id`` as a row; ``NotFoundError`` when there is
    none (also when it is another repo's)."""
    rows = _SESSION_ROW.fetch(repo_id=repo_id, session_id=session_id)
    if not rows:
        raise NotFoundError(SESSION_NOT_FOUND)
    return rows[0]


def repo_and_session_get(*, repo_id: str, session_id: str, user) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Repo ``repo_id`` with the caller's role, as ``repos_app.selectors.repo_get`` reads it,
    and its session ``session_id`` as a row (None when the repo has none by that id), in one
    statement: a session route needs both, and each statement is a round trip.
    ``NotFoundError`` when there is no such repo. Whether the caller may see either is for
    the permission predicates: judge the repo before telling the caller about the session.
    """
    rows = _REPO_AND_SESSION.fetch(
        repo_id=repo_id, session_id=session_id, user_id=caller_id(user), owner_role=Role.OWNER
    )
    if not rows:
        raise NotFoundError(REPO_NOT_FOUND)
    repo = rows[0]
    session = {name: repo.pop(_JOINED + name) for name in ROW_FIELDS}
    return repo, session if session["session_id"] is not None else None


def session_current(*, repo_id: str, author_id: int) -> dict[str, Any]:
    """The newest active session of user ``author_id`` in repo ``repo_id`` (by startedAt,
    then sessionId); ``NotFoundError`` when they have none running there.

    Served by the partial index of active sessions (``session_repo_active_idx``): a repo
    holds few active sessions however many it has in all.
    """
    row = (
        Session.objects.filter(repo_id=repo_id, author_id=author_id, is_active=True)
        .order_by(*(f"-{key}" for key in NEWEST_FIRST))
        .values(*ROW_FIELDS)
        .first()
    )
    if row is None:
        raise NotFoundError("You have no active session in this repo.")
    return row


def session_list(
    *,
    repo_id: str,
    limit: int = 50,
    cursor: str | None = None,
    filters: Mapping[str, Any] | None = None,
    repo_total: int | None = None,
) -> KeysetPage:
    """A page of the repo's sessions, newest first, and how many match in all.

    ``filters`` are cleaned values keyed by name (``active``, ``participant``, ``tag``,
    ``started_after``, ``started_before``: ``sessions_app.filters.clean_filters``).
    Unfiltered, the total is ``repo_total`` (the repo's kept count) when the caller has it,
    so a repo with a million sessions costs no ``COUNT(*)``.
    """
    filters = dict(filters or {})
    if not filters:
        return keyset_page(
            None if repo_total is not None else Session.objects.filter(repo_id=repo_id).values(*ROW_FIELDS),
            keys=NEWEST_FIRST,
            limit=limit,
            cursor=cursor,
            total=repo_total,
            fetch=partial(_unfiltered_page, repo_id=repo_id, limit=limit),
        )
    if set(filters) <= _COMPILED_FILTERS:
        count = partial(_filtered_total, repo_id=repo_id, filters=filters)
        if filters == {"active": False} and repo_total is not None:
            # The ended sessions are nearly all of a big repo: counting them reads every
            # row, while the active ones are few and have an index of their own.
            count = partial(_ended_total, repo_id=repo_id, repo_total=repo_total)
        return keyset_page(
            None,
            keys=NEWEST_FIRST,
            limit=limit,
            cursor=cursor,
            fetch=partial(_filtered_page, repo_id=repo_id, limit=limit, filters=filters),
            count=count,
        )
    # A JSON comparison (participant, tag): the ORM builds this one each time.
    return keyset_page(
        filter_sessions(Session.objects.filter(repo_id=repo_id), filters).values(*ROW_FIELDS),
        keys=NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
    )


#: Rows an export reads per query: memory stays flat however many sessions it walks.
EXPORT_CHUNK = 1000


def session_chunks(
    *,
    repo_id: str,
    filters: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    columns: tuple[str, ...] = ROW_FIELDS,
) -> Iterator[list[dict[str, Any]]]:
    """Every session of the repo matching ``filters`` (as ``session_list`` takes them),
    newest first, ``chunk_size`` rows (default ``EXPORT_CHUNK``) per query.

    ``columns`` are those of a session row (``ROW_FIELDS``) or ``commit_count``: an export
    that shows how many commits a session has need not read and decode each id.

    Each chunk is a keyset page of its own statement, so no transaction or server-side
    cursor stays open between chunks (an export streams for as long as its client reads);
    a session is yielded at most once even while others are created or deleted meanwhile.
    """
    size = chunk_size or EXPORT_CHUNK
    rows = filter_sessions(Session.objects.filter(repo_id=repo_id), dict(filters or {}))
    if "commit_count" in columns:
        rows = rows.annotate(commit_count=JsonArrayLength("commits"))
    rows = rows.values(*columns)
    after = None
    while True:
        # keyset_rows reads one row more than asked: whether another chunk follows.
        chunk = list(keyset_rows(rows, keys=NEWEST_FIRST, limit=size, after=after))
        yield chunk[:size]
        if len(chunk) <= size:
            return
        last = chunk[size - 1]
        after = (last["started_at"], last["session_id"])


def session_stats(*, repo_id: str, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Totals over the repo's sessions matching ``filters``, computed by the database in one
    aggregate statement (``sessions_app.lookups.stats_sql``):

    ``sessions``, ``active``, ``seconds`` (a timedelta: ended sessions only), ``commits``
    (the sum of commit counts), and ``participants``, ``locations`` (``{"name", "sessions",
    "seconds"}``, by seconds descending then name), ``by_day`` (``{"date", "sessions",
    "seconds"}``, by UTC start date). A participant listed twice in one session counts
    once; a session without a location is left out of ``locations``.
    """
    per_session = (
        filter_sessions(Session.objects.filter(repo_id=repo_id), dict(filters or {}))
        .order_by()
        .annotate(
            day=TruncDate("started_at", tzinfo=UTC),
            duration=ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField()),
            commit_count=JsonArrayLength("commits"),
        )
        .values("day", "location", "participants", "is_active", "duration", "commit_count")
    )
    sql, params = stats_sql(per_session, connection)
    totals: dict[str, list[dict[str, Any]]] = {"day": [], "location": [], "participant": []}
    with big_read(connection), connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, key, sessions, active, duration, commits in cursor.fetchall():
            totals[kind].append(
                {
                    "key": key,
                    # PostgreSQL sums integers as numeric (Decimal).
                    "sessions": int(sessions),
                    "active": int(active or 0),
                    "seconds": _as_timedelta(duration),
                    "commits": int(commits or 0),
                }
            )
    days = sorted(totals["day"], key=lambda day: day["key"])

    def ranked(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        groups.sort(key=lambda group: (-group["seconds"], group["key"]))
        return [{"name": group["key"], "sessions": group["sessions"], "seconds": group["seconds"]} for group in groups]

    return {
        "sessions": sum(day["sessions"] for day in days),
        "active": sum(day["active"] for day in days),
        "seconds": sum((day["seconds"] for day in days), timedelta()),
        "commits": sum(day["commits"] for day in days),
        "participants": ranked(totals["participant"]),
        "locations": ranked(totals["location"]),
        "by_day": [
            {"date": date.fromisoformat(day["key"]), "sessions": day["sessions"], "seconds": day["seconds"]}
            for day in days
        ],
    }


def _as_timedelta(value) -> timedelta:
    """A sum of durations as a database returns it (an interval; SQLite: microseconds;
    None when every session summed is active) as a timedelta."""
    if value is None:
        return timedelta()
    if isinstance(value, timedelta):
        return value
    return timedelta(microseconds=int(value))


def sessions_stale(*, started_before: datetime) -> list[tuple[str, str]]:
    """``(repo_id, session_id)`` of every session still active that started before
    ``started_before``, oldest first."""
    return list(
        Session.objects.filter(is_active=True, started_at__lt=started_before)
        .order_by("started_at", "session_id")
        .values_list("repo_id", "session_id")
    )


# The list queries, each compiled once per shape: an unfiltered page (first, or after a
# cursor), and a page and a total filtered by any of active, startedAfter, startedBefore.
_FIRST_PAGE = CompiledQuery(
    lambda repo_id, limit: keyset_rows(
        Session.objects.filter(repo_id=repo_id).values(*ROW_FIELDS), keys=NEWEST_FIRST, limit=limit
    ),
    shape=("limit",),
)
_PAGE_AFTER = CompiledQuery(
    lambda repo_id, after_time, after_id, limit: keyset_rows(
        Session.objects.filter(repo_id=repo_id).values(*ROW_FIELDS),
        keys=NEWEST_FIRST,
        limit=limit,
        after=(after_time, after_id),
    ),
    datetimes=("after_time",),
    shape=("limit",),
)


def _matching(repo_id, active, started_after, started_before, present) -> QuerySet:
    """The sessions of ``repo_id`` matching the filters named in ``present``."""
    values = {"active": active, "started_after": started_after, "started_before": started_before}
    return filter_sessions(Session.objects.filter(repo_id=repo_id), {name: values[name] for name in present})


_FILTERED_PAGE = CompiledQuery(
    lambda repo_id, started_after, started_before, after_time, after_id, limit, active, present, paged: keyset_rows(
        _matching(repo_id, active, started_after, started_before, present).values(*ROW_FIELDS),
        keys=NEWEST_FIRST,
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


def _unfiltered_page(after: tuple[datetime, str] | None, *, repo_id: str, limit: int) -> Iterator[dict[str, Any]]:
    if after is None:
        return _FIRST_PAGE.iterate(repo_id=repo_id, limit=limit)
    after_time, after_id = after
    return _PAGE_AFTER.iterate(repo_id=repo_id, after_time=after_time, after_id=after_id, limit=limit)


def _filter_params(filters: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "active": filters.get("active"),
        "started_after": filters.get("started_after"),
        "started_before": filters.get("started_before"),
        "present": tuple(sorted(filters)),
    }


def _filtered_page(
    after: tuple[datetime, str] | None, *, repo_id: str, limit: int, filters: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    after_time, after_id = after or (None, None)
    return _FILTERED_PAGE.iterate(
        repo_id=repo_id,
        after_time=after_time,
        after_id=after_id,
        limit=limit,
        paged=after is not None,
        **_filter_params(filters),
    )


def _ended_total(*, repo_id: str, repo_total: int) -> int:
    """The repo's ended sessions: its kept count less the active ones (an index scan)."""
    return repo_total - _filtered_total(repo_id=repo_id, filters={"active": True})


def _filtered_total(*, repo_id: str, filters: Mapping[str, Any]) -> int:
    rows = _FILTERED_TOTAL.fetch(repo_id=repo_id, **_filter_params(filters))
    return rows[0]["total"] if rows else 0
