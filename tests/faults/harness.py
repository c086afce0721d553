"""A throwaway PostgreSQL cluster and a real gunicorn in front of it, for fault tests.

``PgCluster`` runs the machine's own ``initdb`` / ``pg_ctl`` (PostgreSQL refuses to run as
root, so as the ``postgres`` user when the tests run as root) in a fresh directory, on a
free loopback port; the fixtures in ``conftest.py`` put ``tests.live_gunicorn.Gunicorn`` in
front of it and tear both down. Nothing here touches any other server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.live_gunicorn import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "faults-" + secrets.token_urlsafe(50)


def pg_bin(name: str) -> str:
    """Path of a PostgreSQL server binary (initdb, pg_ctl) on this machine."""
    for candidate in (shutil.which(name), *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"{name} not found: install the PostgreSQL server package")


class PgCluster:
    """One PostgreSQL cluster in a temporary directory, trust auth, loopback only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="musehub-faults-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd: str, timeout: int = 60) -> None:
        result = subprocess.run([*self._as_postgres, *cmd], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=50"
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (no clean shutdown of sessions)."""
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def query(self, sql: str, *params, dbname: str = "musehub") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(dbname), connect_timeout=5, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    """Production-mode environment (plain HTTP on loopback, as SPEC says it is tested)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET,
            "DATABASE_CONNECT_TIMEOUT": "2",
            "REDIS_URL": "",
            **extra,
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr}")
    return result.stdout
