"""``deploy/nginx.conf`` in front of gunicorn, both real processes: what production runs.

- Slow clients (half a request header, or a body that never finishes) wait in nginx, so
  they cannot take gunicorn's sync workers away from everyone else; straight at gunicorn
  the same few connections stall it.
- With ``DJANGO_NUM_PROXIES=1`` the anonymous limit counts the address nginx saw, and an
  ``X-Forwarded-For`` made up by the client changes nothing; straight at gunicorn, the same
  made-up header dodges the limit (why ``DJANGO_NUM_PROXIES`` must match the proxies).
- The refusals nginx makes itself (a body over 1 MiB, gunicorn unreachable) are JSON like
  the API's, and it leaves the request line and header limits to gunicorn (414, 431, as
  documented); static files come from ``STATIC_ROOT`` without touching the application.

gunicorn runs in production mode on a SQLite file of its own (nothing here depends on
the database engine), with a small anonymous rate: ``DJANGO_THROTTLE_ANON=5/hour``.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import time

import pytest

from tests.deploy.conftest import Nginx
from tests.faults.harness import django_env, manage
from tests.live_gunicorn import Gunicorn, HeldRequest, free_port

pytestmark = pytest.mark.slow

ANON_LIMIT = 5
ANON_RATE = f"{ANON_LIMIT}/hour"
HASHED_CSS = "admin/css/base.0123456789ab.css"


@pytest.fixture(scope="module")
def stack(nginx_binary, tmp_path_factory):
    """Migrated SQLite database, a STATIC_ROOT, gunicorn (2 sync workers), nginx in front."""
    tmp = tmp_path_factory.mktemp("nginx-stack")
    static_root = tmp / "staticfiles"
    (static_root / "admin" / "css").mkdir(parents=True)
    (static_root / HASHED_CSS).write_text("body { color: #123456; }\n")
    (static_root / "robots.txt").write_text("User-agent: *\n")
    env = django_env(
        f"sqlite:///{tmp / 'db.sqlite3'}",
        DJANGO_NUM_PROXIES="1",
        DJANGO_THROTTLE_ANON=ANON_RATE,
        DJANGO_STATIC_ROOT=str(static_root),
    )
    manage(env, "migrate", "--noinput")
    gunicorn = Gunicorn(env, workers=2)
    gunicorn.start()
    nginx = Nginx(upstream=f"127.0.0.1:{gunicorn.port}", static_root=static_root)
    try:
        nginx.start()
        yield {"nginx": nginx, "gunicorn": gunicorn}
    finally:
        nginx.stop()
        gunicorn.stop()


@contextlib.contextmanager
def stalled_connections(port: int, *, headers: int, bodies: int = 0):
    """``headers`` connections that send half a request header, ``bodies`` that send a
    header announcing 1,000 bytes of form body and then only 10; all of them then stall."""
    stalled = []
    try:
        for _ in range(headers):
            stalled.append(HeldRequest(port, "GET", "/healthz", timeout=5))
        for _ in range(bodies):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            # The admin's login form, with a CSRF cookie: Django reads the body (for the
            # form's CSRF token) before it can answer.
            sock.sendall(
                b"POST /admin/login/ HTTP/1.1\r\nHost: localhost\r\nCookie: csrftoken=" + b"a" * 32 + b"\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\nusername=x"
            )
            stalled.append(sock)
        time.sleep(0.5)  # let the server accept and start reading every one of them
        yield
    finally:
        for connection in stalled:  # HeldRequests and plain sockets alike
            connection.close()


def test_slow_clients_do_not_delay_a_normal_request(stack):
    nginx, gunicorn = stack["nginx"], stack["gunicorn"]
    with stalled_connections(nginx.port, headers=50, bodies=20):
        for _ in range(5):
            health = nginx.request("GET", "/healthz", timeout=5)
            assert health.status == 200
            assert health.json() == {"status": "ok"}
            assert health.seconds < 1, health.seconds

    # The same attack straight at gunicorn, with only as many connections as it has
    # workers: nothing else gets through. This is what nginx is for.
    stalled = stalled_connections(gunicorn.port, headers=len(gunicorn.worker_pids()))
    with stalled, pytest.raises((TimeoutError, socket.timeout)):
        gunicorn.request("GET", "/healthz", timeout=2)


def _wait_for_a_fresh_window(seconds: int = 3600, margin: float = 20) -> None:
    """The anonymous limit counts per fixed window: do not straddle two of them."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.5)


def test_the_anonymous_limit_counts_the_real_address_whatever_x_forwarded_for_says(stack):
    nginx, gunicorn = stack["nginx"], stack["gunicorn"]
    _wait_for_a_fresh_window()
    replies = [
        nginx.request("GET", "/api/repos", headers={"X-Forwarded-For": f"203.0.113.{n}"}, source="127.0.0.1")
        for n in range(ANON_LIMIT + 2)
    ]
    assert [r.status for r in replies] == [200] * ANON_LIMIT + [429, 429]
    refused = replies[-1]
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["Content-Type"].startswith("application/json")
    assert "detail" in refused.json()
    # Forging a whole chain does not help either: nginx appends the address it saw.
    chain = nginx.request(
        "GET", "/api/repos", headers={"X-Forwarded-For": "198.51.100.7, 198.51.100.8"}, source="127.0.0.1"
    )
    assert chain.status == 429
    # Another client address has a budget of its own: the limit is per client, not global.
    other = nginx.request("GET", "/api/repos", headers={"X-Forwarded-For": "203.0.113.1"}, source="127.0.0.2")
    assert other.status == 200

    # Without nginx to append the real address, the last X-Forwarded-For entry is whatever
    # the client says: each made-up address gets a fresh budget.
    direct = [
        gunicorn.request("GET", "/api/repos", headers={"X-Forwarded-For": f"192.0.2.{n}"})
        for n in range(ANON_LIMIT + 2)
    ]
    assert [r.status for r in direct] == [200] * (ANON_LIMIT + 2)


def test_a_body_over_the_limit_is_refused_by_nginx_as_json(stack):
    nginx = stack["nginx"]
    headers = {"Content-Type": "application/json"}
    too_large = nginx.request("POST", "/api/repos", b"x" * (1024 * 1024 + 1), headers, source="127.0.0.3")
    assert too_large.status == 413
    assert too_large.headers["Content-Type"] == "application/json"
    assert too_large.json() == {"detail": "Request body too large: the limit is 1 MiB."}
    assert "X-Request-ID" not in too_large.headers  # refused before the application
    # Chunked, without a Content-Length: the same limit.
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=15, source_address=("127.0.0.3", 0))
    try:
        conn.request("POST", "/api/repos", body=iter([b"x" * 65536] * 17), headers=headers, encode_chunked=True)
        chunked = conn.getresponse()
        assert chunked.status == 413
        chunked.read()
    finally:
        conn.close()
    # Exactly 1 MiB is the application's to judge (an anonymous create: 401).
    at_limit = nginx.request("POST", "/api/repos", b"x" * (1024 * 1024), headers, source="127.0.0.3")
    assert at_limit.status == 401
    assert "X-Request-ID" in at_limit.headers


def test_static_files_are_served_from_static_root_by_nginx(stack):
    nginx = stack["nginx"]
    hashed = nginx.request("GET", f"/static/{HASHED_CSS}")
    assert hashed.status == 200
    assert hashed.body == b"body { color: #123456; }\n"
    assert hashed.headers["Content-Type"].startswith("text/css")
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Request-ID" not in hashed.headers  # the application never saw it
    plain = nginx.request("GET", "/static/robots.txt")
    assert plain.status == 200
    assert plain.headers["Cache-Control"] == "public, max-age=3600"
    assert nginx.request("GET", "/static/admin/css/missing.css").status == 404
    assert nginx.request("GET", "/static/../db.sqlite3").status in (400, 404)


def test_gunicorn_unreachable_is_a_json_503(nginx_binary, tmp_path):
    nginx = Nginx(upstream=f"127.0.0.1:{free_port()}", static_root=tmp_path)
    nginx.start()
    try:
        reply = nginx.request("GET", "/api/repos")
    finally:
        nginx.stop()
    assert reply.status == 503
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Retry-After"] == "5"
    assert "unavailable" in reply.json()["detail"]


def test_gunicorn_still_sets_the_request_line_and_header_limits(stack):
    """nginx lets lines and headers of up to 16 KiB through, so clients meet the limits
    README documents (gunicorn's: 414 and 431 past 8,190 bytes), not different ones."""
    nginx = stack["nginx"]
    long_line = nginx.request("GET", "/api/repos?q=" + "x" * 9000, source="127.0.0.4")
    assert long_line.status == 414
    long_header = nginx.request("GET", "/api/repos", headers={"X-Long": "x" * 9000}, source="127.0.0.4")
    assert long_header.status == 431
    fine = nginx.request("GET", "/api/repos?q=" + "x" * 7000, source="127.0.0.4")
    assert fine.status == 200
