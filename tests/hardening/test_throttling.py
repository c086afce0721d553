"""Abuse: DRF throttling for anonymous and signed-in callers, counted in a shared store.

The rates come from settings (``DJANGO_THROTTLE_ANON`` / ``DJANGO_THROTTLE_USER``); these
tests lower them to a handful per minute. Across real gunicorn worker processes the same
is shown in ``tests/hardening/test_throttle_workers.py`` (exact counts) and
``tests/faults/test_gunicorn_http.py``.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from musehub.api import counters as counters_module
from musehub.api.counters import RedisCounters, SQLiteCounters, counters
from sessions_app.models import Session
from tests.factories import UserFactory, auth_header, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(monkeypatch, throttle_clock):
    # DRF binds the rates to the throttle class when it is imported: patch them there.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "5/min"})


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


def _redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("needs a Redis server on 127.0.0.1:6379 (apt-get install redis-server)")
    return url


@pytest.fixture(params=["database", "sqlite_file", "redis"])
def store(request, settings, tmp_path):
    """Each store the service may count in: the database's table (UNLOGGED on PostgreSQL),
    a SQLite file of its own (the default on SQLite), Redis (with ``REDIS_URL``)."""
    location = {
        "database": lambda: "default",
        "sqlite_file": lambda: str(tmp_path / "throttle.sqlite3"),
        "redis": _redis_url,
    }[request.param]()
    backend = {"database": "DatabaseCounters", "sqlite_file": "SQLiteCounters", "redis": "RedisCounters"}
    settings.THROTTLE_COUNTERS = {"BACKEND": f"musehub.api.counters.{backend[request.param]}", "LOCATION": location}
    store = counters()
    store.clear()
    yield store
    store.clear()


def _stored_counts(store) -> dict[str, int]:
    """caller key -> hits, read from the store itself (not through the throttle)."""
    if isinstance(store, RedisCounters):
        client = store._redis()
        windows = sorted(
            (int(window), caller, int(client.get(key)))
            for key in client.scan_iter("musehub:throttle:*")
            for caller, window in [key.decode().removeprefix("musehub:throttle:").rsplit(":", 1)]
        )
        return {caller: hits for _, caller, hits in windows}  # each caller's latest window
    if isinstance(store, SQLiteCounters):
        return dict(store._connection().execute("SELECT caller, hits FROM musehub_throttle").fetchall())
    with connection.cursor() as cursor:
        cursor.execute("SELECT caller, hits FROM musehub_throttle")
        return dict(cursor.fetchall())


def test_throttle_state_lives_in_the_shared_store(low_rates, store, repo, user):
    """Two clients, and the process's store object dropped between them, as a new worker
    would start: the counts are kept outside the process."""
    url = f"/api/repos/{repo.pk}/sessions"
    headers = auth_header(make_token(user))
    first, second = APIClient(), APIClient()
    for _ in range(3):
        assert first.get(url, headers=headers).status_code == 200
    assert _stored_counts(store) == {f"throttle_user_{user.pk}": 3}
    counters_module._counters = None  # a new worker starts with no store object
    assert counters() is not store
    for _ in range(2):
        assert second.get(url, headers=headers).status_code == 200
    _assert_throttled(second.get(url, headers=headers))
    _assert_throttled(first.get(url, headers=headers))


def test_refused_requests_count_against_the_limit(low_rates, store, client, repo, user):
    """A flood of 404s and 422s is throttled too: a refused request rolls back its own
    transaction, and the throttle's count must not go with it."""
    missing = f"/api/repos/{repo.pk}/sessions/{'0' * 64}"
    assert client.get(missing).status_code == 404
    assert client.get(f"/api/repos/{repo.pk}/sessions?limit=0").status_code == 422
    assert client.get(missing).status_code == 404
    _assert_throttled(client.get(f"/api/repos/{repo.pk}/sessions"))
    # A write refused inside its transaction (422) counts as well.
    headers = auth_header(make_token(user))
    url = f"/api/repos/{repo.pk}/sessions"
    for _ in range(5):
        assert client.post(url, {"intent": 5}, format="json", headers=headers).status_code == 422
    _assert_throttled(client.post(url, {}, format="json", headers=headers))


def test_a_caller_costs_one_counter_per_window(low_rates, store, client, repo, user):
    """The stored state is a count, not a list of every request time."""
    headers = auth_header(make_token(user))
    for _ in range(4):
        assert client.get(f"/api/repos/{repo.pk}/sessions", headers=headers).status_code == 200
    assert _stored_counts(store) == {f"throttle_user_{user.pk}": 4}


def test_a_new_window_starts_the_count_over(low_rates, throttle_clock, store, client, repo):
    url = f"/api/repos/{repo.pk}/sessions"
    throttle_clock.now = 1_800_000_000.0  # a window (minute) boundary
    for _ in range(3):
        assert client.get(url).status_code == 200
    _assert_throttled(client.get(url))
    throttle_clock.now += 60
    assert client.get(url).status_code == 200
    assert _stored_counts(store)["throttle_anon_127.0.0.1"] == 1


@pytest.mark.parametrize("backend", ["DatabaseCounters", "SQLiteCounters"])
def test_counters_of_ended_windows_are_deleted(backend, settings, tmp_path):
    """Storage stays bounded: each worker deletes, now and then, the rows of windows that
    ended (with a grace for lagging clocks)."""
    location = "default" if backend == "DatabaseCounters" else str(tmp_path / "throttle.sqlite3")
    settings.THROTTLE_COUNTERS = {"BACKEND": f"musehub.api.counters.{backend}", "LOCATION": location}
    store = counters()
    now = int(time.time())
    store.hit("long-gone", now - 3600)
    store.hit("just-ended", now - 1)
    store.hit("current", now + 30)
    store._next_prune = 0.0  # the interval has passed
    store.hit("current", now + 30)
    assert _stored_counts(store) == {"just-ended": 1, "current": 2}


@pytest.mark.parametrize("kind", ["sqlite_file", "redis"])
def test_hits_are_counted_exactly_under_concurrency(kind, tmp_path):
    """Many threads (each with its own connection) hitting one counter lose no count."""
    from concurrent.futures import ThreadPoolExecutor

    store = SQLiteCounters(str(tmp_path / "throttle.sqlite3")) if kind == "sqlite_file" else RedisCounters(_redis_url())
    store.clear()
    window_end = int(time.time()) + 3600
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = sorted(pool.map(lambda _: store.hit("caller", window_end)[0], range(200)))
    store.clear()
    assert counts == list(range(1, 201))


def test_a_redis_connection_closed_while_idle_is_opened_again():
    """Redis restarted, or dropped an idle client: the next hit opens the connection again
    and counts once, and the key still expires when its window ends."""
    store = RedisCounters(_redis_url())
    store.clear()
    window_end = int(time.time()) + 3600
    assert store.hit("caller", window_end) == (1, window_end)
    connection = store._connection()
    connection.send_command("CLIENT", "ID")
    store._redis().client_kill_filter(_id=connection.read_response())
    assert store.hit("caller", window_end) == (2, window_end)
    assert store.hit("caller", window_end) == (3, window_end)
    key = f"musehub:throttle:caller:{window_end}"
    assert store._redis().expiretime(key) == window_end + 1
    store.clear()


def test_an_unreachable_redis_answers_503_with_retry_after(settings, client, repo, auth_headers):
    """The throttle's Redis is down: a request that cannot be counted is refused as when
    the database is down (503, ``Retry-After``, SPEC's JSON error), never a 500."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.THROTTLE_COUNTERS = {
        "BACKEND": "musehub.api.counters.RedisCounters",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
    }
    url = f"/api/repos/{repo.pk}/sessions"
    for response in (client.get(url), client.post(url, {}, format="json", headers=auth_headers)):
        assert response.status_code == 503, response.content
        assert response.json() == {"detail": "The rate limiter is unavailable; try again shortly."}
        assert int(response["Retry-After"]) > 0
    assert not Session.objects.filter(repo=repo).exists()


def _rate_headers(response) -> tuple[int, int, int]:
    return (
        int(response["X-RateLimit-Limit"]),
        int(response["X-RateLimit-Remaining"]),
        int(response["X-RateLimit-Reset"]),
    )


def test_rate_limit_headers_count_down_and_reset(low_rates, throttle_clock, client, repo, auth_headers):
    """A signed-in caller sees its own (tighter: 5/min) budget count down to 0, a 429 with
    the same reset, and a fresh budget in the next window."""
    throttle_clock.now = 1_800_000_030.5  # 29.5 s before the minute ends
    url = f"/api/repos/{repo.pk}/sessions"
    seen = []
    for _ in range(5):
        response = client.get(url, headers=auth_headers)
        assert response.status_code == 200
        seen.append(_rate_headers(response))
    assert seen == [(5, left, 1_800_000_060) for left in (4, 3, 2, 1, 0)]
    refused = client.get(url, headers=auth_headers)
    _assert_throttled(refused)
    assert _rate_headers(refused) == (5, 0, 1_800_000_060)
    assert int(refused["Retry-After"]) == 30
    throttle_clock.now += 30  # the next window
    response = client.get(url, headers=auth_headers)
    assert response.status_code == 200
    assert _rate_headers(response) == (5, 4, 1_800_000_120)


def test_rate_limit_headers_show_the_tightest_limit(monkeypatch, throttle_clock, client, repo, auth_headers):
    """Two throttles count a signed-in caller's request (a scoped one added beside the user
    one): the headers are those of the one that runs out first."""
    from musehub.api.throttling import UserRateThrottle

    class PerMinuteAndHour(UserRateThrottle):
        scope = "hourly"

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "5/min", "hourly": "7/hour"})
    monkeypatch.setattr(APIView, "throttle_classes", [*api_settings.DEFAULT_THROTTLE_CLASSES, PerMinuteAndHour])
    # The pinned clock is 20 minutes into an hour: the next minute is in the same hour (on
    # the wall clock, a run in an hour's last minute would find the hourly count reset).
    throttle_clock.now = 1_800_000_000 + 20 * 60
    url = f"/api/repos/{repo.pk}/sessions"
    seen = [_rate_headers(client.get(url, headers=auth_headers)) for _ in range(4)]
    assert [(limit, left) for limit, left, _ in seen] == [(5, 4), (5, 3), (5, 2), (5, 1)]
    assert seen[0][2] == throttle_clock.now + 60  # the minute's window ends
    # The hourly budget runs out first for a caller who comes back the next minute.
    throttle_clock.now += 60
    limit, left, reset = _rate_headers(client.get(url, headers=auth_headers))
    assert (limit, left) == (7, 2)
    assert reset == 1_800_000_000 + 3600


def test_errors_the_throttles_counted_carry_the_headers(low_rates, client, repo):
    assert _rate_headers(client.get(f"/api/repos/{repo.pk}/sessions"))[:2] == (3, 2)
    missing = client.get(f"/api/repos/{repo.pk}/sessions/{'0' * 64}")
    assert missing.status_code == 404
    assert _rate_headers(missing)[:2] == (3, 1)


def test_an_anonymous_request_costs_one_counter(low_rates, client, repo):
    """Anonymous callers are limited per address by the anonymous rate alone: one counter,
    one round trip, per request."""
    assert client.get(f"/api/repos/{repo.pk}/sessions").status_code == 200
    assert _stored_counts(counters()) == {"throttle_anon_127.0.0.1": 1}


def test_unthrottled_responses_have_no_rate_limit_headers(client):
    assert "X-RateLimit-Limit" not in client.get("/healthz")


def test_a_flood_of_bad_tokens_from_one_address_is_throttled(low_rates, client, repo, user):
    """Each refused token counts against the address's anonymous budget: after 3 (the
    anonymous rate) the address gets 429, bad token or none, while a valid token still works."""
    url = f"/api/repos/{repo.pk}/sessions"
    guesses = [{"Authorization": f"Bearer {n:064x}"} for n in range(3)]
    for n, headers in enumerate(guesses):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert "WWW-Authenticate" in response
        assert _rate_headers(response)[:2] == (3, 2 - n)
    _assert_throttled(client.get(url, headers={"Authorization": f"Bearer {'f' * 64}"}))
    _assert_throttled(client.get(url, headers={"Authorization": "Bearer not-even-hex"}))
    _assert_throttled(client.get(url))
    # The flood costs the address, not the account it may be aiming at.
    assert client.get(url, headers=auth_header(make_token(user))).status_code == 200


def test_a_revoked_token_counts_against_the_address(low_rates, client, repo, user):
    from knox.models import AuthToken

    token = make_token(user)
    AuthToken.objects.filter(user=user).delete()
    url = f"/api/repos/{repo.pk}/sessions"
    for _ in range(3):
        assert client.post(url, {}, format="json", headers=auth_header(token)).status_code == 401
    _assert_throttled(client.post(url, {}, format="json", headers=auth_header(token)))


def test_default_rates_come_from_settings():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) == {"anon", "user"}
    for rate in rates.values():
        number, period = rate.split("/")
        assert int(number) > 0
        assert period[0] in "smhd"


@pytest.mark.parametrize(
    ("env", "backend", "location"),
    [
        ({"DATABASE_URL": "sqlite:////srv/musehub/db.sqlite3"}, "SQLiteCounters", "/srv/musehub/db.sqlite3-throttle"),
        ({"DATABASE_URL": "postgres://u@db.internal:5432/musehub"}, "DatabaseCounters", "default"),
        (
            {"DATABASE_URL": "postgres://u@db.internal:5432/musehub", "REDIS_URL": "redis://cache:6379/0"},
            "RedisCounters",
            "redis://cache:6379/0",
        ),
    ],
)
def test_the_settings_pick_the_counters_for_what_is_configured(env, backend, location):
    """What a deployment gets from its environment, read by a fresh process."""
    import json
    import os
    import subprocess
    import sys

    from tests.live_gunicorn import ROOT

    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from musehub import settings; print(json.dumps(settings.THROTTLE_COUNTERS))",
        ],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(printed) == {"BACKEND": f"musehub.api.counters.{backend}", "LOCATION": location}


@pytest.mark.django_db(transaction=True)
def test_a_write_refused_inside_its_transaction_still_counts(low_rates, settings):
    """The counter statement runs on the request's own connection, in autocommit, before the
    handler's transaction: a handler that fails and rolls back does not take it along."""
    from musehub.api.counters import DatabaseCounters
    from tests.factories import make_repo

    settings.THROTTLE_COUNTERS = {"BACKEND": "musehub.api.counters.DatabaseCounters", "LOCATION": "default"}
    user = UserFactory(username="writer")
    repo = make_repo(owner=user, visibility="public")
    headers = auth_header(make_token(user))
    client, url = APIClient(), f"/api/repos/{repo.pk}/sessions"
    try:
        for _ in range(5):
            assert client.post(url, {"intent": 5}, format="json", headers=headers).status_code == 422
        _assert_throttled(client.post(url, {}, format="json", headers=headers))
        assert _stored_counts(counters()) == {f"throttle_user_{user.pk}": 6}
    finally:
        DatabaseCounters("default").clear()
