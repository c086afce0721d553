"""Bearer tokens (knox): who a token signs in, and every way one stops working."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import UserFactory, auth_header, make_repo, make_token

pytestmark = pytest.mark.django_db


def _private_sessions_url(owner) -> str:
    return f"/api/repos/{make_repo(owner=owner, visibility='private').pk}/sessions"


def test_a_token_signs_in_its_own_user_among_several(client, user) -> None:
    other = UserFactory(username="other")
    make_token(other)
    token = make_token(user)
    make_token(user)  # a second token of the same user does not get in the way

    assert client.get(_private_sessions_url(user), headers=auth_header(token)).status_code == 200
    assert client.get(_private_sessions_url(other), headers=auth_header(token)).status_code == 404


def test_a_token_with_the_right_key_but_wrong_secret_is_refused(client, user) -> None:
    token = make_token(user)
    forged = token[:15] + ("0" if token[15] != "0" else "1") + token[16:]
    response = client.get(_private_sessions_url(user), headers=auth_header(forged))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_a_revoked_token_is_refused(client, user) -> None:
    token = make_token(user)
    AuthToken.objects.filter(user=user).delete()
    assert client.get(_private_sessions_url(user), headers=auth_header(token)).status_code == 401


def test_an_expired_token_is_refused(client, user) -> None:
    token = make_token(user)
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    assert client.get(_private_sessions_url(user), headers=auth_header(token)).status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client, user) -> None:
    token = make_token(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get(_private_sessions_url(user), headers=auth_header(token))
    assert response.status_code == 401
    assert "inactive" in response.json()["detail"].lower()


@pytest.fixture
def token_cache(settings, monkeypatch):
    """The production setting (5 s), with a clock the test moves."""
    from musehub.api import authentication

    settings.TOKEN_CACHE_SECONDS = 5
    now = [1000.0]
    monkeypatch.setattr(authentication, "_clock", lambda: now[0])
    authentication._accepted.clear()
    yield now
    authentication._accepted.clear()


def test_a_revoked_token_stops_working_within_the_cache_ttl(token_cache, client, user) -> None:
    """A worker keeps accepting a token it checked for TOKEN_CACHE_SECONDS, no longer."""
    token = make_token(user)
    url = "/api/repos"
    assert client.get(url, headers=auth_header(token)).status_code == 200
    AuthToken.objects.filter(user=user).delete()
    token_cache[0] += 4.9
    assert client.get(url, headers=auth_header(token)).status_code == 200  # still remembered
    token_cache[0] += 0.2
    response = client.get(url, headers=auth_header(token))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_a_remembered_token_costs_no_query(token_cache, client, user) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = auth_header(make_token(user))
    with CaptureQueriesContext(connection) as first:
        assert client.get("/api/repos", headers=headers).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get("/api/repos", headers=headers).status_code == 200
    assert len(second.captured_queries) == len(first.captured_queries) - 1
    assert not any("knox_authtoken" in q["sql"] for q in second.captured_queries)
