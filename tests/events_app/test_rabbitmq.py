"""RabbitMQ works by URL: the same delivery through ``amqp://`` instead of Redis."""

from __future__ import annotations

import os
import socket

import pytest

from tests.events_app.conftest import SECRET, quiet_session, record
from tests.events_app.harness import Worker, point_celery_at, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]

AMQP_URL = os.environ.get("MUSEHUB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _rabbitmq_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def rabbitmq(broker):
    if not _rabbitmq_answers():
        if os.environ.get("CI"):
            pytest.fail("RabbitMQ does not answer on 127.0.0.1:5672 (.ci/run starts it)")
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672")
    point_celery_at(AMQP_URL, broker.queue)
    yield AMQP_URL
    point_celery_at(broker.url, broker.queue)


def test_a_delivery_goes_through_rabbitmq(client, repo, auth_headers, rabbitmq, broker, receiver) -> None:
    response = client.post(
        f"/api/repos/{repo.pk}/hooks", {"url": receiver.url("/amqp"), "secret": SECRET}, headers=auth_headers
    )
    worker = Worker(rabbitmq, broker.queue)
    worker.start()
    try:
        record(quiet_session(repo))
        got = wait_for(lambda: receiver.at("/amqp"), timeout=15, what="the delivery over RabbitMQ")[0]
        assert got.signature_ok
        assert got.headers["X-MuseHub-Event"] == "session.created"
        hook_id = response.json()["hookId"]
        deliveries = client.get(f"/api/repos/{repo.pk}/hooks/{hook_id}/deliveries", headers=auth_headers).json()
        assert got.delivery_id == deliveries["deliveries"][0]["deliveryId"]
    finally:
        worker.stop()
