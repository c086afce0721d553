"""Webhook deliveries end to end, against real parts: a private redis-server as the broker,
``celery -A musehub worker`` (no flags) in a subprocess on the test database, and an HTTP
receiver on loopback that checks every signature. Never ``task_always_eager``."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from tests.events_app.conftest import SECRET, deliveries_of, hook_for, quiet_session, record, settled
from tests.events_app.harness import Worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]


@pytest.fixture(scope="module")
def worker(broker, django_db_setup):
    process = Worker(broker.url, broker.queue)
    process.start()
    yield process
    process.stop()


def test_a_delivery_arrives_signed_and_verifiable(client, repo, auth_headers, worker, receiver) -> None:
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/ok"))
    session = quiet_session(repo)
    record(session, actor=repo.owner)

    got = wait_for(lambda: receiver.at("/ok"), timeout=10, what="the delivery")[0]
    assert got.signature_ok
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-MuseHub-Event"] == "session.created"
    event = client.get(f"/api/repos/{repo.pk}/events").json()["events"][0]
    assert got.json() == event
    assert got.json()["session"]["sessionId"] == session.pk
    [delivery] = settled(client, repo, auth_headers, hook_id)
    assert got.delivery_id == delivery["deliveryId"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 200
    assert delivery["lastError"] is None
    assert delivery["eventId"] == event["eventId"]
    assert isinstance(delivery["durationMs"], int)
    assert delivery["deliveredAt"] is not None
    time.sleep(0.5)
    assert len(receiver.at("/ok")) == 1  # exactly once without failures


def test_ping_is_delivered_signed(client, repo, auth_headers, worker, receiver) -> None:
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/ping"), events=[], active=False)
    response = client.post(f"/api/repos/{repo.pk}/hooks/{hook_id}/ping", headers=auth_headers)
    assert response.status_code == 202
    got = wait_for(lambda: receiver.at("/ping"), timeout=10, what="the ping")[0]
    assert got.signature_ok
    assert got.headers["X-MuseHub-Event"] == "ping"
    assert got.delivery_id == response.json()["deliveryId"]
    body = got.json()
    assert set(body) == {"type", "hookId", "repoId", "occurredAt"}
    assert (body["type"], body["hookId"], body["repoId"]) == ("ping", hook_id, repo.pk)


def test_a_failed_attempt_is_retried_with_the_same_delivery_id(client, repo, auth_headers, worker, receiver) -> None:
    receiver.behave = lambda path, n: 500 if n == 0 else 200
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/flaky"))
    record(quiet_session(repo))
    first, second = wait_for(
        lambda: receiver.at("/flaky")[:2] if len(receiver.at("/flaky")) >= 2 else None, timeout=15, what="two attempts"
    )
    assert first.delivery_id == second.delivery_id
    assert first.body == second.body
    assert first.signature_ok
    assert second.signature_ok
    assert second.at - first.at >= 0.9  # MUSEHUB_WEBHOOK_BACKOFF=1,1 in the worker
    [delivery] = settled(client, repo, auth_headers, hook_id)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("delivered", 2, 200)


def test_after_the_last_backoff_it_is_failed_and_redeliver_tries_once_more(
    client, repo, auth_headers, worker, receiver
) -> None:
    receiver.behave = lambda path, n: 500
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/down"))
    record(quiet_session(repo))
    [delivery] = settled(client, repo, auth_headers, hook_id)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 3  # two delays, three attempts
    assert delivery["lastStatusCode"] == 500
    assert delivery["lastError"] == "HTTP 500."
    time.sleep(1.5)
    assert len(receiver.at("/down")) == 3

    receiver.behave = lambda path, n: 200
    url = f"/api/repos/{repo.pk}/hooks/{hook_id}/deliveries/{delivery['deliveryId']}/redeliver"
    assert client.post(url, headers=auth_headers).status_code == 202
    wait_for(lambda: len(receiver.at("/down")) == 4, timeout=10, what="the redelivery")
    [again] = settled(client, repo, auth_headers, hook_id)
    assert (again["status"], again["attempts"], again["deliveryId"]) == ("delivered", 4, delivery["deliveryId"])
    attempts = receiver.at("/down")
    assert {r.delivery_id for r in attempts} == {delivery["deliveryId"]}
    assert {r.body for r in attempts} == {attempts[0].body}
    assert all(r.signature_ok for r in attempts)


def test_a_redirect_is_not_followed(client, repo, auth_headers, worker, receiver) -> None:
    receiver.behave = lambda path, n: ("redirect", receiver.url("/elsewhere")) if path == "/moved" else 200
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/moved"))
    record(quiet_session(repo))
    [delivery] = settled(client, repo, auth_headers, hook_id)
    assert delivery["status"] == "failed"
    assert delivery["lastStatusCode"] == 302
    assert "not followed" in delivery["lastError"]
    assert receiver.at("/elsewhere") == []


def test_a_hanging_receiver_is_cut_at_10_s_and_does_not_delay_anotherhook_for(
    client, repo, auth_headers, worker, receiver
) -> None:
    receiver.behave = lambda path, n: ("sleep", 30, 200) if path == "/hang" else 200
    hanging = hook_for(client, repo, auth_headers, receiver.url("/hang"))
    hook_for(client, repo, auth_headers, receiver.url("/fast"))
    session = quiet_session(repo)
    started = time.monotonic()
    for type_ in ("session.created", "session.updated", "session.commits_added", "session.stopped"):
        record(session, type_)
    wait_for(lambda: len(receiver.at("/fast")) == 4, timeout=5, what="the other hook's four deliveries")
    assert time.monotonic() - started < 5
    assert len(receiver.at("/hang")) == 1  # one attempt per hook at a time

    def first_cut():
        rows = [d for d in deliveries_of(client, repo, auth_headers, hanging) if d["attempts"]]
        return rows[0] if rows else None

    cut = wait_for(first_cut, timeout=15, what="the hanging attempt to be cut")
    assert cut["status"] == "pending"  # retried later
    assert cut["lastError"] == "Timed out after 10 s."
    assert cut["lastStatusCode"] is None
    assert 9_500 <= cut["durationMs"] <= 12_000


def test_broker_down_loses_nothing_and_the_sweep_sends_each_once(
    client, repo, auth_headers, broker, worker, receiver
) -> None:
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/outage"))
    broker.stop()
    try:
        for n in range(5):  # each commits, then fails to queue: logged, not the client's problem
            created = client.post(f"/api/repos/{repo.pk}/sessions", {"intent": f"take {n}"}, headers=auth_headers)
            assert created.status_code == 201
        response = client.post(f"/api/repos/{repo.pk}/hooks/{hook_id}/ping", headers=auth_headers)
        assert response.status_code == 202
        time.sleep(1)
        rows = deliveries_of(client, repo, auth_headers, hook_id)
        assert [(d["status"], d["attempts"]) for d in rows] == [("pending", 0)] * 6
        assert receiver.at("/outage") == []
        with pytest.raises(Exception, match="Could not reach the broker"):
            call_command("deliver_pending")
    finally:
        broker.start()
    out = StringIO()
    call_command("deliver_pending", stdout=out)
    assert out.getvalue().strip() == "Queued 6 delivery(ies)."
    wait_for(lambda: len(receiver.at("/outage")) >= 6, timeout=30, what="six deliveries")
    rows = settled(client, repo, auth_headers, hook_id, count=6)
    assert {d["status"] for d in rows} == {"delivered"}
    time.sleep(1)
    ids = [r.delivery_id for r in receiver.at("/outage")]
    assert sorted(ids) == sorted(d["deliveryId"] for d in rows)  # each once, none twice
    assert all(r.signature_ok for r in receiver.at("/outage"))


def test_the_secret_never_reaches_a_log_line(client, repo, auth_headers, worker, receiver, caplog) -> None:
    receiver.behave = lambda path, n: 500 if n == 0 else 200
    hook_id = hook_for(client, repo, auth_headers, receiver.url("/logs"))
    client.post(f"/api/repos/{repo.pk}/hooks/{hook_id}/ping", headers=auth_headers)
    record(quiet_session(repo))
    settled(client, repo, auth_headers, hook_id, count=2)
    assert "webhook delivery attempt" in worker.log()
    assert SECRET not in worker.log()
    assert SECRET not in caplog.text
    assert all(SECRET not in json.dumps(record.__dict__, default=str) for record in caplog.records)
