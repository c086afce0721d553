"""``/healthz`` (the process is up) and ``/readyz`` (the database answers, else 503)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError, connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down():
    """Every cursor the readiness probe opens fails as an unreachable database does."""
    # The wrapper object behind ``django.db.connection`` in this thread, patched on the instance.
    wrapper = connections["default"]
    with mock.patch.object(wrapper, "cursor", side_effect=OperationalError("connection refused")) as cursor:
        yield cursor


def test_healthz_is_200(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_healthz_does_not_touch_the_database(client, database_down, django_assert_num_queries):
    with django_assert_num_queries(0):
        resp = client.get("/healthz")
    assert resp.status_code == 200
    database_down.assert_not_called()


def test_readyz_is_200_when_the_database_answers(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": "ok"}


def test_readyz_is_503_with_retry_after_when_the_database_fails(client, database_down):
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp["Content-Type"] == "application/json"
    assert int(resp["Retry-After"]) > 0
    assert "database" in resp.json()["detail"].lower()
    database_down.assert_called()


def test_readyz_recovers_when_the_database_is_back(client):
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("gone")):
        assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_token_and_answer_only_get(client, path):
    assert client.get(path).status_code == 200
    assert client.head(path).status_code in (200, 405)
    assert client.post(path).status_code == 405
