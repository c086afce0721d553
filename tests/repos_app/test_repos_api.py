"""Repo and collaborator routes of SPEC "Routes", as a client sees them."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import pytest

from repos_app.models import Collaborator, Repo
from sessions_app.models import Session
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
REPO_FIELDS = {
    "repoId",
    "name",
    "slug",
    "owner",
    "visibility",
    "description",
    "createdAt",
    "updatedAt",
    "sessionCount",
}


@pytest.fixture
def reader(db):
    return UserFactory(username="reader")


@pytest.fixture
def reader_headers(reader) -> dict[str, str]:
    return auth_header(make_token(reader))


@pytest.fixture
def writer(db):
    return UserFactory(username="writer")


@pytest.fixture
def writer_headers(writer) -> dict[str, str]:
    return auth_header(make_token(writer))


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def _create(client, headers, **body):
    return client.post("/api/repos", body, format="json", headers=headers)


# ── create ────────────────────────────────────────────────────────────────────
class TestCreateRepo:
    def test_create_returns_201_with_the_repo(self, client, auth_headers) -> None:
        response = _create(client, auth_headers, name="Night Drive", visibility="public", description="synths")

        assert response.status_code == 201
        body = response.json()
        assert set(body) == REPO_FIELDS
        assert body["name"] == "Night Drive"
        assert body["slug"] == "night-drive"
        assert body["owner"] == "testuser"
        assert body["visibility"] == "public"
        assert body["description"] == "synths"
        assert body["sessionCount"] == 0
        assert re.fullmatch(r"[0-9a-f]{64}", body["repoId"])
        assert TIMESTAMP.match(body["createdAt"])
        assert body["createdAt"] == body["updatedAt"]
        assert Repo.objects.filter(pk=body["repoId"], owner__username="testuser").exists()

    def test_slug_is_derived_from_the_name(self, client, auth_headers) -> None:
        response = _create(client, auth_headers, name="  Ballads & B-Sides, Vol. 2!  ")

        assert response.status_code == 201
        assert response.json()["slug"] == "ballads-b-sides-vol-2"

    def test_a_name_in_another_script_keeps_its_letters_in_the_slug(self, client, auth_headers) -> None:
        response = _create(client, auth_headers, name="夜のドライブ 2")

        assert response.status_code == 201
        assert response.json()["slug"] == "夜のドライブ-2"
        assert (
            client.get(f"/api/repos/{response.json()['repoId']}", headers=auth_headers).json()["name"]
            == "夜のドライブ 2"
        )

    def test_visibility_defaults_to_private(self, client, auth_headers) -> None:
        response = _create(client, auth_headers, name="Demo")

        assert response.status_code == 201
        assert response.json()["visibility"] == "private"
        assert response.json()["description"] == ""

    def test_same_slug_for_the_same_owner_is_409(self, client, auth_headers) -> None:
        assert _create(client, auth_headers, name="Night Drive").status_code == 201

        response = _create(client, auth_headers, name="night  drive")

        assert response.status_code == 409
        assert "night-drive" in response.json()["detail"]
        assert Repo.objects.filter(slug="night-drive").count() == 1

    def test_same_slug_for_another_owner_is_fine(self, client, auth_headers, outsider_headers) -> None:
        first = _create(client, auth_headers, name="Night Drive")
        second = _create(client, outsider_headers, name="Night Drive")

        assert first.status_code == second.status_code == 201
        assert first.json()["repoId"] != second.json()["repoId"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "x", "visibility": "secret"}, "visibility"),
            ({"name": "x", "visibility": None}, "visibility"),
            ({"name": "a" * 101}, "name"),
            ({"name": ""}, "name"),
            ({"name": "!!!"}, "name"),
            ({"name": 42}, "name"),
            ({"name": "bad\x00name"}, "name"),
            ({}, "name"),
            ({"name": "x", "description": "d" * 10_001}, "description"),
        ],
    )
    def test_invalid_body_is_422_naming_the_field(self, client, auth_headers, body, field) -> None:
        response = _create(client, auth_headers, **body)

        assert response.status_code == 422
        assert field in response.json()["errors"]
        assert not Repo.objects.exists()

    def test_name_of_100_characters_is_accepted(self, client, auth_headers) -> None:
        response = _create(client, auth_headers, name="a" * 100)

        assert response.status_code == 201
        assert response.json()["slug"] == "a" * 100

    def test_anonymous_create_is_401(self, client, db) -> None:
        response = _create(client, {}, name="Night Drive")

        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers
        assert not Repo.objects.exists()


# ── list ──────────────────────────────────────────────────────────────────────
class TestListRepos:
    def test_lists_own_shared_and_public_newest_first(self, client, user, outsider, outsider_headers) -> None:
        mine_private = make_repo(owner=outsider, visibility="private", name="Mine")
        shared = make_repo(owner=user, visibility="private", name="Shared With Me")
        share(shared, outsider, "read")
        public = make_repo(owner=user, visibility="public", name="Public")
        make_repo(owner=user, visibility="private", name="Not Shared")

        response = client.get("/api/repos", headers=outsider_headers)

        assert response.status_code == 200
        body = response.json()
        assert [repo["repoId"] for repo in body["repos"]] == [public.pk, shared.pk, mine_private.pk]
        assert body["total"] == 3
        assert body["nextCursor"] is None
        assert "Link" not in response.headers
        assert all(set(repo) == REPO_FIELDS for repo in body["repos"])

    def test_a_public_repo_shared_with_me_is_listed_once(self, client, user, outsider, outsider_headers) -> None:
        repo = make_repo(owner=user, visibility="public", name="Both")
        share(repo, outsider, "write")

        body = client.get("/api/repos", headers=outsider_headers).json()

        assert [listed["repoId"] for listed in body["repos"]] == [repo.pk]
        assert body["total"] == 1

    def test_anonymous_sees_only_public_repos(self, client, user) -> None:
        public = make_repo(owner=user, visibility="public", name="Public")
        make_repo(owner=user, visibility="private", name="Private")

        response = client.get("/api/repos")

        assert response.status_code == 200
        assert [repo["repoId"] for repo in response.json()["repos"]] == [public.pk]
        assert response.json()["total"] == 1

    def test_owner_filter_narrows_the_list(self, client, user, outsider, auth_headers) -> None:
        own = make_repo(owner=user, visibility="private", name="Own")
        theirs = make_repo(owner=outsider, visibility="public", name="Theirs")

        mine = client.get("/api/repos?owner=testuser", headers=auth_headers).json()
        others = client.get("/api/repos?owner=outsider", headers=auth_headers).json()
        nobody = client.get("/api/repos?owner=nobody", headers=auth_headers).json()

        assert [repo["repoId"] for repo in mine["repos"]] == [own.pk]
        assert [repo["repoId"] for repo in others["repos"]] == [theirs.pk]
        assert nobody == {"repos": [], "total": 0, "nextCursor": None}

    def test_cursor_pagination_walks_every_repo_once(self, client, user, auth_headers) -> None:
        repos = [make_repo(owner=user, visibility="private", name=f"Repo {n}") for n in range(5)]
        expected = [repo.pk for repo in reversed(repos)]

        seen, url, pages = [], "/api/repos?limit=2", 0
        while url:
            response = client.get(url, headers=auth_headers)
            assert response.status_code == 200
            body = response.json()
            assert body["total"] == 5
            seen += [repo["repoId"] for repo in body["repos"]]
            pages += 1
            if body["nextCursor"]:
                link = response.headers["Link"]
                assert link.endswith('>; rel="next"')
                assert f"cursor={body['nextCursor']}" in link
                assert "limit=2" in link
                url = f"/api/repos?limit=2&cursor={body['nextCursor']}"
            else:
                assert "Link" not in response.headers
                url = None

        assert pages == 3
        assert seen == expected

    @pytest.mark.parametrize("caller", ["alice", "bob", "carol", None])
    @pytest.mark.parametrize("owner", [None, "alice", "bob"])
    def test_total_counts_each_readable_repo_once(self, client, caller, owner) -> None:
        """``total`` of a partial page is counted apart from the page; it must agree with it."""
        users = {name: UserFactory(username=name) for name in ("alice", "bob", "carol")}
        grants = {}  # repo id -> (owner, visibility, the user it is shared with)
        for who, others in (("alice", ("bob", "carol")), ("bob", ("alice", "carol"))):
            for visibility in ("public", "private"):
                for grantee in (None, *others):
                    repo = make_repo(owner=users[who], visibility=visibility, name=f"{visibility} {grantee}")
                    if grantee:
                        share(repo, users[grantee], "read")
                    grants[repo.pk] = (who, visibility, grantee)
        # The API refuses to share a repo with its owner, but a row saying so (the admin, a
        # race) must not count the repo twice.
        share(Repo.objects.get(owner=users["alice"], slug="private-none"), users["alice"], "write")
        expected = {
            pk
            for pk, (who, visibility, grantee) in grants.items()
            if (visibility == "public" or (caller and caller in (who, grantee))) and owner in (None, who)
        }
        headers = auth_header(make_token(users[caller])) if caller else {}
        query = f"&owner={owner}" if owner else ""

        seen, totals, url = [], set(), f"/api/repos?limit=1{query}"
        while url:
            body = client.get(url, headers=headers).json()
            seen += [repo["repoId"] for repo in body["repos"]]
            totals.add(body["total"])
            url = f"/api/repos?limit=1{query}&cursor={body['nextCursor']}" if body["nextCursor"] else None

        assert sorted(seen) == sorted(expected)
        assert totals == {len(expected)}

    @pytest.mark.parametrize(
        ("query", "field"),
        [("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("cursor=garbage!", "cursor")],
    )
    def test_bad_query_is_422(self, client, db, query, field) -> None:
        response = client.get(f"/api/repos?{query}")

        assert response.status_code == 422
        assert field in response.json()["errors"]


# ── get, patch, delete ────────────────────────────────────────────────────────
class TestRepoDetail:
    def test_get_returns_the_repo(self, client, repo) -> None:
        response = client.get(f"/api/repos/{repo.pk}")

        assert response.status_code == 200
        body = response.json()
        assert set(body) == REPO_FIELDS
        assert body["repoId"] == repo.pk
        assert body["owner"] == "testuser"
        assert body["slug"] == repo.slug

    def test_get_unknown_repo_is_404(self, client, db) -> None:
        assert client.get(f"/api/repos/{secrets.token_hex(32)}").status_code == 404

    def test_session_count_follows_creates_and_deletes(self, client, repo, auth_headers) -> None:
        url = f"/api/repos/{repo.pk}/sessions"
        ids = [client.post(url, {}, format="json", headers=auth_headers).json()["sessionId"] for _ in range(3)]
        client.delete(f"{url}/{ids[0]}", headers=auth_headers)

        assert client.get(f"/api/repos/{repo.pk}").json()["sessionCount"] == 2
        assert client.get("/api/repos").json()["repos"][0]["sessionCount"] == 2

    def test_patch_changes_name_slug_description_and_visibility(self, client, repo, auth_headers) -> None:
        before = client.get(f"/api/repos/{repo.pk}").json()

        response = client.patch(
            f"/api/repos/{repo.pk}",
            {"name": "Renamed Album", "description": "now with strings", "visibility": "private"},
            format="json",
            headers=auth_headers,
        )

        assert response.status_code == 200
        body = response.json()
        assert body["name"] == "Renamed Album"
        assert body["slug"] == "renamed-album"
        assert body["description"] == "now with strings"
        assert body["visibility"] == "private"
        assert body["repoId"] == repo.pk  # the id never changes
        assert body["createdAt"] == before["createdAt"]
        assert _parse(body["updatedAt"]) > _parse(before["updatedAt"])
        assert client.get(f"/api/repos/{repo.pk}").status_code == 401  # private now

    def test_patch_with_only_a_description_keeps_the_rest(self, client, repo, auth_headers) -> None:
        response = client.patch(f"/api/repos/{repo.pk}", {"description": "d"}, format="json", headers=auth_headers)

        assert response.status_code == 200
        assert response.json()["name"] == repo.name
        assert response.json()["visibility"] == "public"

    def test_patch_to_a_taken_slug_is_409(self, client, user, repo, auth_headers) -> None:
        make_repo(owner=user, name="Taken")

        response = client.patch(f"/api/repos/{repo.pk}", {"name": "taken"}, format="json", headers=auth_headers)

        assert response.status_code == 409
        assert Repo.objects.get(pk=repo.pk).name == repo.name

    @pytest.mark.parametrize(
        ("body", "field"),
        [({"visibility": "internal"}, "visibility"), ({"name": "n" * 101}, "name"), ({"name": None}, "name")],
    )
    def test_patch_invalid_is_422(self, client, repo, auth_headers, body, field) -> None:
        response = client.patch(f"/api/repos/{repo.pk}", body, format="json", headers=auth_headers)

        assert response.status_code == 422
        assert field in response.json()["errors"]
        assert Repo.objects.get(pk=repo.pk).visibility == "public"

    def test_delete_removes_the_repo_its_sessions_and_collaborators(
        self, client, user, repo, outsider, auth_headers
    ) -> None:
        other = make_repo(owner=user, name="Keep Me")
        kept = make_session(other)
        make_session(repo)
        make_session(repo)
        share(repo, outsider, "read")

        response = client.delete(f"/api/repos/{repo.pk}", headers=auth_headers)

        assert response.status_code == 204
        assert response.content == b""
        assert client.get(f"/api/repos/{repo.pk}").status_code == 404
        assert client.get(f"/api/repos/{repo.pk}/sessions").status_code == 404
        assert not Session.objects.filter(repo_id=repo.pk).exists()
        assert not Collaborator.objects.filter(repo_id=repo.pk).exists()
        assert list(Session.objects.values_list("pk", flat=True)) == [kept.pk]
        assert Repo.objects.get(pk=other.pk).session_count == 1


# ── collaborators ─────────────────────────────────────────────────────────────
class TestCollaborators:
    def _url(self, repo, username: str = "") -> str:
        base = f"/api/repos/{repo.pk}/collaborators"
        return f"{base}/{username}" if username else base

    def test_list_shape_sorted_by_username(self, client, private_repo, reader, writer, reader_headers) -> None:
        share(private_repo, writer, "write")
        share(private_repo, reader, "read")

        response = client.get(self._url(private_repo), headers=reader_headers)

        assert response.status_code == 200
        assert response.json() == {
            "collaborators": [
                {"username": "reader", "permission": "read"},
                {"username": "writer", "permission": "write"},
            ]
        }

    def test_list_is_empty_for_an_unshared_repo(self, client, private_repo, auth_headers) -> None:
        assert client.get(self._url(private_repo), headers=auth_headers).json() == {"collaborators": []}

    def test_put_adds_201_then_changes_200(self, client, private_repo, reader, auth_headers) -> None:
        added = client.put(
            self._url(private_repo, "reader"), {"permission": "read"}, format="json", headers=auth_headers
        )
        changed = client.put(
            self._url(private_repo, "reader"), {"permission": "write"}, format="json", headers=auth_headers
        )
        same = client.put(
            self._url(private_repo, "reader"), {"permission": "write"}, format="json", headers=auth_headers
        )

        assert added.status_code == 201
        assert added.json() == {"username": "reader", "permission": "read"}
        assert changed.status_code == 200
        assert changed.json() == {"username": "reader", "permission": "write"}
        assert same.status_code == 200
        assert list(Collaborator.objects.values_list("user__username", "permission")) == [("reader", "write")]

    def test_put_unknown_user_is_404(self, client, private_repo, auth_headers) -> None:
        response = client.put(
            self._url(private_repo, "ghost"), {"permission": "read"}, format="json", headers=auth_headers
        )

        assert response.status_code == 404
        assert not Collaborator.objects.exists()

    @pytest.mark.parametrize("username", ["a%00b", "x" * 151])
    def test_a_username_no_user_can_have_is_404(self, client, private_repo, auth_headers, username) -> None:
        url = self._url(private_repo, username)

        assert client.put(url, {"permission": "read"}, format="json", headers=auth_headers).status_code == 404
        assert client.delete(url, headers=auth_headers).status_code == 404
        assert not Collaborator.objects.exists()

    def test_put_the_owner_is_422(self, client, private_repo, auth_headers) -> None:
        response = client.put(
            self._url(private_repo, "testuser"), {"permission": "read"}, format="json", headers=auth_headers
        )

        assert response.status_code == 422
        assert "username" in response.json()["errors"]
        assert not Collaborator.objects.exists()

    @pytest.mark.parametrize("body", [{"permission": "admin"}, {"permission": None}, {"permission": 1}, {}])
    def test_put_bad_permission_is_422(self, client, private_repo, reader, auth_headers, body) -> None:
        response = client.put(self._url(private_repo, "reader"), body, format="json", headers=auth_headers)

        assert response.status_code == 422
        assert "permission" in response.json()["errors"]
        assert not Collaborator.objects.exists()

    def test_delete_revokes_204(self, client, private_repo, reader, auth_headers) -> None:
        share(private_repo, reader, "read")

        response = client.delete(self._url(private_repo, "reader"), headers=auth_headers)

        assert response.status_code == 204
        assert not Collaborator.objects.exists()
        assert client.get(self._url(private_repo), headers=auth_headers).json() == {"collaborators": []}

    def test_delete_someone_not_sharing_is_404(self, client, private_repo, reader, auth_headers) -> None:
        assert client.delete(self._url(private_repo, "reader"), headers=auth_headers).status_code == 404
        assert client.delete(self._url(private_repo, "ghost"), headers=auth_headers).status_code == 404

    def test_sharing_and_revoking_take_effect_on_the_next_request(
        self, client, private_repo, reader, reader_headers, auth_headers
    ) -> None:
        repo_url = f"/api/repos/{private_repo.pk}"
        assert client.get(repo_url, headers=reader_headers).status_code == 404

        client.put(self._url(private_repo, "reader"), {"permission": "read"}, format="json", headers=auth_headers)
        assert client.get(repo_url, headers=reader_headers).status_code == 200
        assert client.post(f"{repo_url}/sessions", {}, format="json", headers=reader_headers).status_code == 403

        client.put(self._url(private_repo, "reader"), {"permission": "write"}, format="json", headers=auth_headers)
        assert client.post(f"{repo_url}/sessions", {}, format="json", headers=reader_headers).status_code == 201

        client.delete(self._url(private_repo, "reader"), headers=auth_headers)
        assert client.get(repo_url, headers=reader_headers).status_code == 404
        assert client.get(f"{repo_url}/sessions", headers=reader_headers).status_code == 404
        listed = client.get("/api/repos", headers=reader_headers).json()
        assert listed == {"repos": [], "total": 0, "nextCursor": None}


# ── input no client should be able to turn into a 500 ────────────────────────
@pytest.mark.parametrize(
    ("method", "path", "raw", "field"),
    [
        ("post", "/api/repos", r'{"name": "x", "visibility": "\ud800"}', "visibility"),
        ("post", "/api/repos", r'{"name": "a\ud800b"}', "name"),
        ("patch", "/api/repos/{repo_id}", r'{"visibility": "\udfff"}', "visibility"),
        ("put", "/api/repos/{repo_id}/collaborators/outsider", r'{"permission": "\ud800"}', "permission"),
        ("put", "/api/repos/{repo_id}/collaborators/outsider", r'{"permission": ["read"]}', "permission"),
    ],
)
def test_a_lone_surrogate_or_wrong_type_is_422(client, repo, outsider, auth_headers, method, path, raw, field) -> None:
    """JSON allows "\\ud800"; echoed back in an error it could not even be encoded."""
    response = getattr(client, method)(
        path.format(repo_id=repo.pk), raw, content_type="application/json", headers=auth_headers
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert Repo.objects.count() == 1
    assert not Collaborator.objects.exists()
