"""The admin's CSS and scripts are served with DJANGO_DEBUG=0 (WhiteNoise), in process and
under gunicorn after ``collectstatic`` as ``make run`` does it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.live_gunicorn import Gunicorn

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


@pytest.mark.slow
def test_admin_css_loads_under_gunicorn_with_debug_off(tmp_path):
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "static-files-test-" + "x" * 40,
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    server = Gunicorn(env, workers=1)
    server.start()
    try:
        page = server.request("GET", "/admin/login/")
        assert page.status == 200
        stylesheets = CSS_LINK.findall(page.body.decode())
        base_css = [href for href in stylesheets if "admin/css/base" in href]
        # collectstatic ran: the page links the hashed, cache-forever name.
        assert base_css
        assert re.search(r"base\.[0-9a-f]{12}\.css$", base_css[0]), base_css
        css = server.request("GET", base_css[0])
        assert css.status == 200
        assert css.headers["Content-Type"].startswith("text/css")
        assert "immutable" in css.headers.get("Cache-Control", "")
        assert b"body" in css.body
    finally:
        server.stop()
