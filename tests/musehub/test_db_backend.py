"""The PostgreSQL backend's health check (musehub/db/postgresql/base.py): a kept connection
the server closed is found and replaced before a request uses it, and a healthy one is
found healthy without a query."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate(pid: int) -> None:
    """End the backend ``pid`` from another connection, as a restart or failover would."""
    params = connection.get_connection_params()
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_production_settings_use_the_project_backend() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "musehub.db.postgresql"
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_a_healthy_idle_connection_is_usable_without_a_round_trip(monkeypatch) -> None:
    _backend_pid()
    sent = []
    monkeypatch.setattr(psycopg.Connection, "cursor", lambda *args, **kwargs: sent.append(args) or 1 / 0)
    assert connection.is_usable() is True
    assert sent == []


def test_a_connection_the_server_closed_is_replaced_before_the_next_request_uses_it() -> None:
    pid = _backend_pid()
    _terminate(pid)
    deadline = time.monotonic() + 5
    while connection.is_usable():  # the server's goodbye reaches the socket at once, or nearly
        assert time.monotonic() < deadline, "a closed connection still looked usable"
        time.sleep(0.01)

    # What Django does when a request begins (close_old_connections) and runs its first query.
    connection.close_if_unusable_or_obsolete()
    connection.health_check_done = False
    assert _backend_pid() != pid


TIMESTAMPS = [
    "2026-11-27 13:05:01.123456+00",
    "2026-03-29 01:30:00+01",  # an offset, converted to UTC
    "2024-02-29 23:59:59.999999-14",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "1970-01-01 00:00:00+00",
]


def test_timestamps_load_as_djangos_own_loader_loads_them() -> None:
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class DjangosLoader(BaseTzLoader):  # what Django registers (psycopg_any.register_tzloader)
        timezone = connection.timezone

    columns = ", ".join(f"%s::timestamptz AS t{i}" for i in range(len(TIMESTAMPS)))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", TIMESTAMPS)
        ours = cursor.fetchone()
        cursor.cursor.adapters.register_loader("timestamptz", DjangosLoader)
        cursor.execute(f"SELECT {columns}", TIMESTAMPS)
        djangos = cursor.fetchone()
    assert ours == djangos
    assert [value.tzinfo for value in ours] == [connection.timezone] * len(TIMESTAMPS)
    assert ours[1].isoformat() == "2026-03-29T00:30:00+00:00"
