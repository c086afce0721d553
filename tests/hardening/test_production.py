"""Production settings: check --deploy, refusing the development secret, security headers,
request ids, and logs that are structured and never hold a secret.

The settings are read from the environment once, at import, so each production setting is
tested in a fresh interpreter (``manage.py`` as a subprocess) with the variables an
operator would set.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from musehub.logging import JsonFormatter
from tests.factories import make_session

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "prod-" + secrets.token_urlsafe(50)


def manage(*args: str, env: dict[str, str], tmp_path: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    """``python manage.py ARGS`` with exactly the DJANGO_* variables given (nothing inherited)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    clean.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}", "REDIS_URL": "", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_HTTPS": "1", "DJANGO_SECRET_KEY": REAL_SECRET}


# ── check --deploy ────────────────────────────────────────────────────────────
def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output.upper()
    assert "security." not in output  # no security.W0xx ids at all


def test_check_deploy_does_warn_without_https(tmp_path):
    """The clean result above is earned: without DJANGO_HTTPS, Django does complain."""
    env = {**PRODUCTION, "DJANGO_HTTPS": "0"}
    result = manage("check", "--deploy", env=env, tmp_path=tmp_path)
    assert "security.W004" in result.stderr  # no HSTS
    assert "security.W008" in result.stderr  # no SSL redirect


# ── refusing to start ─────────────────────────────────────────────────────────
DEV_SECRET = {"DJANGO_DEBUG": "0"}
#: 49 characters, all distinct enough: one short of Django's minimum.
SHORT_SECRET = secrets.token_urlsafe(64)[:49]


def _production_with_secret(secret: str) -> dict[str, str]:
    return {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secret}


def _debug_serving(hosts: str) -> dict[str, str]:
    return {"DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": hosts}


REFUSED = [
    (["check"], DEV_SECRET, "DJANGO_SECRET_KEY"),
    (["check"], _production_with_secret(""), "DJANGO_SECRET_KEY"),
    (["check"], _production_with_secret(" "), "DJANGO_SECRET_KEY"),
    (["check"], _production_with_secret(SHORT_SECRET), "DJANGO_SECRET_KEY"),
    (["check"], _production_with_secret("abcd" * 20), "DJANGO_SECRET_KEY"),  # 80 characters, 4 distinct
    (["check"], _production_with_secret("django-insecure-" + "x1y2z3" * 10), "DJANGO_SECRET_KEY"),
    (["check"], _debug_serving("hub.example.com"), "hub.example.com"),
    (["check"], {"DJANGO_ALLOWED_HOSTS": "localhost,hub.example.com"}, "hub.example.com"),  # DEBUG on by default
    (["check"], _debug_serving("*"), "*"),
    (["check"], _debug_serving("0.0.0.0"), "0.0.0.0"),
    (["check"], {"DJANGO_DEBUG": "perhaps"}, "DJANGO_DEBUG"),
    (["check"], {**PRODUCTION, "DJANGO_HTTPS": "sometimes"}, "DJANGO_HTTPS"),
    (["check"], {"DATABASE_STATEMENT_TIMEOUT": "soon"}, "DATABASE_STATEMENT_TIMEOUT"),
    (["migrate", "--noinput"], DEV_SECRET, "DJANGO_SECRET_KEY"),
    (["migrate", "--noinput"], _debug_serving("hub.example.com"), "DJANGO_ALLOWED_HOSTS"),
    (["runserver", "--noreload", "127.0.0.1:0"], DEV_SECRET, "DJANGO_SECRET_KEY"),
    (["runserver", "--noreload", "127.0.0.1:0"], _debug_serving("hub.example.com"), "DJANGO_DEBUG"),
]


@pytest.mark.parametrize(
    ("command", "env", "needle"),
    REFUSED,
    ids=[
        "check-dev-secret",
        "check-empty-secret",
        "check-blank-secret",
        "check-49-character-secret",
        "check-4-distinct-characters-secret",
        "check-insecure-prefix-secret",
        "check-debug-on-public-host",
        "check-debug-by-default-on-public-host",
        "check-debug-on-any-host",
        "check-debug-on-all-interfaces",
        "check-bad-debug",
        "check-bad-https",
        "check-bad-statement-timeout",
        "migrate",
        "migrate-debug-on-public-host",
        "runserver",
        "runserver-debug-on-public-host",
    ],
)
def test_refuses_to_start_misconfigured(tmp_path, command, env, needle):
    result = manage(*command, env=env, tmp_path=tmp_path, timeout=30)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: refusing to start:")
    assert needle in lines[0]
    assert not (tmp_path / "prod.sqlite3").exists()  # refused before touching anything


@pytest.mark.parametrize(
    "env",
    [
        {},  # development: DEBUG on, the development key, loopback hosts
        _debug_serving("localhost,127.0.0.1,[::1]"),
        _debug_serving("LocalHost"),  # host names are case-insensitive
        _production_with_secret("abcde" * 10),  # exactly 50 characters, 5 distinct: Django's minimum
        {**_production_with_secret(REAL_SECRET), "DJANGO_ALLOWED_HOSTS": "hub.example.com"},
    ],
    ids=["development", "debug-on-loopback", "debug-on-localhost-any-case", "minimal-secret", "production-host"],
)
def test_starts_when_configured_safely(tmp_path, env):
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def _gunicorn(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    clean.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite3'}", **env})
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.run(
        [str(gunicorn), "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        (DEV_SECRET, "DJANGO_SECRET_KEY"),
        (_production_with_secret(SHORT_SECRET), "DJANGO_SECRET_KEY"),
        (_debug_serving("hub.example.com"), "DJANGO_ALLOWED_HOSTS"),
    ],
    ids=["development-secret", "short-secret", "debug-on-public-host"],
)
def test_gunicorn_refuses_to_start_misconfigured(tmp_path, env, needle):
    result = _gunicorn(env, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("Error: refusing to start:")
    assert needle in errors[0]
    assert "Booting worker" not in result.stderr
    assert not (tmp_path / "g.sqlite3").exists()


# ── security headers and HTTPS behaviour, as configured by the environment ───
PROBE = textwrap.dedent(
    """
    import json
    from django.conf import settings
    from django.test import Client
    c = Client(HTTP_HOST="localhost")
    def h(r):
        return {"status": r.status_code, "headers": dict(r.headers)}
    print(json.dumps({
        "secure": h(c.get("/healthz", secure=True)),
        "plain_api": h(c.get("/api/repos")),
        "plain_health": h(c.get("/healthz")),
        "proxied": h(c.get("/healthz", HTTP_X_FORWARDED_PROTO="https")),
        "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
    }))
    """
)


def _probe(env, tmp_path) -> dict:
    result = manage("shell", "-c", PROBE, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_mode_sends_hsts_redirects_and_secures_cookies(tmp_path):
    probe = _probe(PRODUCTION, tmp_path)
    secure = probe["secure"]
    assert secure["status"] == 200
    assert secure["headers"]["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert secure["headers"]["X-Content-Type-Options"] == "nosniff"
    assert secure["headers"]["X-Frame-Options"] == "DENY"
    # Plain HTTP is sent to HTTPS, except the probes a load balancer makes.
    assert probe["plain_api"]["status"] == 301
    assert probe["plain_api"]["headers"]["Location"] == "https://localhost/api/repos"
    assert probe["plain_health"]["status"] == 200
    # Behind a TLS-terminating proxy that says so, no redirect loop.
    assert probe["proxied"]["status"] == 200
    assert "Strict-Transport-Security" in probe["proxied"]["headers"]
    assert probe["cookies"] == [True, True, True]


def test_plain_production_mode_serves_http_without_hsts(tmp_path):
    """DJANGO_DEBUG=0 without DJANGO_HTTPS serves plain HTTP (SPEC: how it is tested)."""
    probe = _probe({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": REAL_SECRET}, tmp_path)
    assert probe["plain_health"]["status"] == 200
    assert "Strict-Transport-Security" not in probe["plain_health"]["headers"]
    assert probe["plain_health"]["headers"]["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def plain_static(settings):
    """Admin pages without a collectstatic run: plain static names, not the manifest's."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/api/repos", "/api/nowhere", "/admin/login/"])
def test_security_headers_on_every_kind_of_response(client, plain_static, path):
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_security_headers_on_responses_refused_early(client, repo):
    """Refusals made before the view (size, NUL, bad length) carry the same headers."""
    url = f"/api/repos/{repo.pk}/sessions"
    refused = [
        client.post(url, "x" * (1024 * 1024 + 1), content_type="application/json"),
        client.get(url, {"participant": "a\x00"}),
        client.get("/api/repos/a%00"),
        client.generic("POST", url, b"{}", content_type="application/json", CONTENT_LENGTH="-1"),
    ]
    assert [r.status_code for r in refused] == [413, 422, 404, 400]
    for response in refused:
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert len(response["X-Request-ID"]) == 32


# ── request ids ───────────────────────────────────────────────────────────────
@pytest.mark.django_db
def test_request_id_is_generated_and_echoed(client):
    first, second = client.get("/healthz"), client.get("/api/repos")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ["abc-123", "6f1c2e1a.trace_7", "x" * 128])
def test_sane_incoming_request_id_is_kept(client, incoming):
    assert client.get("/healthz", headers={"X-Request-ID": incoming})["X-Request-ID"] == incoming


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ["x" * 129, "a b", "<script>", "id\r\nSet-Cookie: a=b", "", "ü"])
def test_insane_incoming_request_id_is_replaced(client, incoming):
    echoed = client.get("/healthz", headers={"X-Request-ID": incoming})["X-Request-ID"]
    assert echoed != incoming
    assert len(echoed) == 32
    assert echoed.isalnum()


# ── logs ──────────────────────────────────────────────────────────────────────
@pytest.fixture
def captured_log():
    """Everything the configured JSON handler writes, as text."""
    handlers = {h for name in ("", "django", "musehub") for h in logging.getLogger(name).handlers}
    handlers |= {h for h in logging.getLogger().handlers}
    json_handlers = [h for h in handlers if isinstance(h.formatter, JsonFormatter)]
    assert json_handlers, "the LOGGING setting configures a console handler"
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in json_handlers]
    try:
        yield buffer
    finally:
        for handler, stream in zip(json_handlers, previous, strict=True):
            handler.setStream(stream)


@pytest.mark.django_db
def test_logs_are_json_lines_with_request_ids_and_no_secrets(
    captured_log, plain_static, token, auth_headers, repo, monkeypatch
):
    from django.contrib.auth import get_user_model

    password = "Very-S3cret-Passw0rd-" + secrets.token_hex(8)
    get_user_model().objects.create_superuser("boss", "boss@example.com", password)
    client = APIClient(raise_request_exception=False)
    session = make_session(repo)
    base = f"/api/repos/{repo.pk}/sessions"

    client.get(base, headers=auth_headers)
    client.post(base, {"notes": "n"}, format="json", headers=auth_headers)
    client.post(f"{base}/{session.pk}/stop", {}, format="json", headers={"Authorization": f"Token {token}"})
    client.get(f"{base}?cursor={token}", headers=auth_headers)  # a token pasted in the wrong place
    client.get(base, headers={"Authorization": f"Bearer {token[:-1]}0"})  # a wrong token: 401
    client.post("/admin/login/", {"username": "boss", "password": password + "x"}, format="multipart")
    client.post("/admin/login/", {"username": "boss", "password": password}, format="multipart")
    # A crash mid-request: logged with its traceback, still without the caller's token.
    from sessions_app import selectors

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "repo_and_session_get", explode)
    crashed = client.get(f"{base}/{session.pk}", headers=auth_headers)
    assert crashed.status_code == 500
    assert crashed.json() == {"detail": "Internal server error."}

    text = captured_log.getvalue()
    lines = text.splitlines()
    assert len(lines) >= 8
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(record, dict) for record in records)
    assert token not in text
    assert token[:16] not in text
    assert password not in text
    assert "Authorization" not in text
    assert "HTTP_AUTHORIZATION" not in text
    access = [r for r in records if r["logger"] == "musehub.access"]
    assert len(access) == 8
    assert all(len(r["request_id"]) == 32 for r in access)
    assert [r["status"] for r in access][-1] == 500
    crash = [r for r in records if "exception" in r]
    assert crash, "the crash is logged with its traceback"
    assert "RuntimeError: boom" in crash[0]["exception"]
    assert crash[0]["request_id"] == access[-1]["request_id"]
