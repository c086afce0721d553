"""The feed is gap-free (SPEC "Events"): 24 writers change sessions of one repo at once, each
transaction dawdling a little after its event is recorded, while a poller follows
``nextAfter``. Were numbers handed out outside the writing transaction (a plain sequence),
a later number could commit first and the poller, having moved past it, would never see the
earlier one. It must see every event exactly once, in order."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

import events_app.services as event_services
import sessions_app.services as session_services
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WRITERS = 24
WRITES_EACH = 12


def test_a_poller_following_next_after_sees_every_event_once_in_order(monkeypatch) -> None:
    owner = UserFactory(username="testuser")
    repo = make_repo(owner=owner, visibility="private")
    token = make_token(owner)
    writers = []
    for n in range(WRITERS):
        user = UserFactory(username=f"writer{n}")
        share(repo, user, "write")
        writers.append((user, make_session(repo, author=user)))
    base = repo.events.count()  # the creates above

    record = event_services.event_record

    def dawdling_record(**kwargs):
        recorded = record(**kwargs)
        time.sleep(random.uniform(0, 0.02))  # the commit comes a little later: others get ahead
        return recorded

    monkeypatch.setattr(session_services, "event_record", dawdling_record)
    start = threading.Barrier(WRITERS + 1)
    failures: list[BaseException] = []

    def write(user, session) -> None:
        try:
            start.wait()
            for i in range(WRITES_EACH):
                if i % 2:
                    session_services.session_commits_add(
                        repo_id=repo.pk, session_id=session.pk, commits=[f"{i:064x}"], actor=user
                    )
                else:
                    session_services.session_update(
                        repo_id=repo.pk, session_id=session.pk, intent=f"take {i}", actor=user
                    )
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connections.close_all()

    seen: list[int] = []
    done = threading.Event()

    def poll() -> None:
        client, after = APIClient(), 0
        try:
            start.wait()
            while True:
                finished = done.is_set()  # read before the page: a page after it sees everything
                body = client.get(
                    f"/api/repos/{repo.pk}/events", {"after": after, "limit": 200}, headers=auth_header(token)
                ).json()
                seen.extend(event["eventId"] for event in body["events"])
                after = body["nextAfter"]
                if finished and not body["events"]:
                    return
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=pair) for pair in writers]
    poller = threading.Thread(target=poll)
    for thread in [*threads, poller]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    poller.join(timeout=60)
    assert not failures, failures
    total = base + WRITERS * WRITES_EACH
    assert repo.events.count() == total
    # Every one, once, in order. (With numbers from a plain sequence instead, this run saw
    # 304 of 312: the poller had moved past numbers that committed after larger ones.)
    assert seen == list(range(1, total + 1))
    assert connection.vendor == "postgresql"
