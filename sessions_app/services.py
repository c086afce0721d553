"""Session rules: start, stop, edit, list, delete. The API, the admin and the commands
all come through here.

Concurrency is settled by the database, never by process-local locks (the service runs
as many gunicorn workers on many machines):
- a create first bumps its repo's ``session_count``; that UPDATE takes the repo row lock,
  so creates on one repo are serialised and a retry of the same create sees the first
  one's row instead of colliding with it;
- a stop is one conditional UPDATE (``WHERE ended_at IS NULL``): of two racing stops
  exactly one matches, the other waits on the row lock and then finds it stopped;
- a commit append locks the session row (``SELECT ... FOR UPDATE``) before merging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from musehub.api.pagination import KeysetPage, keyset_page
from musehub.api.timestamps import format_timestamp, to_utc
from musehub.errors import ConflictError, NotFoundError
from musehub.genesis import compute_identity_id, compute_session_id
from repos_app.models import Repo
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

    # Takes the repo row lock until commit: creates on one repo are serialised from here.
    if not Repo.objects.filter(pk=repo_id).update(session_count=F("session_count") + 1):
        return None, False

    session_id = session_id_for(repo_id=repo_id, author=author, started_at=start)
    # With the author joined: a retry answers with this row (create's query budget).
    existing = Session.objects.select_related("author").filter(pk=session_id).first()
    if existing is not None and not explicit_start:
        # Same author, same microsecond: step forward until the instant is free.
        while existing is not None:
            start += _ONE_MICROSECOND
            if end is not None and end < start:
                end = start
            session_id = session_id_for(repo_id=repo_id, author=author, started_at=start)
            existing = Session.objects.filter(pk=session_id).first()
    if existing is not None:
        Repo.objects.filter(pk=repo_id).update(session_count=F("session_count") - 1)
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

    session = Session(
        session_id=session_id,
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
    session.save(force_insert=True)
    return session, True


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
    active = Session.objects.filter(repo_id=repo_id, pk=session_id, ended_at__isnull=True)
    changes: dict[str, Any] = {"is_active": False}
    if notes is not None:
        changes["notes"] = notes
    if ended_at is None:
        stopped = active.update(ended_at=Greatest(Value(timezone.now()), F("started_at")), **changes)
    else:
        ended_at = to_utc(ended_at)
        stopped = active.filter(started_at__lte=ended_at).update(ended_at=ended_at, **changes)
    session = get_session(repo_id=repo_id, session_id=session_id)
    if not stopped and session is not None and session.is_active:
        raise ValidationError({"ended_at": ["Must not be before the session's startedAt."]})
    return session


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
        Repo.objects.filter(pk=repo_id).update(session_count=F("session_count") - 1)
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
    from sessions_app.filters import SessionFilter

    if isinstance(repo, str):
        repo = Repo.objects.only("repo_id", "session_count").get(pk=repo)
    queryset = Session.objects.filter(repo_id=repo.pk)
    filtered = False
    if filters:
        filterset = SessionFilter(data=filters, queryset=queryset)
        if not filterset.is_valid():
            raise ValidationError({name: list(errors) for name, errors in filterset.errors.items()})
        filtered = any(filterset.form.cleaned_data.get(name) not in (None, "") for name in filterset.filters)
        queryset = filterset.qs
    page: KeysetPage = keyset_page(
        queryset.values(*ROW_FIELDS),
        keys=_NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
        total=None if filtered else repo.session_count,
    )
    return page.rows, page.total, page.next_cursor


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
