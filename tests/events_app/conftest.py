"""Fixtures for the event and webhook tests."""

from __future__ import annotations

import pytest
from django.db import transaction

from events_app.services import event_record
from musehub.api.renderers import camelized
from sessions_app.serializers import session_data, session_row

SECRET = "s3cret-for-signing-0123456789"


def snapshot(session) -> dict:
    """A session as the API renders it (what the session services hand to event_record)."""
    return dict(camelized(session_data(session_row(session))))


def record(session, type_: str = "session.created", actor=None) -> None:
    """Record an event for ``session`` in a transaction of its own, as a session service would."""
    with transaction.atomic():
        event_record(repo_id=session.repo_id, session_id=session.pk, type=type_, actor=actor, session=snapshot(session))


@pytest.fixture
def allow_private(settings):
    """Hooks may point at loopback (the test receivers)."""
    settings.MUSEHUB_WEBHOOK_ALLOW_PRIVATE = True
