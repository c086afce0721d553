"""``deploy/render_nginx.py``: the command README gives operators to fill in ``deploy/nginx.conf``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.live_gunicorn import ROOT


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "deploy/render_nginx.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )


def test_fills_every_placeholder_and_keeps_nginx_variables():
    result = render(
        "--listen", "8080", "--server-name", "hub.example.com",
        "--upstream", "unix:/run/musehub/gunicorn.sock", "--static-root", "/srv/musehub/staticfiles/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "${" not in text
    assert "listen 8080;" in text
    assert "server_name hub.example.com;" in text
    assert "server unix:/run/musehub/gunicorn.sock;" in text
    assert "alias /srv/musehub/staticfiles/;" in text
    assert "client_max_body_size 1m;" in text  # MAX_REQUEST_BODY_BYTES
    # nginx's own variables are left for nginx.
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    assert "proxy_set_header Host $host;" in text


@pytest.mark.parametrize(
    "args",
    [
        ["--static-root", "/srv/static; include /etc/passwd"],
        ["--static-root", "/srv/static", "--server-name", "a b"],
        ["--static-root", "/srv/static", "--upstream", "127.0.0.1:8000 backup"],
        ["--static-root", "/srv/static", "--listen", "$port"],
        ["--static-root", "/srv/static", "--listen", ""],
        [],  # --static-root is required
    ],
    ids=["semicolon", "space", "two-words", "dollar", "empty", "missing"],
)
def test_refuses_a_value_that_would_change_the_configuration(args):
    result = render(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr
