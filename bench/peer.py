"""The original MuseHub (FastAPI), served beside ours for the side-by-side scenarios.

Nothing of the original is in this repository: ``../shared/peer/serve.sh`` (``PEER_SERVE``)
clones it from the git dir the ``fetch`` tool gives for ``github:cgcardona/musehub``
(``PEER_MIRROR``), serves it with uvicorn (2 workers) and prints ``export PEER_*=...``
lines. A peer already running can be named with ``PEER_BASE`` and ``PEER_TOKEN`` instead.
Everything the benchmark needs there (repos, the 50 sessions, the stop pools) goes through
the original's own API.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVE = Path(os.environ.get("PEER_SERVE", ROOT.parent / "shared" / "peer" / "serve.sh"))


class PeerError(RuntimeError):
    """The original cannot be served or does not answer as expected."""


class Peer:
    """A running original: its base URL, a token, and calls to its API (``/api/v1``)."""

    def __init__(self, base: str, token: str, started_here: bool = False) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.started_here = started_here

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.base + "/api/v1" + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise PeerError(f"{method} {path}: {error}") from error

    def new_repo(self, label: str) -> str:
        body = {
            "name": f"bench-{label}-{secrets.token_hex(3)}",
            "owner": "peer",
            "visibility": "private",
            "description": "side-by-side benchmark",
        }
        return self.call("POST", "/repos", body)["repoId"]

    def create_sessions(self, repo_id: str, count: int, body: dict, *, stop: bool) -> list[str]:
        """``count`` sessions through its API (stopped too when ``stop``), newest last."""

        def one(_: int) -> str:
            session_id = self.call("POST", f"/repos/{repo_id}/sessions", body)["sessionId"]
            if stop:
                self.call("POST", f"/repos/{repo_id}/sessions/{session_id}/stop", {})
            return session_id

        if stop:  # one at a time: each gets its own, later start
            return [one(n) for n in range(count)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, range(count)))

    def stop_server(self) -> None:
        if self.started_here:
            subprocess.run([str(SERVE), "stop"], capture_output=True, check=False)


def start() -> tuple[Peer | None, str]:
    """The peer to benchmark, or None and why not."""
    if os.environ.get("PEER_BASE") and os.environ.get("PEER_TOKEN"):
        peer = Peer(os.environ["PEER_BASE"], os.environ["PEER_TOKEN"])
    elif os.environ.get("PEER_MIRROR"):
        if not SERVE.exists():
            return None, f"{SERVE} not found (set PEER_SERVE)"
        print(f"bench: serving the original with {SERVE}", file=sys.stderr)
        try:
            done = subprocess.run([str(SERVE)], capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired:
            return None, f"{SERVE} did not finish within 15 minutes"
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in done.stdout.splitlines()
            if line.startswith("export ")
        )
        if done.returncode != 0 or "PEER_BASE" not in exports:
            return None, f"{SERVE} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        peer = Peer(exports["PEER_BASE"], exports["PEER_TOKEN"], started_here="already running" not in done.stderr)
    else:
        return None, ("no PEER_MIRROR (the git dir of a fetched github:cgcardona/musehub) and no PEER_BASE/PEER_TOKEN")
    try:
        peer.new_repo("probe")
    except PeerError as error:
        peer.stop_server()
        return None, f"the original does not answer: {error}"
    return peer, ""
