"""Fixtures shared by every test: users, tokens, clients, repos."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import UserFactory, auth_header, make_repo, make_token


@pytest.fixture(scope="session")
def throttle_file(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("throttle") / "counters.sqlite3")


@pytest.fixture(autouse=True)
def _isolated_throttle_counters(settings, throttle_file):
    """Each test starts with no throttle counts. The counters live in a SQLite file of
    their own (the service's store on SQLite), outside the test's database and transaction,
    so the query counts tests take are the views' own on either database."""
    settings.THROTTLE_COUNTERS = {"BACKEND": "musehub.api.counters.SQLiteCounters", "LOCATION": throttle_file}
    from musehub.api.counters import counters

    counters().clear()


@dataclass
class ThrottleClock:
    """What the throttles read as the time (Unix seconds); set ``now`` to move it."""

    now: float


@pytest.fixture
def throttle_clock(monkeypatch) -> ThrottleClock:
    """The throttles' clock, pinned 30 s into a minute and 20 minutes into an hour. They
    count per fixed window: on the wall clock, a test's requests could straddle two."""
    clock = ThrottleClock(1_800_000_000 + 20 * 60 + 30)
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: clock.now)
    return clock


@pytest.fixture(autouse=True)
def _no_token_cache(settings):
    """Tests see each token checked against the database, as with ``TOKEN_CACHE_SECONDS=0``
    (a revocation takes effect at once); the cache has tests of its own."""
    from musehub.api import authentication

    settings.TOKEN_CACHE_SECONDS = 0
    authentication._accepted.clear()


@pytest.fixture
def client() -> APIClient:
    """An API client that sends JSON by default."""
    return APIClient()


@pytest.fixture
def user(db):
    """``testuser``, the owner of the seed's repos."""
    return UserFactory(username="testuser")


@pytest.fixture
def token(user) -> str:
    return make_token(user)


@pytest.fixture
def auth_headers(token) -> dict[str, str]:
    """Headers that sign requests in as ``testuser``."""
    return auth_header(token)


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def outsider_headers(outsider) -> dict[str, str]:
    return auth_header(make_token(outsider))


@pytest.fixture
def repo(user):
    return make_repo(owner=user, visibility="public")


@pytest.fixture
def private_repo(user):
    return make_repo(owner=user, visibility="private")


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need real concurrency; on SQLite they are skipped."""
    if connection.vendor == "postgresql" or _database_url_is_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _database_url_is_postgres() -> bool:
    import os

    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    """On SQLite the test database is a file, not Django's default in-memory one: the
    webhook tests start Celery workers in other processes, which must open the same
    database (tests/events_app). PostgreSQL's test database is shared as it is."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")
