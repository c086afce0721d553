"""Django's sessions, auth and messages middleware: the admin's, kept off the API."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import auth_header, make_repo, make_token

pytestmark = pytest.mark.django_db


def test_the_admin_still_has_sessions_csrf_and_its_login(admin_user) -> None:
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/admin/login/")
    assert form.status_code == 200
    assert "csrftoken" in form.cookies
    # No CSRF token: refused, as Django refuses it.
    credentials = {"username": admin_user.username, "password": "password"}  # pytest-django's
    assert browser.post("/admin/login/", credentials).status_code == 403

    signed_in = browser.post("/admin/login/", {**credentials, "csrfmiddlewaretoken": form.cookies["csrftoken"].value})
    assert signed_in.status_code == 302
    assert "sessionid" in signed_in.cookies
    assert browser.get("/admin/").status_code == 200


def test_an_admin_session_does_not_sign_in_api_requests_nor_get_a_cookie(admin_user) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    private = make_repo(owner=admin_user, visibility="private")

    response = browser.get(f"/api/repos/{private.pk}/sessions")
    assert response.status_code == 401  # no token: anonymous, whatever the session says
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_a_token_writes_through_the_api_with_no_csrf_token_beside_a_session(admin_user) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    private = make_repo(owner=admin_user, visibility="private")

    response = browser.post(
        f"/api/repos/{private.pk}/sessions",
        {"intent": "mix"},
        format="json",
        headers=auth_header(make_token(admin_user)),
    )
    assert response.status_code == 201
    assert response.json()["author"] == admin_user.username
    assert not response.cookies
