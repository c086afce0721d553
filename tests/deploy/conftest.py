"""Real nginx (Debian's package) in front of a real gunicorn, configured by ``deploy/nginx.conf``.

``Nginx`` renders the project's configuration with ``deploy/render_nginx.py`` (the command
README gives operators) on a free loopback port, wraps it in a minimal main configuration
(Debian's ``/etc/nginx/nginx.conf`` plays that part in production), and runs nginx in the
foreground with its own prefix, pid, logs and temporary files in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.live_gunicorn import ROOT, Program, Reply, free_port, http_request

NGINX = os.environ.get("MUSEHUB_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
INSTALL_HINT = "install it with `apt-get install nginx` (Debian/Ubuntu)"

MAIN_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/musehub.conf;
}}
"""


def nginx_unavailable(reason: str):
    """In CI a missing nginx fails the run; on a developer machine it skips."""
    if os.environ.get("CI"):
        pytest.fail(f"nginx cannot start in CI: {reason}", pytrace=False)
    pytest.skip(f"nginx is not available ({reason}): {INSTALL_HINT}")


class Nginx(Program):
    """nginx in the foreground on a free loopback port, proxying to ``upstream``."""

    stop_signal = signal.SIGQUIT  # graceful shutdown

    def __init__(self, *, upstream: str, static_root: Path) -> None:
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="musehub-nginx-"))
        rendered = subprocess.run(
            [
                sys.executable,
                "deploy/render_nginx.py",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--upstream",
                upstream,
                "--static-root",
                str(static_root),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        (self.tmp / "musehub.conf").write_text(rendered.stdout)
        # As root the workers would drop to `nobody`, who cannot read a private temp directory.
        user = "user root;" if os.geteuid() == 0 else ""
        (self.tmp / "nginx.conf").write_text(MAIN_CONFIG.format(tmp=self.tmp, user=user))
        self.log_path = self.tmp / "stderr.log"

    def start(self, wait: float = 15) -> None:
        self.launch(
            [NGINX, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf"), "-e", str(self.tmp / "error.log")],
            ready=lambda: _accepts(self.port),
            wait=wait,
            what="nginx",
        )

    def log(self) -> str:
        paths = [self.log_path, self.tmp / "error.log"]
        return "".join(path.read_text(errors="replace") for path in paths if path.exists())

    def request(self, method: str, path: str, *args, **kwargs) -> Reply:
        """One request on a new connection (``http_request``: body, headers, timeout, source)."""
        return http_request(self.port, method, path, *args, **kwargs)

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    if not Path(NGINX).exists():
        nginx_unavailable(f"no nginx at {NGINX}")
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=10)
    if version.returncode != 0:
        nginx_unavailable(version.stderr.strip() or "nginx -v failed")
    return NGINX
