"""SPEC "Permissions", walked route by route, role by role, on a public and a private repo.

Each case sends one request as one role and asserts the status code the SPEC table gives.
Every refused request (4xx) must leave the database exactly as it was; every accepted write
must change it (so the snapshot comparison is known to see changes).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repos_app import permissions
from repos_app.models import Collaborator, Repo
from sessions_app import selectors
from sessions_app.models import Session
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token, share

pytestmark = pytest.mark.django_db

ROLES = ("owner", "write", "read", "outsider", "anonymous", "bad_token")
OK = "ok"  # the route's own success status

# SPEC "Permissions": one row per kind of route and visibility, one column per role.
#                                 owner  write  read  outsider  anonymous  bad_token
TABLE: dict[tuple[str, str], tuple] = {
    ("read", "public"): (OK, OK, OK, OK, OK, 401),
    ("read", "private"): (OK, OK, OK, 404, 401, 401),
    ("write", "public"): (OK, OK, 403, 403, 401, 401),
    ("write", "private"): (OK, OK, 403, 404, 401, 401),
    # The collaborator list: "for the owner and collaborators".
    ("members", "public"): (OK, OK, OK, 403, 401, 401),
    ("members", "private"): (OK, OK, OK, 404, 401, 401),
    # Changing the repo and managing collaborators: owner only.
    ("owner", "public"): (OK, 403, 403, 403, 401, 401),
    ("owner", "private"): (OK, 403, 403, 404, 401, 401),
}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # formatted by World.url()
    kind: str
    success: int
    body: dict | None = None


NEW_COMMIT = "c" * 64

ROUTES = (
    Route("session-list", "get", "/api/repos/{repo_id}/sessions", "read", 200),
    Route("session-get", "get", "/api/repos/{repo_id}/sessions/{session_id}", "read", 200),
    Route("session-create", "post", "/api/repos/{repo_id}/sessions", "write", 201, {"intent": "overdubs"}),
    Route("session-stop", "post", "/api/repos/{repo_id}/sessions/{session_id}/stop", "write", 200, {}),
    Route("session-patch", "patch", "/api/repos/{repo_id}/sessions/{session_id}", "write", 200, {"notes": "new"}),
    Route("session-delete", "delete", "/api/repos/{repo_id}/sessions/{session_id}", "write", 204),
    Route(
        "session-commits",
        "post",
        "/api/repos/{repo_id}/sessions/{session_id}/commits",
        "write",
        200,
        {"commits": [NEW_COMMIT]},
    ),
    Route("repo-get", "get", "/api/repos/{repo_id}", "read", 200),
    Route("repo-patch", "patch", "/api/repos/{repo_id}", "owner", 200, {"description": "changed"}),
    Route("repo-delete", "delete", "/api/repos/{repo_id}", "owner", 204),
    Route("collaborator-list", "get", "/api/repos/{repo_id}/collaborators", "members", 200),
    Route(
        "collaborator-add",
        "put",
        "/api/repos/{repo_id}/collaborators/{newcomer}",
        "owner",
        201,
        {"permission": "write"},
    ),
    Route(
        "collaborator-change",
        "put",
        "/api/repos/{repo_id}/collaborators/{reader}",
        "owner",
        200,
        {"permission": "write"},
    ),
    Route("collaborator-remove", "delete", "/api/repos/{repo_id}/collaborators/{reader}", "owner", 204),
)


@dataclass
class World:
    repo: Repo
    session: Session
    headers: dict[str, dict[str, str]]

    def url(self, route: Route, repo_id: str | None = None) -> str:
        return route.path.format(
            repo_id=repo_id or self.repo.pk,
            session_id=self.session.pk,
            newcomer="newcomer",
            reader="reader",
        )


def _world(visibility: str) -> World:
    owner = UserFactory(username="owner")
    writer = UserFactory(username="writer")
    reader = UserFactory(username="reader")
    outsider = UserFactory(username="outsider")
    UserFactory(username="newcomer")
    repo = make_repo(owner=owner, visibility=visibility, name="Secret Album Sessions")
    share(repo, writer, "write")
    share(repo, reader, "read")
    session = make_session(repo, participants=["alice"])
    headers = {
        "owner": auth_header(make_token(owner)),
        "write": auth_header(make_token(writer)),
        "read": auth_header(make_token(reader)),
        "outsider": auth_header(make_token(outsider)),
        "anonymous": {},
        "bad_token": auth_header(secrets.token_hex(32)),  # well-formed, never issued
    }
    return World(repo=repo, session=session, headers=headers)


def snapshot() -> tuple[list, list, list]:
    """Every row the API can change, with every column."""
    return (
        list(Repo.objects.order_by("pk").values()),
        list(Session.objects.order_by("pk").values()),
        list(Collaborator.objects.order_by("pk").values()),
    )


@pytest.fixture
def permission_queries(monkeypatch) -> list[int]:
    """Queries spent reading the repo and the caller's role: ``repo_get`` (``get_repo()``),
    or on the routes of one session ``repo_and_session_get``, whose one statement reads the
    session too."""
    spent: list[int] = []

    def counting(read):
        def counted(**kwargs):
            with CaptureQueriesContext(connection) as ctx:
                try:
                    return read(**kwargs)
                finally:
                    spent.append(len(ctx.captured_queries))

        return counted

    monkeypatch.setattr(permissions, "repo_get", counting(permissions.repo_get))
    monkeypatch.setattr(selectors, "repo_and_session_get", counting(selectors.repo_and_session_get))
    return spent


def _send(client, route: Route, url: str, headers: dict[str, str]):
    send = getattr(client, route.method)
    if route.body is None:
        return send(url, headers=headers)
    return send(url, route.body, format="json", headers=headers)


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_permission_table(client, permission_queries, route: Route, role: str, visibility: str) -> None:
    world = _world(visibility)
    expected = TABLE[(route.kind, visibility)][ROLES.index(role)]
    expected = route.success if expected == OK else expected
    before = snapshot()

    response = _send(client, route, world.url(route), world.headers[role])

    assert response.status_code == expected, response.content
    after = snapshot()
    if expected >= 400:
        assert after == before, "a refused request changed the database"
        assert "detail" in response.json()
    elif route.method == "get":
        assert after == before, "a read changed the database"
    else:
        assert after != before, "an accepted write changed nothing"
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The permission check costs one query per request, none when the request is refused
    # before the repo is looked up (a bad token; anonymous on a route that needs a user).
    # A create's insert checks the caller's right itself: the repo is read only to say why
    # it refused.
    refused_early = role == "bad_token" or (role == "anonymous" and route.kind != "read")
    checked_by_the_write = route.name == "session-create" and expected < 400
    assert sum(permission_queries) == (0 if refused_early or checked_by_the_write else 1)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_outsider_404_on_private_repo_is_the_same_as_for_no_repo(client, route: Route) -> None:
    """The 404 an outsider gets says nothing a 404 for a repo that does not exist would not."""
    world = _world("private")
    missing_repo_id = secrets.token_hex(32)

    hidden = _send(client, route, world.url(route), world.headers["outsider"])
    missing = _send(client, route, world.url(route, repo_id=missing_repo_id), world.headers["outsider"])

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    text = hidden.content.decode()
    for secret in (world.repo.pk, world.repo.name, world.repo.slug, world.session.pk, "owner"):
        assert secret not in text


@pytest.mark.parametrize("role", ROLES)
def test_repo_list_by_role(client, role: str) -> None:
    world = _world("private")
    public = make_repo(owner=world.repo.owner, visibility="public", name="Released")
    before = snapshot()

    response = client.get("/api/repos", headers=world.headers[role])

    assert snapshot() == before
    if role == "bad_token":
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        return
    assert response.status_code == 200
    listed = {repo["repoId"] for repo in response.json()["repos"]}
    if role in ("owner", "write", "read"):
        assert listed == {public.pk, world.repo.pk}
    else:
        assert listed == {public.pk}
    assert response.json()["total"] == len(listed)


@pytest.mark.parametrize("role", ROLES)
def test_repo_create_by_role(client, role: str) -> None:
    world = _world("private")
    before = snapshot()

    response = client.post("/api/repos", {"name": "Fresh Ideas"}, format="json", headers=world.headers[role])

    if role in ("anonymous", "bad_token"):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert snapshot() == before
    else:
        assert response.status_code == 201
        assert Repo.objects.filter(slug="fresh-ideas", owner__username=response.json()["owner"]).exists()


@pytest.mark.parametrize("role", ["outsider", "anonymous"])
def test_private_repos_never_listed_for_outsider_or_anonymous(client, role: str) -> None:
    world = _world("private")
    make_repo(owner=world.repo.owner, visibility="private", name="Another Secret")
    headers = world.headers[role]

    for query in ("", "?owner=owner", "?limit=1", "?owner=owner&limit=1"):
        response = client.get(f"/api/repos{query}", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"repos": [], "total": 0, "nextCursor": None}
        text = response.content.decode()
        assert world.repo.pk not in text
        assert "Secret" not in text


SESSION_ROUTES = [route for route in ROUTES if "{session_id}" in route.path]


@pytest.mark.parametrize("route", SESSION_ROUTES, ids=lambda r: r.name)
def test_a_session_under_another_repos_url_is_404(client, route: Route) -> None:
    """Sessions are scoped to their repo, even for a caller who owns both repos."""
    world = _world("public")
    other = make_repo(owner=world.repo.owner, visibility="public", name="Other")
    before = snapshot()

    response = _send(client, route, world.url(route, repo_id=other.pk), world.headers["owner"])

    assert response.status_code == 404
    assert snapshot() == before


def _revoked_token_header() -> dict[str, str]:
    user = UserFactory(username="leaver")
    token = make_token(user)
    user.auth_token_set.all().delete()
    return auth_header(token)


BAD_CREDENTIALS = {
    "unknown": lambda: auth_header(secrets.token_hex(32)),
    "revoked": _revoked_token_header,
    "malformed": lambda: {"Authorization": "Bearer not-a-token"},
    "empty": lambda: {"Authorization": "Bearer"},
    "token-scheme": lambda: {"Authorization": f"Token {secrets.token_hex(32)}"},
}


@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
@pytest.mark.parametrize("path", ["/api/repos", "/api/repos/{repo_id}", "/api/repos/{repo_id}/sessions"])
def test_bad_credentials_are_401_even_on_public_reads(client, kind: str, path: str) -> None:
    world = _world("public")

    response = client.get(path.format(repo_id=world.repo.pk), headers=BAD_CREDENTIALS[kind]())

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", sorted({route.path for route in ROUTES}))
def test_options_never_fails_nor_leaks_a_private_repo(client, role: str, path: str) -> None:
    """OPTIONS is not in SPEC, but DRF answers it: it must never be a 500, change anything,
    or tell an outsider more about a private repo than about a repo that does not exist."""
    world = _world("private")
    route = Route("options", "options", path, "read", 200)
    before = snapshot()

    hidden = client.options(world.url(route), headers=world.headers[role])
    missing = client.options(world.url(route, repo_id=secrets.token_hex(32)), headers=world.headers[role])

    assert hidden.status_code < 500
    assert snapshot() == before
    if role not in ("owner", "write", "read"):
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
        assert world.repo.pk not in hidden.content.decode()
