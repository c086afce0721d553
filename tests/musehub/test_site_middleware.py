"""Django's sessions, auth and messages middleware: the admin's, kept off the API."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory, auth_header, make_repo, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    staff = UserFactory(username="staffer", is_staff=True, is_superuser=True)
    staff.set_password("a long enough password")
    staff.save()
    return staff


def test_the_admin_still_has_sessions_csrf_and_its_login(staff) -> None:
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/admin/login/")
    assert form.status_code == 200
    assert "csrftoken" in form.cookies
    # No CSRF token: refused, as Django refuses it.
    credentials = {"username": "staffer", "password": "a long enough password"}
    assert browser.post("/admin/login/", credentials).status_code == 403

    signed_in = browser.post("/admin/login/", {**credentials, "csrfmiddlewaretoken": form.cookies["csrftoken"].value})
    assert signed_in.status_code == 302
    assert "sessionid" in signed_in.cookies
    assert browser.get("/admin/").status_code == 200


def test_an_admin_session_does_not_sign_in_api_requests_nor_get_a_cookie(staff) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(staff)
    private = make_repo(owner=staff, visibility="private")

    response = browser.get(f"/api/repos/{private.pk}/sessions")
    assert response.status_code == 401  # no token: anonymous, whatever the session says
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_a_token_writes_through_the_api_with_no_csrf_token_beside_a_session(staff) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(staff)
    private = make_repo(owner=staff, visibility="private")

    response = browser.post(
        f"/api/repos/{private.pk}/sessions", {"intent": "mix"}, format="json", headers=auth_header(make_token(staff))
    )
    assert response.status_code == 201
    assert response.json()["author"] == "staffer"
    assert not response.cookies
