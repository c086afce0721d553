"""Per-request CPU of each route, in this process: ``python bench/cpu.py``.

``make bench`` measures throughput with ``wrk``, which on a shared, busy machine is noisy.
This measures what a worker spends on one request instead: each scenario's requests go
through the project's WSGI application (every middleware, the request transaction, token
auth, throttles, rendering) with no HTTP server in between, and the CPU time this process
spends (``time.process_time``, so waiting on the database is not counted) is divided by
the number of requests. The ratios to ``ping`` and ``naive list`` are what issue 5's
targets are written in.

A small data set is made in its own database (``PROFILE_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/musehub_profile``, emptied first; a ``sqlite:///``
URL works too): one private repo of 50 sessions, a repo to create sessions in and a pool
of active sessions to stop.

    python bench/cpu.py                  # every scenario, mean µs per request
    python bench/cpu.py --profile get    # and cProfile's top functions for one
    python bench/cpu.py --profile list --sort tottime
    PROFILE_REQUESTS=2000 python bench/cpu.py
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musehub_profile"
REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "1000"))
ROUNDS = int(os.environ.get("PROFILE_ROUNDS", "3"))
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    if url.startswith("postgres"):
        from bench.seed import ensure_database

        ensure_database(url)
    import logging

    import django
    from django.conf import settings

    django.setup()
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    # Each request still formats its access-log line, as in production, but into nothing.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open for the process's life)


def make_data(stop_pool: int) -> dict:
    """A user, a token, a private repo of 50 sessions, a write repo and a stop pool."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from knox.models import AuthToken

    from repos_app.services import repo_create
    from sessions_app.models import Session
    from sessions_app.services import session_create

    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="x")
    _, token = AuthToken.objects.create(user=user)
    small = repo_create(owner=user, name="small")["repo_id"]
    for i in range(50):
        start = T0 + timedelta(minutes=i)
        session_create(
            repo_id=small,
            author=user,
            started_at=start,
            ended_at=start + timedelta(seconds=30) if i % 2 else None,
            participants=["ana", "bo"],
            commits=[f"{i:064x}"],
            intent="bench",
        )
    writes = repo_create(owner=user, name="writes")["repo_id"]
    pool = repo_create(owner=user, name="stop-pool")["repo_id"]
    for i in range(stop_pool):
        session_create(repo_id=pool, author=user, started_at=T0 + timedelta(seconds=i))
    one = Session.objects.filter(repo_id=small).order_by("-started_at").values_list("session_id", flat=True)[0]
    stops = [
        f"/api/repos/{pool}/sessions/{sid}/stop"
        for sid in Session.objects.filter(repo_id=pool).values_list("session_id", flat=True)
    ]
    return {"token": token, "small": small, "writes": writes, "one": one, "stops": stops}


def environ(method: str, path: str, token: str | None, body: bytes = b"") -> dict:
    path, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    return env


def scenarios(data: dict) -> dict[str, Callable[[int], tuple[str, str, bytes]]]:
    """name -> (request number -> method, path, body)."""
    token = data["token"]
    small = f"/api/repos/{data['small']}/sessions"
    stops = iter(data["stops"])
    return {
        "ping": lambda n: ("GET", "/bench/ping", None, b""),
        "naive_list": lambda n: ("GET", f"/bench/naive/{data['small']}", None, b""),
        "list": lambda n: ("GET", small, token, b""),
        "list_active": lambda n: ("GET", f"{small}?active=true", token, b""),
        "get": lambda n: ("GET", f"{small}/{data['one']}", token, b""),
        "create": lambda n: (
            "POST",
            f"/api/repos/{data['writes']}/sessions",
            token,
            json.dumps({"intent": "bench", "participants": ["ana"]}).encode(),
        ),
        "stop": lambda n: ("POST", next(stops), token, b"{}"),
    }


def run(app, request: Callable[[int], tuple], count: int) -> tuple[float, float]:
    """Mean CPU and wall µs per request over ``count`` requests."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        method, path, token, body = request(n)
        for _ in app(environ(method, path, token, body), start_response):
            pass
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    bad = [s for s in statuses if not s.startswith("2")]
    assert not bad, bad[:3]
    return cpu / count * 1e6, wall / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", metavar="SCENARIO", help="print cProfile's top functions for this scenario")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime, ...")
    args = parser.parse_args()

    setup(os.environ.get("PROFILE_DATABASE_URL", DEFAULT_URL))
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    # Enough active sessions for every stop request: warm-up, the rounds and a profile.
    data = make_data(stop_pool=(ROUNDS + 3) * REQUESTS)
    app = WSGIHandler()  # what gunicorn calls (get_wsgi_application would set up Django again)
    named = scenarios(data)
    for request in named.values():  # warm-up: imports, URL resolver, prepared statements
        run(app, request, 50)

    vendor = connection.vendor
    print(f"# {REQUESTS} requests x {ROUNDS} interleaved rounds, {vendor}; best round, µs per request")
    # Rounds interleave the scenarios, so a slow spell of a shared machine hits them all.
    results = {name: (float("inf"), float("inf")) for name in named}
    for _ in range(ROUNDS):
        for name, request in named.items():
            results[name] = min(results[name], run(app, request, REQUESTS))
    ping, naive = results["ping"][0], results["naive_list"][0]
    print(f"{'scenario':<12}{'cpu µs':>9}{'wall µs':>9}{'× ping':>9}{'× naive':>9}")
    for name, (cpu, wall) in results.items():
        # Throughput ratios: a request that costs twice the CPU serves half as many.
        print(f"{name:<12}{cpu:>9.0f}{wall:>9.0f}{ping / cpu:>9.2f}{naive / cpu:>9.2f}")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(app, named[args.profile], REQUESTS)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
