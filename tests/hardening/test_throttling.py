"""Abuse: DRF throttling for anonymous and signed-in callers, state shared through the cache.

The rates come from settings (``DJANGO_THROTTLE_ANON`` / ``DJANGO_THROTTLE_USER``); these
tests lower them to a handful per minute. Across real gunicorn worker processes the same
is shown in ``tests/faults/test_gunicorn_faults.py``.
"""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import UserFactory, auth_header, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(monkeypatch):
    # DRF binds the rates to the throttle class when it is imported: patch them there.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "5/min"})


@pytest.fixture
def database_cache(settings):
    """The production default without REDIS_URL: the cache table made by ``migrate``."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "musehub_cache"}
    }
    caches["default"].clear()
    return caches["default"]


def _assert_throttled(response):
    assert response.status_code == 429, response.status_code
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    body = response.json()
    assert "throttled" in body["detail"].lower() or "request was throttled" in body["detail"].lower(), body
    assert f"{retry_after} second" in body["detail"]


def test_anonymous_caller_is_throttled_with_retry_after(low_rates, client, repo):
    url = f"/api/repos/{repo.pk}/sessions"
    for _ in range(3):
        assert client.get(url).status_code == 200
    _assert_throttled(client.get(url))
    # Every route counts against the same budget.
    _assert_throttled(client.get(f"/api/repos/{repo.pk}"))


def test_signed_in_caller_is_throttled_per_user_not_per_address(low_rates, client, repo, auth_headers):
    url = f"/api/repos/{repo.pk}/sessions"
    for _ in range(5):
        assert client.get(url, headers=auth_headers).status_code == 200
    _assert_throttled(client.get(url, headers=auth_headers))
    # Writes too.
    _assert_throttled(client.post(url, {}, format="json", headers=auth_headers))
    # Another user from the same address has a budget of their own.
    other = auth_header(make_token(UserFactory(username="someone-else")))
    assert client.get(url, headers=other).status_code == 200
    # And the anonymous budget (per address) is untouched by the signed-in one.
    assert client.get(url).status_code == 200


def test_two_tokens_of_one_user_share_one_budget(low_rates, client, repo, user):
    url = f"/api/repos/{repo.pk}/sessions"
    first, second = auth_header(make_token(user)), auth_header(make_token(user))
    for headers in (first, second, first, second, first):
        assert client.get(url, headers=headers).status_code == 200
    _assert_throttled(client.get(url, headers=second))


def test_anonymous_callers_are_told_apart_by_address(low_rates, repo):
    url = f"/api/repos/{repo.pk}/sessions"
    one, two = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")
    for _ in range(3):
        assert one.get(url).status_code == 200
    _assert_throttled(one.get(url))
    assert two.get(url).status_code == 200


def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(low_rates, client, repo):
    url = f"/api/repos/{repo.pk}/sessions"
    for n in range(3):
        assert client.get(url, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 200
    _assert_throttled(client.get(url, headers={"X-Forwarded-For": "203.0.113.99"}))


def test_behind_a_proxy_the_forwarded_address_counts(low_rates, settings, repo):
    """With DJANGO_NUM_PROXIES=1 the address the proxy appended is the caller's."""
    from rest_framework.settings import api_settings

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert api_settings.NUM_PROXIES == 1
    url = f"/api/repos/{repo.pk}/sessions"
    one = APIClient(HTTP_X_FORWARDED_FOR="198.51.100.7, 192.0.2.1")
    two = APIClient(HTTP_X_FORWARDED_FOR="198.51.100.7, 192.0.2.2")
    for _ in range(3):
        assert one.get(url).status_code == 200
    _assert_throttled(one.get(url))
    assert two.get(url).status_code == 200


def test_throttle_state_lives_in_the_shared_database_cache(low_rates, database_cache, repo, user):
    """Two clients, and a fresh cache connection between them: the counts are in the DB.

    That is what makes the limit hold across gunicorn workers (and machines) without Redis.
    """
    url = f"/api/repos/{repo.pk}/sessions"
    headers = auth_header(make_token(user))
    first, second = APIClient(), APIClient()
    for _ in range(3):
        assert first.get(url, headers=headers).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM musehub_cache")
        keys = [row[0] for row in cursor.fetchall()]
    assert any(f"throttle_user_{user.pk}" in key for key in keys), keys
    # Drop this process's cache objects: a new worker would start with none.
    caches["default"].close()
    del caches["default"]
    for _ in range(2):
        assert second.get(url, headers=headers).status_code == 200
    _assert_throttled(second.get(url, headers=headers))
    _assert_throttled(first.get(url, headers=headers))


def test_refused_requests_count_against_the_limit(low_rates, database_cache, client, repo):
    """A flood of 404s and 422s is throttled too: a refused request rolls back its own
    transaction, and the throttle's count must not go with it."""
    missing = f"/api/repos/{repo.pk}/sessions/{'0' * 64}"
    assert client.get(missing).status_code == 404
    assert client.get(f"/api/repos/{repo.pk}/sessions?limit=0").status_code == 422
    assert client.get(missing).status_code == 404
    _assert_throttled(client.get(f"/api/repos/{repo.pk}/sessions"))


def test_a_caller_costs_one_counter_per_window(low_rates, database_cache, client, repo, user):
    """The stored state is a count, not a list of every request time."""
    headers = auth_header(make_token(user))
    for _ in range(4):
        assert client.get(f"/api/repos/{repo.pk}/sessions", headers=headers).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM musehub_cache")
        keys = [row[0] for row in cursor.fetchall() if f"throttle_user_{user.pk}:" in row[0]]
    assert len(keys) == 1, keys
    assert database_cache.get(keys[0].split(":", 2)[-1]) == 4


def test_throttle_counts_in_redis_when_redis_url_is_set(low_rates, settings, repo):
    """With ``REDIS_URL`` the counters live in Redis (``INCR``: atomic across workers)."""
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("needs a Redis server on 127.0.0.1:6379 (apt-get install redis-server)")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    caches["default"].clear()
    first, second = APIClient(), APIClient()  # two clients, one address: one budget
    url_path = f"/api/repos/{repo.pk}/sessions"
    for client in (first, second, first):
        assert client.get(url_path).status_code == 200
    _assert_throttled(second.get(url_path))
    keys = redis.Redis.from_url(url).keys("*throttle_anon_*")
    assert len(keys) == 1, keys
    caches["default"].clear()


def test_default_rates_come_from_settings():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) == {"anon", "user"}
    for rate in rates.values():
        number, period = rate.split("/")
        assert int(number) > 0
        assert period[0] in "smhd"
