"""What only a real gunicorn shows: throttle state shared by worker processes, chunked
bodies, and request lines or headers too long to read.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.faults.conftest import start_gunicorn
from tests.live_gunicorn import HeldRequest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def test_anonymous_throttle_is_shared_by_worker_processes(cluster):
    """Worker A is held busy by a half-sent request while worker B spends the budget; then
    A finishes that request and must answer 429: it read B's counts from the shared cache."""
    server = start_gunicorn(cluster, workers=2, DJANGO_THROTTLE_ANON="4/min")
    try:
        # Not across a minute's boundary: the count would start over halfway.
        if 60 - time.time() % 60 < 15:
            time.sleep(60 - time.time() % 60 + 0.5)
        held = HeldRequest(server.port, "GET", "/api/repos")  # one worker waits on it
        replies = [server.request("GET", "/api/repos") for _ in range(4)]
        assert [r.status for r in replies] == [200] * 4
        last = held.finish()
        assert last.status == 429, last.body[:300]
        assert int(last.headers["Retry-After"]) > 0
        access = [
            json.loads(line)
            for line in server.log().splitlines()
            if line.startswith("{") and '"musehub.access"' in line and '"/api/repos"' in line
        ]
        served_200 = {r["pid"] for r in access if r["status"] == 200}
        served_429 = {r["pid"] for r in access if r["status"] == 429}
        assert len(served_200) == 1
        assert served_429
        assert served_429.isdisjoint(served_200), "the 429 came from the other worker"
    finally:
        server.stop()


def test_chunked_bodies_through_gunicorn(service, account):
    url = f"/api/repos/{account['repo_id']}/sessions"
    head = (
        f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {account['headers']['Authorization']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()

    def chunked(payload: bytes, size: int = 65536) -> bytes:
        parts = [payload[i : i + size] for i in range(0, len(payload), size)]
        return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"

    small = _raw(service.port, head + chunked(json.dumps({"intent": "sent in chunks"}).encode(), size=7))
    assert _status(small) == 201, small[:300]
    assert json.loads(small.split(b"\r\n\r\n", 1)[1])["intent"] == "sent in chunks"

    big = _raw(service.port, head + chunked(json.dumps({"notes": "x" * (2 * 1024 * 1024)}).encode()))
    assert _status(big) == 413, big[:300]
    assert b"1 MiB" in big


def test_over_long_request_line_and_headers_are_refused_by_gunicorn(service):
    long_line = _raw(service.port, f"GET /api/repos?{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert _status(long_line) == 414
    long_header = _raw(service.port, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 9000}\r\n\r\n".encode())
    assert _status(long_header) == 431
    many = "".join(f"X-H{i}: v\r\n" for i in range(150))
    many_headers = _raw(service.port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert _status(many_headers) == 431
    # Still serving.
    assert service.request("GET", "/healthz").status == 200
