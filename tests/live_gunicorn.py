"""Real programs for tests that need processes and sockets: gunicorn serving the project.

``Program`` is how every such test runs a program (gunicorn here, nginx in
``tests/deploy``, the Celery worker in ``tests/events_app``): in its own process group,
its output in a log file, ready when a check says so, stopped by signal to its group.
``Gunicorn`` runs ``gunicorn -c gunicorn.conf.py`` (the project's own settings) on a free
loopback port with the environment it is given. The fault, two-instance, static-file,
front-proxy and webhook tests share them. ``HeldRequest`` keeps one sync worker busy on
purpose: a request whose header's end is sent only when the test says so.
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)

    @classmethod
    def read(cls, response: http.client.HTTPResponse, started: float) -> Reply:
        """``response`` read to its end; ``started``: when the request began (monotonic)."""
        payload = response.read()
        return cls(response.status, dict(response.getheaders()), payload, time.monotonic() - started)


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
    source: str | None = None,
) -> Reply:
    """One request to ``127.0.0.1:port`` on a new connection, from ``source`` (a loopback
    address) if given."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
    )
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return Reply.read(conn.getresponse(), started)
    finally:
        conn.close()


class HeldRequest:
    """A request sent all but its header's last line: the sync worker that accepts it waits
    for the rest, and takes no other connection, until ``finish()``.

    Connections are accepted in the order they arrive, so every connection made after this
    one goes to another worker until it is finished."""

    def __init__(self, port: int, method: str, path: str, timeout: float = 15) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())

    def finish(self) -> Reply:
        """Send the header's end; the worker's reply."""
        started = time.monotonic()
        try:
            self.sock.sendall(b"Connection: close\r\n\r\n")
            response = http.client.HTTPResponse(self.sock)
            response.begin()
            return Reply.read(response, started)
        finally:
            self.close()

    def close(self) -> None:
        self.sock.close()


class Program:
    """A program run for a test: its own process group, its output in ``log_path``."""

    #: What ``stop()`` sends the process group first (SIGKILL after ``stop_wait`` seconds).
    stop_signal = signal.SIGTERM
    stop_wait = 15.0
    log_path: Path
    proc: subprocess.Popen | None = None

    def launch(
        self,
        argv: list[str],
        *,
        ready: Callable[[], bool],
        wait: float,
        what: str,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start ``argv`` and return once ``ready()``; a program that exits first, or is not
        ready in ``wait`` seconds, is stopped and its log raised."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited: {self.log()}")
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        log = self.log()
        self.stop()  # not left running behind a failed test
        raise RuntimeError(f"{what} did not come up: {log}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the program and everything it started: nothing gets to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(timeout=self.stop_wait)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None) is not None:
            self._log.close()
        self.cleanup()

    def cleanup(self) -> None:
        """What is left once the program is gone (its log, by default)."""
        self.log_path.unlink(missing_ok=True)


class Gunicorn(Program):
    """``gunicorn -c gunicorn.conf.py`` on a free loopback port, in its own process group."""

    stop_wait = 35.0

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.workers = workers
        self.env = {**env, "GUNICORN_WORKERS": str(workers), "GUNICORN_TIMEOUT": "20"}
        self.log_path = Path(tempfile.mkstemp(prefix="musehub-gunicorn-", suffix=".log")[1])

    def start(self, wait: float = 30) -> None:
        """Start gunicorn; return once every worker serves, not only the first one up."""
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.launch(
            [gunicorn, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"],
            ready=self._every_worker_serves,
            wait=wait,
            what="gunicorn",
            env=self.env,
        )

    def _every_worker_serves(self) -> bool:
        """With all workers but one held by a ``HeldRequest``, a ``/healthz`` is still
        answered: the last worker has loaded the app too. A test that needs both workers
        (a count shared across them) would otherwise race the second one's boot."""
        held: list[HeldRequest] = []
        try:
            for _ in range(self.workers - 1):
                held.append(HeldRequest(self.port, "GET", "/healthz"))
            served = self.request("GET", "/healthz", timeout=2).status == 200
            return served and all(h.finish().status == 200 for h in held)
        finally:
            for h in held:
                h.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The master's live children (its workers), from /proc."""
        assert self.proc is not None
        pids = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                pids.append(int(Path(stat).parent.name))
        return pids

    def request(
        self, method: str, path: str, body=None, headers: dict[str, str] | None = None, timeout: float = 15
    ) -> Reply:
        """A JSON request (a dict body is encoded)."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        return http_request(self.port, method, path, data, hdrs, timeout)
