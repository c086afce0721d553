"""Real parts for the webhook tests: a private redis-server, a ``celery -A musehub worker``
subprocess, and an HTTP receiver on loopback that checks each delivery's signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from tests.live_gunicorn import Program, free_port

#: The worker's settings for the tests: quick retries, a short lease, loopback receivers.
TEST_BACKOFF = "1,1"
TEST_LEASE = 12


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "postgres")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class RedisServer:
    """A private ``redis-server`` on a free loopback port: stopped and started at will."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: self._ping(client), timeout=10, what="redis-server")

    @staticmethod
    def _ping(client) -> bool:
        try:
            return bool(client.ping())
        except Exception:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def point_celery_at(broker_url: str, queue: str) -> None:
    """Make this process's Celery app publish to ``broker_url`` / ``queue`` from now on."""
    from musehub.celery import app

    # The app reads Django's settings under their CELERY_ names (namespace), first.
    app.conf["CELERY_BROKER_URL"] = broker_url
    app.conf["CELERY_TASK_DEFAULT_QUEUE"] = queue
    assert (app.conf.broker_url, app.conf.task_default_queue) == (broker_url, queue)
    # Forget every pooled connection and producer: kombu keeps producer pools in a registry
    # keyed by connection, and one closed here would come back for the same URL later
    # ("Acquire on closed pool").
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    from events_app import tasks

    tasks._broker_down_until = 0.0


class Worker(Program):
    """``celery -A musehub worker``, no flags, in its own process group, on the test database."""

    def __init__(self, broker_url: str, queue: str, extra_env: dict[str, str] | None = None) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "MUSEHUB_CELERY_QUEUE": queue,
            "MUSEHUB_WEBHOOK_ALLOW_PRIVATE": "1",
            "MUSEHUB_WEBHOOK_BACKOFF": TEST_BACKOFF,
            "MUSEHUB_WEBHOOK_LEASE": str(TEST_LEASE),
            "DJANGO_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        self.log_path = Path(tempfile.mkstemp(prefix="musehub-celery-", suffix=".log")[1])

    def start(self, wait: float = 60) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        self.launch(
            [celery, "-A", "musehub", "worker"],
            ready=lambda: "celery worker ready" in self.log(),
            wait=wait,
            what="celery worker",
            env=self.env,
        )


def new_queue() -> str:
    return f"musehub-test-{uuid.uuid4().hex[:12]}"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    at: float

    @property
    def delivery_id(self) -> str:
        return self.headers.get("X-MuseHub-Delivery", "")

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: ``behave(path, n)`` picks each answer.

    ``behave`` returns a status code, or ``("sleep", seconds, status)`` to hang first, or
    ``("redirect", location)``. It checks each request's signature with ``secret``.
    """

    secret: str
    behave: Callable[[str, int], object] = lambda path, n: 200
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one segment: otherwise Nagle's algorithm holds the
            # body until the sender's delayed ACK (40 ms a delivery, the receiver's doing).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                signature_ok = hmac.compare_digest(expected, self.headers.get("X-MuseHub-Signature-256", ""))
                with receiver._lock:
                    n = sum(1 for r in receiver.received if r.path == self.path)
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, signature_ok, time.monotonic())
                    )
                answer = receiver.behave(self.path, n)
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = answer[2]
                try:
                    if isinstance(answer, tuple) and answer[0] == "redirect":
                        self.send_response(302)
                        self.send_header("Location", answer[1])
                    else:
                        self.send_response(int(answer))
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up (cut at its timeout, or killed)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
