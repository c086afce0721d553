"""The throttle counts exactly across real gunicorn worker processes, wherever it counts.

Without ``REDIS_URL`` the counters are an ``UNLOGGED`` table on PostgreSQL and a SQLite file
of their own on SQLite; with it, Redis (``musehub.api.counters``). Many concurrent requests against a
limit of K, spread over two workers: exactly K are let through, each saw a different
``X-RateLimit-Remaining``, and both workers took part (one is held back at first, so they must).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from django.db import connection

from musehub.api.counters import DatabaseCounters
from tests.live_gunicorn import ROOT, Gunicorn, HeldRequest

pytestmark = pytest.mark.slow

LIMIT = 25
REQUESTS = 80
ALONE = 10  # served by one worker while the other is held


def _env(database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "throttle-workers-test-secret-" + "x" * 40,
        "DJANGO_THROTTLE_ANON": f"{LIMIT}/hour",
        "GUNICORN_LOGLEVEL": "warning",
        "DJANGO_LOG_LEVEL": "INFO",
    }
    env.pop("REDIS_URL", None)
    return env


def _flood(server: Gunicorn) -> None:
    # Not across an hour's boundary: the count would start over halfway.
    if 3600 - time.time() % 3600 < 30:
        time.sleep(3600 - time.time() % 3600 + 1)

    def get(_):
        return server.request("GET", "/api/repos")

    # One worker waits on a held request while the other serves the first few alone; then
    # the held one is finished while both workers serve the rest, across the limit, at once.
    # So both take part however the kernel hands out the connections.
    held = HeldRequest(server.port, "GET", "/api/repos")
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            alone = list(pool.map(get, range(ALONE)))
            together = pool.map(get, range(REQUESTS - ALONE - 1))
            replies = [held.finish(), *alone, *together]
    finally:
        held.close()
    assert len(replies) == REQUESTS
    passed = [r for r in replies if r.status == 200]
    assert sorted(r.status for r in replies) == [200] * LIMIT + [429] * (REQUESTS - LIMIT)
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in passed) == list(range(LIMIT))
    assert all(int(r.headers["Retry-After"]) > 0 for r in replies if r.status == 429)
    served = [
        json.loads(line)
        for line in server.log().splitlines()
        if line.startswith("{") and '"musehub.access"' in line and '"/api/repos"' in line
    ]
    assert len(served) == REQUESTS
    assert len({line["pid"] for line in served}) == 2, "both workers served the flood"


def test_sqlite_default_counts_exactly_across_workers(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=_env(database_url),
        check=True,
    )
    server = Gunicorn(_env(database_url))
    try:
        server.start()
        _flood(server)
    finally:
        server.stop()
    assert (tmp_path / "db.sqlite3-throttle").exists(), "counted in a file of their own"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgresql_default_counts_exactly_across_workers():
    db = connection.settings_dict
    credentials = quote(db["USER"] or "postgres") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    database_url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    DatabaseCounters("default").clear()
    server = Gunicorn(_env(database_url))
    try:
        server.start()
        _flood(server)
    finally:
        server.stop()
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'musehub_throttle'")
        assert cursor.fetchone() == ("u",), "the counters' table is UNLOGGED"
        cursor.execute("SELECT caller, hits FROM musehub_throttle WHERE caller LIKE 'throttle_anon_%'")
        assert cursor.fetchall() == [("throttle_anon_127.0.0.1", REQUESTS)]
    DatabaseCounters("default").clear()


def test_redis_counts_exactly_across_workers(tmp_path):
    """With ``REDIS_URL`` (the production setting) the same holds: INCR is atomic."""
    import redis

    url = "redis://127.0.0.1:6379/15"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("needs a Redis server on 127.0.0.1:6379")
    for key in client.scan_iter("musehub:throttle:*"):
        client.delete(key)
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = {**_env(database_url), "REDIS_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    server = Gunicorn(env)
    try:
        server.start()
        _flood(server)
    finally:
        server.stop()
    assert not (tmp_path / "db.sqlite3-throttle").exists(), "counted in Redis, not in a file"
    keys = list(client.scan_iter("musehub:throttle:throttle_anon_*"))
    assert [int(client.get(key)) for key in keys] == [REQUESTS]
    assert 0 < client.ttl(keys[0]) <= 3601, "the key expires with its window"
    client.delete(*keys)
