"""A database that stops answering, under a real gunicorn: SPEC "Limits added",
``DATABASE_STATEMENT_TIMEOUT``.

Two ways a statement can take too long:
- a **slow statement** on a live server (here: waiting on a lock another client holds) is
  cancelled by PostgreSQL after ``DATABASE_STATEMENT_TIMEOUT`` seconds, and the request
  answers 503 with ``Retry-After``; the worker keeps its connection;
- a **frozen server** (every process of the cluster SIGSTOPped: it accepts TCP but never
  answers, and cancels nothing) must not hold a worker either: every route answers 503
  within the timeout + 2 s, the workers survive, and the service serves again by itself
  once the cluster is SIGCONTed.
"""

from __future__ import annotations

import glob
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.faults.conftest import start_gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STATEMENT_TIMEOUT = 2
CONNECT_TIMEOUT = 2
#: SPEC: a frozen database answers 503 within the statement timeout + 2 s.
MAX_SECONDS_WHEN_FROZEN = STATEMENT_TIMEOUT + 2


@pytest.fixture
def service(cluster):
    """gunicorn (two sync workers) with a 2 s statement timeout and a 2 s connect timeout."""
    server = start_gunicorn(
        cluster,
        DATABASE_STATEMENT_TIMEOUT=str(STATEMENT_TIMEOUT),
        DATABASE_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
    )
    try:
        yield server
    finally:
        server.stop()


def _assert_unavailable(reply, what: str, max_seconds: float) -> None:
    assert reply.status == 503, (what, reply.status, reply.body[:300])
    assert int(reply.headers["Retry-After"]) > 0, what
    assert reply.headers["Content-Type"].startswith("application/json"), what
    assert "database" in reply.json()["detail"].lower(), what
    assert reply.seconds < max_seconds, (what, reply.seconds)


def _warm_every_worker(service, path: str, headers: dict[str, str]) -> None:
    """Enough requests that each worker holds an open connection to the cluster."""
    for _ in range(6):
        assert service.request("GET", path, headers=headers).status == 200


def test_a_statement_over_the_timeout_is_cancelled_and_answers_503(cluster, account, service):
    headers = account["headers"]
    sessions = f"/api/repos/{account['repo_id']}/sessions"
    _warm_every_worker(service, sessions, headers)
    workers = set(service.worker_pids())

    # Another client holds the sessions table: every read of it waits for the lock.
    with psycopg.connect(cluster.url("musehub")) as locker:
        locker.execute("LOCK TABLE sessions_app_session IN ACCESS EXCLUSIVE MODE")
        for method, body in (("GET", None), ("POST", {"intent": "while locked"})):
            reply = service.request(method, sessions, body, headers)
            _assert_unavailable(reply, f"{method} {sessions}", STATEMENT_TIMEOUT + 1)
            assert reply.seconds >= STATEMENT_TIMEOUT - 0.1, "answered before the timeout: not the lock"
        locker.rollback()

    # PostgreSQL cancelled it (not the client giving up on a silent server) ...
    assert "canceling statement due to statement timeout" in service.log()
    assert "did not answer" not in service.log()
    # ... so each worker kept its connection and serves at once, and nothing was written.
    for _ in range(4):
        reply = service.request("GET", sessions, headers=headers)
        assert reply.status == 200
        assert reply.seconds < 1
    assert set(service.worker_pids()) == workers
    assert cluster.query("SELECT count(*) FROM sessions_app_session WHERE intent = 'while locked'") == [(0,)]


def _cluster_pids(cluster) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, walwriter, ...)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            parent = int(Path(stat).read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == postmaster:
            children.append(int(Path(stat).parent.name))
    return [postmaster, *children]


@contextmanager
def frozen(cluster):
    """Every process of the cluster stopped: connections stay open and nothing answers.

    The kernel still accepts new TCP connections (the listen backlog) and acknowledges
    what is sent on open ones, so neither side sees an error: exactly a hung server.
    """
    pids = _cluster_pids(cluster)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in reversed(pids):
            os.kill(pid, signal.SIGCONT)


def _routes(account, session_id: str) -> list[tuple[str, str, dict | None]]:
    repo = f"/api/repos/{account['repo_id']}"
    session = f"{repo}/sessions/{session_id}"
    return [
        ("GET", f"{repo}/sessions", None),
        ("POST", f"{repo}/sessions", {"intent": "frozen"}),
        ("GET", session, None),
        ("PATCH", session, {"notes": "frozen"}),
        ("POST", f"{session}/stop", {}),
        ("GET", "/api/repos", None),
        ("POST", "/api/repos", {"name": "while-frozen"}),
        ("GET", repo, None),
    ]


def test_a_frozen_database_answers_503_within_the_timeout_then_the_service_resumes(cluster, account, service):
    headers = account["headers"]
    repo = f"/api/repos/{account['repo_id']}"
    created = service.request("POST", f"{repo}/sessions", {"intent": "before the freeze"}, headers)
    assert created.status == 201, created.body
    session_id = created.json()["sessionId"]
    _warm_every_worker(service, f"{repo}/sessions", headers)
    workers = set(service.worker_pids())

    timings: list[tuple[str, float]] = []
    with frozen(cluster):
        # Each worker first finds its kept connection silent (no answer: given up on after
        # the statement timeout + 1 s), then cannot connect anew (connect timeout).
        for method, path, body in _routes(account, session_id):
            reply = service.request(method, path, body, headers, timeout=30)
            _assert_unavailable(reply, f"{method} {path}", MAX_SECONDS_WHEN_FROZEN)
            timings.append((f"{method} {path}", reply.seconds))
            if method == "GET":
                anonymous = service.request(method, path, timeout=30)
                _assert_unavailable(anonymous, f"anonymous {method} {path}", MAX_SECONDS_WHEN_FROZEN)
        ready = service.request("GET", "/readyz", timeout=30)
        _assert_unavailable(ready, "/readyz", MAX_SECONDS_WHEN_FROZEN)
        health = service.request("GET", "/healthz")
        assert health.status == 200
        assert health.seconds < 1
        # No worker was held until gunicorn's own timeout killed it.
        assert set(service.worker_pids()) == workers
    print("answers while frozen:", ", ".join(f"{what} {seconds:.2f}s" for what, seconds in timings))

    # Back by itself: no restart, every worker reconnects on its next request.
    deadline = time.monotonic() + 20
    while service.request("GET", "/readyz").status != 200:
        assert time.monotonic() < deadline, "service did not resume"
        time.sleep(0.2)
    for method, path, _ in _routes(account, session_id):
        if method == "GET":
            for _ in range(2):  # both workers
                reply = service.request(method, path, headers=headers)
                assert reply.status == 200, (path, reply.status, reply.body[:300])
    after = service.request("POST", f"{repo}/sessions", {"intent": "after the freeze"}, headers)
    assert after.status == 201, after.body[:300]
    # What the freeze refused was never written: each request gave up at its first query.
    assert cluster.query("SELECT count(*) FROM sessions_app_session WHERE intent = 'frozen'") == [(0,)]
    assert cluster.query("SELECT count(*) FROM repos_app_repo WHERE name = 'while-frozen'") == [(0,)]
    assert set(service.worker_pids()) == workers
    assert "Traceback" not in service.log()
