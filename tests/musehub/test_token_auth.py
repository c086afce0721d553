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
