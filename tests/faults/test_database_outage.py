"""The database goes away and comes back, under a real gunicorn.

With the cluster stopped every API route answers 503 JSON with ``Retry-After`` within a
few seconds (no worker hangs), ``/readyz`` answers 503 and ``/healthz`` 200. When the
cluster is started again the service resumes by itself: no restart, no manual step.
"""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: An answer slower than this with the database down means a worker was left hanging.
MAX_SECONDS_WHEN_DOWN = 5.0


def _routes(account, session_id: str) -> list[tuple[str, str, dict | None]]:
    repo = f"/api/repos/{account['repo_id']}"
    session = f"{repo}/sessions/{session_id}"
    return [
        ("GET", "/api/repos", None),
        ("POST", "/api/repos", {"name": "during-outage"}),
        ("GET", repo, None),
        ("PATCH", repo, {"description": "d"}),
        ("GET", f"{repo}/collaborators", None),
        ("PUT", f"{repo}/collaborators/nobody", {"permission": "read"}),
        ("DELETE", f"{repo}/collaborators/nobody", None),
        ("GET", f"{repo}/sessions", None),
        ("POST", f"{repo}/sessions", {"intent": "outage"}),
        ("GET", session, None),
        ("PATCH", session, {"notes": "n"}),
        ("POST", f"{session}/stop", {}),
        ("POST", f"{session}/commits", {"commits": ["c" * 64]}),
        ("DELETE", f"{repo}/sessions/{'d' * 64}", None),
        ("GET", "/api/schema/", None),
    ]


def _assert_unavailable(reply, what):
    assert reply.status == 503, (what, reply.status, reply.body[:300])
    assert int(reply.headers["Retry-After"]) > 0, what
    assert reply.headers["Content-Type"].startswith("application/json"), what
    assert "database" in reply.json()["detail"].lower(), what
    assert reply.seconds < MAX_SECONDS_WHEN_DOWN, (what, reply.seconds)


@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
def test_database_down_is_503_everywhere_then_service_resumes(cluster, account, service, stop_mode):
    headers = account["headers"]
    created = service.request("POST", f"/api/repos/{account['repo_id']}/sessions", {"intent": "before"}, headers)
    assert created.status == 201, created.body
    session_id = created.json()["sessionId"]
    assert service.request("GET", "/readyz").status == 200
    # Warm every worker's persistent connection, so the outage breaks live connections too.
    for _ in range(6):
        assert service.request("GET", f"/api/repos/{account['repo_id']}/sessions", headers=headers).status == 200

    cluster.stop(stop_mode)
    try:
        for method, path, body in _routes(account, session_id):
            # Signed in and anonymous: authentication needs the database as well.
            _assert_unavailable(service.request(method, path, body, headers), f"{method} {path}")
            if method == "GET" and path.endswith("/collaborators"):
                # Anonymous callers may never list collaborators: refused before any query.
                assert service.request(method, path).status == 401
            elif method == "GET":
                _assert_unavailable(service.request(method, path), f"anonymous {method} {path}")
        _assert_unavailable(service.request("GET", "/readyz"), "/readyz")
        health = service.request("GET", "/healthz")
        assert health.status == 200
        assert health.json() == {"status": "ok"}
        assert health.seconds < 1
    finally:
        cluster.start()

    # Back by itself: every worker reconnects on its next request.
    deadline = time.monotonic() + 15
    while service.request("GET", "/readyz").status != 200:
        assert time.monotonic() < deadline, "service did not resume"
        time.sleep(0.2)
    for _ in range(6):  # enough requests to reach both workers
        listed = service.request("GET", f"/api/repos/{account['repo_id']}/sessions", headers=headers)
        assert listed.status == 200, listed.body[:300]
    after = service.request("POST", f"/api/repos/{account['repo_id']}/sessions", {"intent": "after"}, headers)
    assert after.status == 201, after.body[:300]
    stopped = service.request("POST", f"/api/repos/{account['repo_id']}/sessions/{session_id}/stop", {}, headers)
    assert stopped.status == 200
    # Nothing the outage refused was half-written.
    assert cluster.query("SELECT count(*) FROM sessions_app_session WHERE intent = 'outage'") == [(0,)]
    assert cluster.query("SELECT count(*) FROM repos_app_repo WHERE name = 'during-outage'") == [(0,)]
    # The gunicorn log (and the JSON the app logs) stayed one JSON object per line.
    assert "Traceback" not in service.log()
