"""The admin's CSS and scripts are served with DJANGO_DEBUG=0 (WhiteNoise), in process and
under gunicorn after ``collectstatic`` as ``make run`` does it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
CSS_LINK = re.compile(r'<link rel="stylesheet" href="([^"]+\.css)"')


def test_admin_css_is_served_by_the_wsgi_app_with_debug_off(db, settings):
    settings.DEBUG = False
    client = Client()  # a new handler: WhiteNoise starts up with DEBUG off, as in production
    page = client.get("/admin/login/")
    assert page.status_code == 200
    stylesheets = CSS_LINK.findall(page.content.decode())
    assert any("admin/css/base" in href for href in stylesheets), stylesheets
    for href in stylesheets:
        response = client.get(href)
        assert response.status_code == 200, href
        assert response["Content-Type"].startswith("text/css")
        assert b"".join(response.streaming_content)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


@pytest.mark.slow
def test_admin_css_loads_under_gunicorn_with_debug_off(tmp_path):
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "static-files-test-" + "x" * 40,
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GUNICORN_WORKERS": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = _get(base + "/admin/login/")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert status == 200
        stylesheets = CSS_LINK.findall(body.decode())
        base_css = [href for href in stylesheets if "admin/css/base" in href]
        # collectstatic ran: the page links the hashed, cache-forever name.
        assert base_css
        assert re.search(r"base\.[0-9a-f]{12}\.css$", base_css[0]), base_css
        status, headers, css = _get(base + base_css[0])
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert "immutable" in headers.get("Cache-Control", "")
        assert b"body" in css
    finally:
        server.terminate()
        server.wait(timeout=10)
