"""A write acknowledged is a write kept: creates under SIGKILLed gunicorn workers.

Four client threads create sessions as fast as two sync workers serve them while another
thread SIGKILLs a random worker every second (gunicorn's master starts a
new one). Requests cut off mid-flight fail on the client, as they must; every request that
was answered 201 must be in the database afterwards, exactly as acknowledged, and the repo's
kept session count must still equal its sessions.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import threading
import time

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS = 4
SECONDS = 10
KILL_EVERY = 1.0


def test_acknowledged_creates_survive_worker_kills(cluster, account, service):
    repo_id = account["repo_id"]
    url = f"/api/repos/{repo_id}/sessions"
    acknowledged: dict[str, dict] = {}
    cut_off = 0
    unexpected: list[tuple[int, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        nonlocal cut_off
        i = 0
        while not stop.is_set():
            body = {"intent": f"writer {n} #{i}", "participants": [f"w{n}"], "commits": [f"{n:02x}{i:062x}"]}
            i += 1
            try:
                reply = service.request("POST", url, body, account["headers"], timeout=10)
            except (OSError, http.client.HTTPException):
                with lock:
                    cut_off += 1
                continue
            with lock:
                if reply.status == 201:
                    acknowledged[reply.json()["sessionId"]] = body
                else:
                    unexpected.append((reply.status, reply.body[:200]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    kills = 0
    rng = random.Random(6)
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            time.sleep(KILL_EVERY)
            workers = service.worker_pids()
            if workers:
                try:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    print(f"\nkills={kills} acknowledged={len(acknowledged)} cut_off={cut_off}")
    assert kills >= SECONDS / KILL_EVERY / 2, kills
    assert len(acknowledged) >= 30, (len(acknowledged), cut_off)
    assert cut_off >= 1, "no request was in flight when a worker died: the test proved nothing"
    assert not unexpected, unexpected[:5]

    rows = {
        session_id: (intent, participants, commits)
        for session_id, intent, participants, commits in cluster.query(
            "SELECT session_id, intent, participants, commits FROM sessions_app_session WHERE repo_id = %s", repo_id
        )
    }
    lost = [sid for sid in acknowledged if sid not in rows]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged sessions are missing"
    for session_id, body in acknowledged.items():
        assert rows[session_id] == (body["intent"], body["participants"], body["commits"])
    # The kept counter survived the kills too (a killed transaction rolled back whole).
    [(kept,)] = cluster.query("SELECT session_count FROM repos_app_repo WHERE repo_id = %s", repo_id)
    assert kept == len(rows)
    # And the service is whole again.
    assert service.request("GET", "/readyz").status == 200
