"""Fixtures for the event and webhook tests."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection, transaction

from events_app.services import event_record
from sessions_app.render import session_body
from sessions_app.selectors import session_get
from tests.events_app.harness import Receiver, RedisServer, new_queue, point_celery_at, wait_for
from tests.factories import make_session

SECRET = "s3cret-for-signing-0123456789"


def snapshot(session) -> dict:
    """A session as the API renders it (what the session services hand to event_record)."""
    return dict(session_body(session_get(repo_id=session.repo_id, session_id=session.pk)))


def quiet_session(repo, **kwargs):
    """A session from the factory without its ``session.created`` event: for the tests that
    record events themselves (``record``), so the numbers are theirs alone."""
    with mock.patch("sessions_app.services.event_record", _write_without_event):
        return make_session(repo, **kwargs)


def _write_without_event(*, change=None, **event) -> tuple:
    """``event_record`` without the event: on PostgreSQL the write comes to it as a
    ``Change``, which is still made; elsewhere it was made before, and nothing is left."""
    if change is None:
        return ()
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {change.ctes} SELECT {change.returning}", change.params)
        return cursor.fetchone()


def record(session, type_: str = "session.created", actor=None) -> None:
    """Record an event for ``session`` in a transaction of its own, as a session service would."""
    with transaction.atomic():
        event_record(repo_id=session.repo_id, session_id=session.pk, type=type_, actor=actor, session=snapshot(session))


@pytest.fixture
def allow_private(settings):
    """Hooks may point at loopback (the test receivers)."""
    settings.MUSEHUB_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture(scope="session")
def broker():
    """A private redis-server for the session, and a queue of its own, that this process
    publishes to (the workers the tests start consume it). Tests may stop and restart it."""
    server = RedisServer()
    server.start()
    server.queue = new_queue()
    point_celery_at(server.url, server.queue)
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = Receiver(secret=SECRET)
    yield server
    server.close()


@pytest.fixture
def webhook_settings(settings):
    """What the test workers run with (tests/events_app/harness.Worker), for this process."""
    settings.MUSEHUB_WEBHOOK_ALLOW_PRIVATE = True
    settings.MUSEHUB_WEBHOOK_BACKOFF = (1, 1)


def hook_for(client, repo, headers, url: str, **body) -> str:
    response = client.post(f"/api/repos/{repo.pk}/hooks", {"url": url, "secret": SECRET, **body}, headers=headers)
    assert response.status_code == 201, response.content
    return response.json()["hookId"]


def deliveries_of(client, repo, headers, hook_id) -> list[dict]:
    return client.get(f"/api/repos/{repo.pk}/hooks/{hook_id}/deliveries", headers=headers).json()["deliveries"]


def settled(client, repo, headers, hook_id, count: int = 1, timeout: float = 45) -> list[dict]:
    """The hook's deliveries once ``count`` of them are no longer pending."""

    def done():
        rows = deliveries_of(client, repo, headers, hook_id)
        return rows if len([d for d in rows if d["status"] != "pending"]) >= count else None

    return wait_for(done, timeout=timeout, what=f"{count} settled deliveries")
