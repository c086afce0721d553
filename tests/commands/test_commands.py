"""The manage.py commands as operators run them: output contracts, dry runs, bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from musehub.core.commands import parse_duration
from repos_app.models import Repo
from sessions_app.models import Session
from tests.factories import make_repo, make_session

ROOT = Path(__file__).resolve().parents[2]
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def run(*args: str) -> tuple[str, str]:
    """``call_command`` with its stdout and stderr captured."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def token_works(token: str) -> bool:
    """The API takes the token (an invalid or revoked one is a 401 on any route)."""
    return APIClient().get("/api/repos", headers={"Authorization": f"Bearer {token}"}).status_code == 200


# ── create_token ──────────────────────────────────────────────────────────────
def test_create_token_prints_a_working_token_last(user):
    out, _ = run("create_token", "testuser")
    token = out.strip().splitlines()[-1]
    assert token_works(token)
    second = run("create_token", "testuser")[0].strip().splitlines()[-1]
    assert second != token  # a new token each time


def test_create_token_create_user(db):
    out, err = run("create_token", "newcomer", "--create-user")
    assert get_user_model().objects.filter(username="newcomer").exists()
    assert "Created user 'newcomer'" in err
    assert token_works(out.strip().splitlines()[-1])


def test_create_token_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match=r"No user named 'ghost'.*--create-user"):
        run("create_token", "ghost")
    assert not get_user_model().objects.filter(username="ghost").exists()


@pytest.mark.parametrize("create_user", [[], ["--create-user"]])
@pytest.mark.parametrize(("username", "message"), [("x" * 151, "at most 150"), ("bad\x00name", "NUL"), ("", "empty")])
def test_create_token_refuses_bad_usernames(db, username, message, create_user):
    with pytest.raises(CommandError, match=message):
        run("create_token", username, *create_user)
    assert get_user_model().objects.count() == 0


# ── create_repo ───────────────────────────────────────────────────────────────
def test_create_repo_prints_the_repo_id_last(user):
    out, _ = run("create_repo", "testuser", "First Album", "--description", "Songs")
    repo_id = out.strip().splitlines()[-1]
    assert HEX64.match(repo_id)
    repo = Repo.objects.get(pk=repo_id)
    assert (repo.name, repo.slug, repo.visibility, repo.description) == (
        "First Album",
        "first-album",
        "public",
        "Songs",
    )


def test_create_repo_private(user):
    repo_id = run("create_repo", "testuser", "Secret", "--private")[0].strip().splitlines()[-1]
    assert Repo.objects.get(pk=repo_id).visibility == "private"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghost", "Album"], "No user named 'ghost'"),
        (["gh\x00ost", "Album"], "NUL"),
        (["testuser", "!!!"], "at least one letter or digit"),
        (["testuser", "x" * 101], "at most 100 characters"),
        (["testuser", "Nul\x00Name"], "NUL"),
        (["testuser", "Album", "--description", "a\x00b"], "NUL"),
    ],
)
def test_create_repo_bad_input(user, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_repo", *args)
    assert not Repo.objects.exists()


def test_create_repo_taken_slug(user):
    make_repo(owner=user, name="Album")
    with pytest.raises(CommandError, match="slug 'album'"):
        run("create_repo", "testuser", "album")
    assert Repo.objects.count() == 1


# ── stop_stale_sessions ───────────────────────────────────────────────────────
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        (" 1d ", timedelta(days=1)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.fixture
def stale_and_fresh(repo):
    now = timezone.now()
    return {
        "stale": make_session(repo, started_at=now - timedelta(hours=2)),
        "older": make_session(repo, started_at=now - timedelta(days=3)),
        "fresh": make_session(repo, started_at=now - timedelta(minutes=10)),
        "ended": make_session(repo, started_at=now - timedelta(days=5), ended_at=now - timedelta(days=4)),
    }


def test_stop_stale_sessions_stops_and_prints_each(stale_and_fresh):
    s = stale_and_fresh
    ended_at = s["ended"].ended_at
    out, err = run("stop_stale_sessions", "--older-than", "90m")
    assert out.split() == [s["older"].pk, s["stale"].pk]  # oldest first
    assert "Stopped 2 session(s)" in err
    for key in ("stale", "older"):
        session = Session.objects.get(pk=s[key].pk)
        assert session.is_active is False
        assert session.ended_at >= timezone.now() - timedelta(minutes=1)
    assert Session.objects.get(pk=s["fresh"].pk).is_active
    assert Session.objects.get(pk=s["ended"].pk).ended_at == ended_at

    # Nothing left to do the second time.
    out, err = run("stop_stale_sessions", "--older-than", "90m")
    assert out == ""
    assert "Stopped 0 session(s)" in err


def test_stop_stale_sessions_dry_run_changes_nothing(stale_and_fresh):
    s = stale_and_fresh
    out, err = run("stop_stale_sessions", "--older-than", "1d", "--dry-run")
    assert out.split() == [s["older"].pk]
    assert "Would stop 1 session(s)" in err
    assert Session.objects.filter(is_active=True).count() == 3


@pytest.mark.parametrize("duration", ["", "12", "h", "5x", "-3h", "1.5h", "0m", "12 hours", "99999999d"])
def test_stop_stale_sessions_bad_duration(stale_and_fresh, duration):
    with pytest.raises(CommandError, match="duration"):
        run("stop_stale_sessions", f"--older-than={duration}")
    assert Session.objects.filter(is_active=True).count() == 3


def test_stop_stale_sessions_needs_older_than(db):
    with pytest.raises(CommandError, match="--older-than"):
        run("stop_stale_sessions")


# ── seed_demo ─────────────────────────────────────────────────────────────────
def test_seed_demo_creates_the_demo_once_and_prints_a_token_last(db):
    out, _ = run("seed_demo")
    token = out.strip().splitlines()[-1].split()[-1]
    assert token_works(token)
    demo = get_user_model().objects.get(username="demo")
    repos = Repo.objects.filter(owner=demo)
    assert sorted(r.visibility for r in repos) == ["private", "public"]
    sessions = Session.objects.filter(repo__owner=demo)
    assert sessions.count() == 8
    assert sessions.filter(is_active=True).count() == 2
    for repo in repos:
        assert repo.session_count == 4

    out, _ = run("seed_demo")
    second = out.strip().splitlines()[-1].split()[-1]
    assert second != token
    assert token_works(second)
    assert Repo.objects.filter(owner=demo).count() == 2
    assert Session.objects.filter(repo__owner=demo).count() == 8


# ── As an operator runs them: a real process, exit codes, no tracebacks ───────
@pytest.fixture(scope="module")
def cli_db(tmp_path_factory):
    """A migrated SQLite database file for commands run as separate processes."""
    path = tmp_path_factory.mktemp("cli") / "cli.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "DJANGO_DEBUG": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    return env


def manage(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_happy_path(cli_db):
    token = manage(cli_db, "create_token", "cli-user", "--create-user")
    assert token.returncode == 0, token.stderr
    assert re.fullmatch(r"\S{20,}", token.stdout.strip().splitlines()[-1])

    repo = manage(cli_db, "create_repo", "cli-user", "CLI Album", "--private")
    assert repo.returncode == 0, repo.stderr
    assert HEX64.match(repo.stdout.strip().splitlines()[-1])

    seed = manage(cli_db, "seed_demo")
    assert seed.returncode == 0, seed.stderr
    assert re.fullmatch(r"\S{20,}", seed.stdout.strip().splitlines()[-1].split()[-1])

    # seed_demo leaves one active session per repo, started just now: nothing is stale yet.
    dry = manage(cli_db, "stop_stale_sessions", "--older-than", "1d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == ""
    assert "Would stop 0 session(s)" in dry.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_token", "ghost"], "No user named 'ghost'"),
        (["create_repo", "ghost", "Album"], "No user named 'ghost'"),
        (["create_repo", "cli-user"], "required: name"),
        (["stop_stale_sessions", "--older-than", "soon"], "invalid duration 'soon'"),
        (["stop_stale_sessions"], "required: --older-than"),
        (["seed_demo", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_cli_bad_arguments_give_one_line_and_a_non_zero_exit(cli_db, args, message):
    result = manage(cli_db, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert result.stdout == ""


def test_cli_help_explains_each_command(cli_db):
    for command, words in [
        ("create_token", ["USERNAME", "--create-user", "Bearer", "Examples:"]),
        ("create_repo", ["OWNER", "--private", "--description", "Examples:"]),
        ("stop_stale_sessions", ["--older-than", "90m, 12h, 7d", "--dry-run", "Examples:"]),
        ("seed_demo", ["demo", "token", "Examples:"]),
    ]:
        result = manage(cli_db, command, "--help")
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        for word in words:
            assert word in text, (command, word)
