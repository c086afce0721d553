"""The admin as staff use it: lists, filters, search, the stop action, repos and collaborators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from repos_app.models import Collaborator, Repo
from sessions_app.admin import human_duration
from sessions_app.models import Session
from tests.factories import UserFactory, make_repo, make_session, share

SESSIONS_URL = reverse("admin:sessions_app_session_changelist")
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def studio(user):
    """A public repo with two active sessions and one ended one; a private repo with one."""
    public = make_repo(owner=user, visibility="public", name="Live Album")
    private = make_repo(owner=user, visibility="private", name="Secret Demos")
    sessions = {
        "drums": make_session(
            public, started_at=T0, participants=["Alice", "bob"], intent="Record drums", location="Room A"
        ),
        "vocals": make_session(
            public,
            started_at=T0 + timedelta(hours=1),
            participants=["carol"],
            intent="Track vocals",
            location="Booth 2",
        ),
        "mix": make_session(
            public,
            started_at=T0 - timedelta(days=40),
            ended_at=T0 - timedelta(days=40) + timedelta(hours=2, minutes=30),
            participants=["bob"],
            intent="Mix it down",
            location="Control room",
        ),
        "secret": make_session(private, started_at=T0, participants=["dave"], intent="Hidden idea", location="Home"),
    }
    return public, private, sessions


def listed_ids(response) -> set[str]:
    """The sessions the changelist shows, by full id."""
    return {session.pk for session in response.context["cl"].result_list}


def test_human_duration():
    assert human_duration(9000.0) == "2 h 30 min"
    assert human_duration(45.2) == "45 s"
    assert human_duration(3 * 86_400 + 4 * 3_600 + 5) == "3 d 4 h"
    assert human_duration(2 * 3_600 + 3) == "2 h"  # not "2 h 3 s"
    assert human_duration(61) == "1 min 1 s"
    assert human_duration(0) == "0 s"
    assert human_duration(None) == "—"


def test_admin_needs_staff(client, studio):
    response = client.get(SESSIONS_URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_session_list_shows_the_columns(admin_client, studio):
    _, _, sessions = studio
    response = admin_client.get(SESSIONS_URL)
    assert response.status_code == 200
    html = response.content.decode()
    for header in ("id", "repo", "author", "started (utc)", "ended (utc)", "duration", "active", "participants"):
        assert f">{header.capitalize()}<" in html or f">{header}<" in html.lower(), header
    mix = sessions["mix"]
    assert f">{mix.session_id[:12]}</a>" in html  # the short id links to the session
    assert "2 h 30 min" in html
    assert '<time datetime="2026-03-01T10:00:00Z" title="2026-03-01T10:00:00Z">2026-03-01 10:00</time>' in html
    assert "running" in html
    assert "testuser/live-album" in html
    assert "Alice, bob" in html
    assert 'alt="True"' in html
    assert 'alt="False"' in html
    assert listed_ids(response) == {s.pk for s in sessions.values()}


def test_filter_active_and_ended(admin_client, studio):
    _, _, sessions = studio
    active = admin_client.get(SESSIONS_URL, {"active": "yes"})
    assert listed_ids(active) == {sessions[k].pk for k in ("drums", "vocals", "secret")}
    ended = admin_client.get(SESSIONS_URL, {"active": "no"})
    assert listed_ids(ended) == {sessions["mix"].pk}


def test_filter_by_repo_visibility(admin_client, studio):
    _, _, sessions = studio
    response = admin_client.get(SESSIONS_URL, {"repo__visibility__exact": "private"})
    assert response.status_code == 200
    assert listed_ids(response) == {sessions["secret"].pk}


def test_date_hierarchy_on_started_at(admin_client, studio):
    _, _, sessions = studio
    response = admin_client.get(SESSIONS_URL, {"started_at__year": "2026", "started_at__month": "3"})
    assert response.status_code == 200
    assert listed_ids(response) == {sessions[k].pk for k in ("drums", "vocals", "secret")}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Record", {"drums"}),  # intent, case-insensitive part
        ("booth", {"vocals"}),  # location
        ("carol", {"vocals"}),  # participant
        ("bob", {"drums", "mix"}),  # participant in two sessions
        ("alice", {"drums"}),  # participant, case-insensitive
        ("nobody-here", set()),
        ("bob drums", {"drums"}),  # every word must match
    ],
)
def test_search(admin_client, studio, query, expected):
    _, _, sessions = studio
    response = admin_client.get(SESSIONS_URL, {"q": query})
    assert response.status_code == 200
    assert listed_ids(response) == {sessions[k].pk for k in expected}


def test_search_by_id_prefix(admin_client, studio):
    _, _, sessions = studio
    vocals = sessions["vocals"]
    response = admin_client.get(SESSIONS_URL, {"q": vocals.session_id[:10].upper()})
    assert listed_ids(response) == {vocals.pk}
    response = admin_client.get(SESSIONS_URL, {"q": vocals.session_id})
    assert listed_ids(response) == {vocals.pk}


def test_search_participant_with_non_ascii_name(admin_client, user):
    repo = make_repo(owner=user)
    session = make_session(repo, participants=["Zoë Keating"])
    make_session(repo, participants=["someone else"])
    response = admin_client.get(SESSIONS_URL, {"q": '"Zoë Keating"'})
    assert listed_ids(response) == {session.pk}


def test_stop_action_stops_selected_active_sessions(admin_client, studio, auth_headers):
    public, _, sessions = studio
    mix_ended_at = Session.objects.get(pk=sessions["mix"].pk).ended_at
    selected = [sessions["drums"].pk, sessions["vocals"].pk, sessions["mix"].pk]
    response = admin_client.post(
        SESSIONS_URL, {"action": "stop_selected_sessions", "_selected_action": selected}, follow=True
    )
    assert response.status_code == 200
    assert "Stopped 2 session(s)." in [str(m) for m in response.context["messages"]]

    for key in ("drums", "vocals"):
        stopped = Session.objects.get(pk=sessions[key].pk)
        assert stopped.ended_at is not None
        assert stopped.is_active is False
    assert Session.objects.get(pk=sessions["mix"].pk).ended_at == mix_ended_at  # ended ones stay as they were
    assert Session.objects.get(pk=sessions["secret"].pk).is_active  # not selected

    # The API sees them stopped.
    from rest_framework.test import APIClient

    api = APIClient()
    body = api.get(f"/api/repos/{public.pk}/sessions/{sessions['drums'].pk}", headers=auth_headers).json()
    assert body["isActive"] is False
    assert body["endedAt"] is not None

    # Running it again changes nothing.
    first_end = Session.objects.get(pk=sessions["drums"].pk).ended_at
    response = admin_client.post(
        SESSIONS_URL, {"action": "stop_selected_sessions", "_selected_action": selected}, follow=True
    )
    assert "Stopped 0 session(s)." in [str(m) for m in response.context["messages"]]
    assert Session.objects.get(pk=sessions["drums"].pk).ended_at == first_end


def test_stop_action_uses_the_api_service(admin_client, studio, monkeypatch):
    from sessions_app import services

    calls = []
    real = services.session_stop

    def spy(**kwargs):
        calls.append(kwargs["session_id"])
        return real(**kwargs)

    monkeypatch.setattr(services, "session_stop", spy)
    _, _, sessions = studio
    admin_client.post(SESSIONS_URL, {"action": "stop_selected_sessions", "_selected_action": [sessions["drums"].pk]})
    assert calls == [sessions["drums"].pk]


def _count_changelist_queries(admin_client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("params", [{}, {"active": "yes"}, {"q": "bob"}])
def test_session_list_query_count_does_not_grow_with_rows(admin_client, user, params):
    repo = make_repo(owner=user)
    for i in range(3):
        make_session(repo, participants=["bob"], author=UserFactory(username=f"player{i}"))
    few = _count_changelist_queries(admin_client, SESSIONS_URL, params)
    other = make_repo(owner=UserFactory(username="other-owner"), visibility="private")
    for i in range(30):
        make_session(other if i % 2 else repo, participants=["bob"], author=UserFactory(username=f"extra{i}"))
    many = _count_changelist_queries(admin_client, SESSIONS_URL, params)
    assert many == few
    assert many <= 10


def test_repo_list_query_count_does_not_grow_with_rows(admin_client, user):
    url = reverse("admin:repos_app_repo_changelist")
    make_repo(owner=user)
    few = _count_changelist_queries(admin_client, url)
    for i in range(20):
        make_repo(owner=UserFactory(username=f"owner{i}"))
    assert _count_changelist_queries(admin_client, url) == few


def test_session_ids_and_timestamps_are_read_only(admin_client, studio):
    _, _, sessions = studio
    drums = sessions["drums"]
    url = reverse("admin:sessions_app_session_change", args=[drums.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    form_fields = set(response.context["adminform"].form.fields)
    assert form_fields == {"intent", "location", "notes", "participants", "tags"}
    response = admin_client.post(
        url,
        {
            "intent": "Record drums, take 2",
            "location": "Room A",
            "notes": "",
            "participants": '["Alice", "bob"]',
            "session_id": "0" * 64,
            "started_at": "2020-01-01 00:00:00",
        },
    )
    assert response.status_code == 302
    saved = Session.objects.get(pk=drums.pk)
    assert saved.intent == "Record drums, take 2"
    assert saved.started_at == T0


def test_bad_participants_are_refused_with_a_form_error(admin_client, studio):
    _, _, sessions = studio
    url = reverse("admin:sessions_app_session_change", args=[sessions["drums"].pk])
    response = admin_client.post(url, {"intent": "x", "location": "", "notes": "", "participants": '{"not": "a list"}'})
    assert response.status_code == 200
    assert "Enter a JSON list" in response.content.decode()
    assert Session.objects.get(pk=sessions["drums"].pk).participants == ["Alice", "bob"]


def test_sessions_cannot_be_added_in_the_admin(admin_client, db):
    assert admin_client.get(reverse("admin:sessions_app_session_add")).status_code == 403
    assert admin_client.get(reverse("admin:repos_app_repo_add")).status_code == 403


def test_deleting_sessions_keeps_the_repo_count(admin_client, studio):
    public, _, sessions = studio
    assert Repo.objects.get(pk=public.pk).session_count == 3
    response = admin_client.post(
        SESSIONS_URL,
        {"action": "delete_selected", "_selected_action": [sessions["mix"].pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Session.objects.filter(pk=sessions["mix"].pk).exists()
    assert Repo.objects.get(pk=public.pk).session_count == 2


def test_repo_list_and_sessions_link(admin_client, studio):
    public, private, sessions = studio
    response = admin_client.get(reverse("admin:repos_app_repo_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Live Album" in html
    assert "Secret Demos" in html
    assert "testuser" in html
    assert "private" in html
    assert "public" in html
    link = reverse("admin:sessions_app_session_changelist") + f"?repo__exact={public.pk}"
    assert f'href="{link}">3 session(s)</a>' in html
    listed = admin_client.get(link)
    assert listed.status_code == 200
    assert listed_ids(listed) == {sessions[k].pk for k in ("drums", "vocals", "mix")}

    filtered = admin_client.get(reverse("admin:repos_app_repo_changelist"), {"visibility__exact": "private"})
    assert [r.pk for r in filtered.context["cl"].result_list] == [private.pk]


def test_repo_page_shows_collaborators_and_sessions_link(admin_client, studio):
    public, _, _ = studio
    share(public, UserFactory(username="erin"), "write")
    share(public, UserFactory(username="frank"), "read")
    response = admin_client.get(reverse("admin:repos_app_repo_change", args=[public.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Collaborators" in html
    inline = response.context["inline_admin_formsets"][0].formset
    assert sorted((f.instance.user.username, f.instance.permission) for f in inline.forms) == [
        ("erin", "write"),
        ("frank", "read"),
    ]
    assert f"?repo__exact={public.pk}" in html


def _repo_form(repo, collaborators, initial=0):
    data = {
        "name": repo.name,
        "visibility": repo.visibility,
        "description": repo.description,
        "collaborators-TOTAL_FORMS": str(len(collaborators)),
        "collaborators-INITIAL_FORMS": str(initial),
        "collaborators-MIN_NUM_FORMS": "0",
        "collaborators-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(collaborators):
        for key, value in row.items():
            data[f"collaborators-{i}-{key}"] = value
    return data


def test_collaborators_are_added_changed_and_removed_in_the_repo_page(admin_client, studio):
    public, _, _ = studio
    url = reverse("admin:repos_app_repo_change", args=[public.pk])
    erin = UserFactory(username="erin")
    response = admin_client.post(url, _repo_form(public, [{"user": erin.pk, "permission": "read", "repo": public.pk}]))
    assert response.status_code == 302, response.content.decode()[:2000]
    grant = Collaborator.objects.get(repo=public)
    assert (grant.user.username, grant.permission) == ("erin", "read")

    row = {"id": grant.pk, "user": erin.pk, "permission": "write", "repo": public.pk}
    assert admin_client.post(url, _repo_form(public, [row], initial=1)).status_code == 302
    assert Collaborator.objects.get(repo=public).permission == "write"

    row["DELETE"] = "on"
    assert admin_client.post(url, _repo_form(public, [row], initial=1)).status_code == 302
    assert not Collaborator.objects.filter(repo=public).exists()


def test_owner_cannot_be_made_a_collaborator(admin_client, studio, user):
    public, _, _ = studio
    url = reverse("admin:repos_app_repo_change", args=[public.pk])
    response = admin_client.post(url, _repo_form(public, [{"user": user.pk, "permission": "read", "repo": public.pk}]))
    assert response.status_code == 200
    assert "The owner already has every permission" in response.content.decode()
    assert not Collaborator.objects.exists()


def test_repo_rename_goes_through_the_service(admin_client, studio):
    public, private, _ = studio
    url = reverse("admin:repos_app_repo_change", args=[public.pk])
    data = _repo_form(public, [])
    data["name"] = "Live Album Deluxe"
    assert admin_client.post(url, data).status_code == 302
    renamed = Repo.objects.get(pk=public.pk)
    assert (renamed.name, renamed.slug) == ("Live Album Deluxe", "live-album-deluxe")
    assert renamed.updated_at > renamed.created_at

    data["name"] = private.name  # the owner already has that slug
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "already has a repo with the slug" in response.content.decode()


def test_view_only_staff_can_browse_but_not_stop(client, studio):
    from django.contrib.auth.models import Permission

    _, _, sessions = studio
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_session", content_type__app_label="sessions_app"))
    client.force_login(viewer)
    response = client.get(SESSIONS_URL)
    assert response.status_code == 200
    assert "stop_selected_sessions" not in response.content.decode()
    client.post(SESSIONS_URL, {"action": "stop_selected_sessions", "_selected_action": [sessions["drums"].pk]})
    assert Session.objects.get(pk=sessions["drums"].pk).is_active


def test_deleting_a_repo_summarises_and_removes_its_sessions(admin_client, studio):
    public, private, _ = studio
    share(public, UserFactory(username="erin"), "read")
    url = reverse("admin:repos_app_repo_delete", args=[public.pk])
    with CaptureQueriesContext(connection) as ctx:
        confirm = admin_client.get(url)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "testuser/live-album (3 session(s), with its collaborators)" in html
    assert "Recording sessions: 3" in html
    assert "Collaborators: 1" in html
    assert len(ctx.captured_queries) <= 10

    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Repo.objects.filter(pk=public.pk).exists()
    assert not Session.objects.filter(repo_id=public.pk).exists()
    assert not Collaborator.objects.filter(repo_id=public.pk).exists()
    assert Session.objects.filter(repo=private).count() == 1


def test_deleting_many_sessions_confirms_with_a_bounded_page(admin_client, user, monkeypatch):
    monkeypatch.setattr("sessions_app.admin.DELETE_LISTED", 2)
    repo = make_repo(owner=user)
    ids = [make_session(repo).pk for _ in range(5)]
    confirm = admin_client.post(SESSIONS_URL, {"action": "delete_selected", "_selected_action": ids})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "… and 3 more" in html
    assert "Recording sessions: 5" in html
    admin_client.post(SESSIONS_URL, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert Repo.objects.get(pk=repo.pk).session_count == 0
    assert not Session.objects.exists()


def test_a_hex_word_searches_ids_only(admin_client, studio):
    _, _, sessions = studio
    drums = sessions["drums"]
    Session.objects.filter(pk=sessions["vocals"].pk).update(intent=f"redo {drums.session_id[:8]}")
    response = admin_client.get(SESSIONS_URL, {"q": drums.session_id[:8]})
    assert listed_ids(response) == {drums.pk}
    # A shorter hex word is also looked for in the text.
    response = admin_client.get(SESSIONS_URL, {"q": drums.session_id[:7]})
    assert drums.pk in listed_ids(response)
    assert sessions["vocals"].pk in listed_ids(response)


def test_unfiltered_list_is_counted_from_the_repos_kept_counts(admin_client, studio):
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(SESSIONS_URL)
    assert response.context["cl"].result_count == 4
    assert "4 recording sessions" in response.content.decode()
    assert not [q for q in ctx.captured_queries if "COUNT(*)" in q["sql"] and "sessions_app_session" in q["sql"]]
    # Filtered, it counts the matching sessions.
    assert admin_client.get(SESSIONS_URL, {"active": "no"}).context["cl"].result_count == 1
