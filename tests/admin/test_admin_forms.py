"""The admin's forms refuse what the API refuses, each with a form error (never a 500 and
never a stored value that would later break the API), and take what the API takes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from repos_app.models import Repo
from sessions_app.models import Session
from tests.factories import make_repo, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(user):
    return make_session(make_repo(owner=user, visibility="public"), participants=["ana"], tags=["demo"])


def _post_session(admin_client, session, **changes):
    url = reverse("admin:sessions_app_session_change", args=[session.pk])
    form = {
        "intent": session.intent,
        "location": session.location,
        "notes": session.notes,
        "participants": '["ana"]',
        "tags": '["demo"]',
        **changes,
    }
    return admin_client.post(url, form)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"participants": '["\\ud800"]'}, "participants"),  # a lone surrogate, as JSON text
        ({"participants": '[["nested"]]'}, "participants"),
        ({"participants": "[" * 100_000 + "]" * 100_000}, "participants"),  # too deep for json.loads
        ({"participants": '["' + "x" * 101 + '"]'}, "participants"),
        ({"participants": "[" + ", ".join(f'"p{n}"' for n in range(101)) + "]"}, "participants"),
        ({"participants": '["nul\\u0000"]'}, "participants"),
        ({"participants": '{"not": "a list"}'}, "participants"),
        ({"intent": "x" * 10_001}, "intent"),
        ({"notes": "x" * 10_001}, "notes"),
        ({"location": "x" * 256}, "location"),
        ({"tags": '["Mixing"]'}, "tags"),
        ({"tags": '["two words"]'}, "tags"),
        ({"tags": '["' + "a" * 41 + '"]'}, "tags"),
        ({"tags": '["mix", "mix"]'}, "tags"),
        ({"tags": '[""]'}, "tags"),
        ({"tags": "[" + ", ".join(f'"t{n}"' for n in range(21)) + "]"}, "tags"),
        ({"tags": "[1]"}, "tags"),
    ],
)
def test_session_form_refuses_what_the_api_refuses(admin_client, session, changes, field):
    response = _post_session(admin_client, session, **changes)

    assert response.status_code == 200  # the form again, not a redirect and not a 500
    assert field in response.context["adminform"].form.errors
    stored = Session.objects.get(pk=session.pk)
    assert (stored.participants, stored.tags, stored.intent, stored.location) == (
        ["ana"],
        ["demo"],
        session.intent,
        session.location,
    )


def test_session_form_saves_what_the_api_takes(admin_client, client, session):
    response = _post_session(admin_client, session, tags='["mixing", "take-2"]', participants='["ana", "bö"]')

    assert response.status_code == 302
    body = client.get(f"/api/repos/{session.repo_id}/sessions/{session.pk}").json()
    assert (body["tags"], body["participants"]) == (["mixing", "take-2"], ["ana", "bö"])


def _post_repo(admin_client, repo, **changes):
    url = reverse("admin:repos_app_repo_change", args=[repo.pk])
    form = {
        "name": repo.name,
        "visibility": repo.visibility,
        "description": repo.description,
        "collaborators-TOTAL_FORMS": "0",
        "collaborators-INITIAL_FORMS": "0",
        **changes,
    }
    return admin_client.post(url, form)


def test_a_colliding_rename_is_a_form_error_not_a_500(admin_client, user):
    make_repo(owner=user, name="First Album")
    second = make_repo(owner=user, name="Second Album")

    response = _post_repo(admin_client, second, name="first album!")

    assert response.status_code == 200
    assert "first-album" in " ".join(response.context["adminform"].form.errors["name"])
    assert Repo.objects.get(pk=second.pk).name == "Second Album"


def test_a_non_latin_name_works_in_the_admin_as_in_the_api(admin_client, client, user, auth_headers):
    repo = make_repo(owner=user, name="Demo")

    response = _post_repo(admin_client, repo, name="夜のドライブ 2")

    assert response.status_code == 302
    stored = Repo.objects.get(pk=repo.pk)
    assert (stored.name, stored.slug) == ("夜のドライブ 2", "夜のドライブ-2")
    # The API makes the same slug from the same name.
    created = client.post("/api/repos", {"name": "夜のドライブ 3"}, format="json", headers=auth_headers)
    assert created.status_code == 201
    assert created.json()["slug"] == "夜のドライブ-3"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "!!!"}, "name"),  # no letter or digit: no slug
        ({"description": "x" * 10_001}, "description"),
        ({"name": "nul\x00"}, "name"),
    ],
)
def test_repo_form_refuses_what_the_api_refuses(admin_client, user, changes, field):
    repo = make_repo(owner=user, name="Kept")

    response = _post_repo(admin_client, repo, **changes)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Repo.objects.get(pk=repo.pk).name == "Kept"
