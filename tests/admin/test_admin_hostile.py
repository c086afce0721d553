"""Odd or hostile parameters in the admin never give a 500 (NUL is refused by PostgreSQL)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sessions_app.models import Session
from tests.factories import make_repo, make_session

SESSIONS = reverse("admin:sessions_app_session_changelist")
REPOS = reverse("admin:repos_app_repo_changelist")


@pytest.fixture
def session(user):
    return make_session(make_repo(owner=user), participants=["bob"])


@pytest.mark.parametrize("url", [SESSIONS, REPOS])
@pytest.mark.parametrize(
    "query",
    [
        "q=a%00b",
        "q=%ED%A0%80",  # a lone surrogate, UTF-8 encoded
        "q=%25_%5C",
        "q=%22",
        "q=%22%22",
        "started_at__year=abc",
        "started_at__year=99999",
        "started_at__year=2026&started_at__month=13",
        "active=maybe",
        "repo__visibility__exact=x%00",
        "repo__exact=zz%00",
        "visibility__exact=%00",
        "o=99",
        "p=-1",
        "p=abc",
    ],
)
def test_changelist_odd_parameters(admin_client, session, url, query):
    response = admin_client.get(f"{url}?{query}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")


def test_action_with_a_nul_in_the_selection(admin_client, session):
    response = admin_client.post(
        SESSIONS, {"action": "stop_selected_sessions", "_selected_action": [session.pk, "ab\x00cd"]}
    )
    assert response.status_code == 302
    assert Session.objects.get(pk=session.pk).is_active  # nothing was done


@pytest.mark.parametrize("name", ["sessions_app_session", "repos_app_repo"])
def test_change_page_of_an_id_with_a_nul(admin_client, session, name):
    response = admin_client.get(reverse(f"admin:{name}_change", args=["ab\x00cd"]))
    assert response.status_code == 302  # "does not exist", back to the list
    assert response["Location"] == reverse("admin:index")
