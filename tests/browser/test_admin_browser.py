"""Staff use the admin in a real browser: sign in, find the running sessions of a
participant, stop two of them, and check the repo's collaborators."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import UserFactory, make_repo, make_session, make_token, share

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def studio(admin_user):
    owner = UserFactory(username="testuser")
    repo = make_repo(owner=owner, visibility="public", name="Live Album")
    share(repo, UserFactory(username="erin"), "write")
    now = timezone.now().replace(microsecond=0)
    sessions = {
        "drums": make_session(repo, started_at=now - timedelta(hours=3), participants=["alice", "bob"], intent="Drums"),
        "bass": make_session(repo, started_at=now - timedelta(hours=2), participants=["bob"], intent="Bass"),
        "keys": make_session(repo, started_at=now - timedelta(hours=1), participants=["carol"], intent="Keys"),
        "old": make_session(
            repo,
            started_at=now - timedelta(days=2),
            ended_at=now - timedelta(days=2) + timedelta(minutes=45),
            participants=["bob"],
            intent="Old take",
        ),
    }
    return repo, sessions, make_token(owner)


def row(page, session):
    """The changelist row of ``session`` (found by its short id)."""
    return page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=session.session_id[:12], exact=True)
    )


def api_get(base: str, path: str, token: str) -> dict:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_staff_stop_two_sessions_and_check_collaborators(live_server, page, studio, artifacts):
    repo, sessions, token = studio
    base = live_server.url

    # Sign in as a superuser; the admin loads its stylesheet.
    page.goto(f"{base}/admin/login/?next=/admin/sessions_app/session/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/sessions_app/session/$"))
    header_color = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header_color not in ("", "rgba(0, 0, 0, 0)")
    assert page.locator("#result_list tbody tr").count() == 4

    # Filter to active sessions, then search for a participant.
    page.locator("#changelist-filter").get_by_role("link", name="Active", exact=True).click()
    page.wait_for_url(re.compile(r"active=yes"))
    assert page.locator("#result_list tbody tr").count() == 3
    page.locator("#searchbar").fill("bob")
    page.locator("#searchbar").press("Enter")
    page.wait_for_url(re.compile(r"q=bob"))
    assert "active=yes" in page.url
    assert page.locator("#result_list tbody tr").count() == 2
    for key in ("drums", "bass"):
        assert row(page, sessions[key]).count() == 1

    # Select the two and stop them.
    for key in ("drums", "bass"):
        row(page, sessions[key]).locator("input[name=_selected_action]").check()
    page.locator("select[name=action]").select_option("stop_selected_sessions")
    page.get_by_role("button", name="Go").click()
    page.locator(".messagelist").wait_for()
    assert "Stopped 2 session(s)." in page.locator(".messagelist").inner_text()
    # Still filtered to active sessions of bob: none are left.
    assert page.locator("#result_list tbody tr").count() == 0

    # The list shows them stopped.
    page.goto(f"{base}/admin/sessions_app/session/?q=bob")
    for key in ("drums", "bass"):
        stopped = row(page, sessions[key])
        assert stopped.locator("td.field-active img").get_attribute("alt") == "False"
        assert stopped.locator("td.field-duration").inner_text() != "running"
    assert row(page, sessions["old"]).locator("td.field-duration").inner_text() == "45 min"
    page.goto(f"{base}/admin/sessions_app/session/")
    assert row(page, sessions["keys"]).locator("td.field-active img").get_attribute("alt") == "True"
    page.screenshot(path=str(artifacts / "admin-sessions-list.png"), full_page=True)

    # So does the API.
    for key in ("drums", "bass"):
        body = api_get(base, f"/api/repos/{repo.pk}/sessions/{sessions[key].pk}", token)
        assert body["isActive"] is False
        assert body["endedAt"] is not None
    assert api_get(base, f"/api/repos/{repo.pk}/sessions/{sessions['keys'].pk}", token)["isActive"] is True

    # Open the repo from a session's row: its collaborators are listed inline.
    row(page, sessions["keys"]).get_by_role("link", name="testuser/live-album").click()
    page.wait_for_url(re.compile(rf"/admin/repos_app/repo/{repo.pk}/change/$"))
    collaborators = page.locator("#collaborators-group")
    assert "erin" in collaborators.inner_text()
    assert collaborators.locator("select[name$='-permission']").first.input_value() == "write"
    # And its sessions are one click away.
    page.get_by_role("link", name="4 session(s)").click()
    page.wait_for_url(re.compile(rf"repo__exact={repo.pk}"))
    assert page.locator("#result_list tbody tr").count() == 4
