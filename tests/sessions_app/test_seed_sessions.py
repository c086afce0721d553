"""Section 30 — Sessions: the seed's 7-layer suite, ported to Django + DRF.

Every test of ``shared/seed/000_860aedbcaee49fd6.txt`` is here under its own name, in its
own layer class, with every assertion kept. What changed in the port:
- the seed's pydantic models (SessionCreate, SessionStop, SessionResponse) are the DRF
  serializers (SessionCreateSerializer, SessionStopSerializer, SessionSerializer);
- ``musehub_repository.*`` and ``musehub_sessions.*`` are ``sessions_app.selectors`` (reads)
  and ``sessions_app.services`` (writes): keyword arguments, sessions come back as rows
  (``session_body`` renders them) and not-found raises ``NotFoundError``;
- the request serializers hold what the client sent; the defaults a create applies are
  ``sessions_app.fields.create_values``;
- ``_db_repo``/``_db_session`` create rows through the services (``tests.factories``),
  so the repo's kept session count is exact, as it is for every session the API creates;
- ``client.post(url, json=..., headers=...)`` is DRF's APIClient with JSON bodies.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest

from musehub.core.errors import NotFoundError
from musehub.genesis import compute_identity_id, compute_session_id
from repos_app.models import Repo
from sessions_app import selectors, services
from sessions_app.fields import create_values
from sessions_app.models import Session
from sessions_app.render import session_body
from sessions_app.serializers import SessionCreateSerializer, SessionSerializer, SessionStopSerializer
from tests.factories import UserFactory, make_repo, make_session

pytestmark = pytest.mark.django_db


# ── helpers ───────────────────────────────────────────────────────────────────
def _uid() -> str:
    return secrets.token_hex(16)


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _db_repo(*, visibility: str = "public") -> Repo:
    return make_repo(owner=UserFactory(username="testuser"), visibility=visibility, name=f"sess-repo-{_uid()[:8]}")


def _db_session(repo_id: str, *, is_active: bool = True, participants: list[str] | None = None) -> Session:
    repo = Repo.objects.get(pk=repo_id)
    session = make_session(repo, participants=participants or [], location="Test Studio", intent="test intent")
    assert session.is_active is is_active
    return session


def _raw_session(repo: Repo, started: datetime) -> Session:
    """The seed builds these rows by hand with a naive start; the service does it here."""
    author = UserFactory(username="testuser")
    return make_session(repo, author=author, started_at=started, participants=[], location="", intent="")


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 1 — Unit
# ═══════════════════════════════════════════════════════════════════════════════
class TestUnitSessions:
    """Pure logic tests — no HTTP (the serializers are the seed's pydantic models)."""

    def test_session_create_defaults(self) -> None:
        sc = SessionCreateSerializer(data={})
        assert sc.is_valid(), sc.errors
        data = create_values(sc.validated_data)
        assert data["participants"] == []
        assert data["intent"] == ""
        assert data["location"] == ""
        assert data["started_at"] is None
        assert data["is_active"] is True

    def test_session_create_with_data(self) -> None:
        t = _now()
        sc = SessionCreateSerializer(
            data={
                "started_at": t.isoformat(),
                "participants": ["alice", "bob"],
                "intent": "Write the chorus",
                "location": "Abbey Road",
            }
        )
        assert sc.is_valid(), sc.errors
        assert sc.validated_data["participants"] == ["alice", "bob"]
        assert sc.validated_data["started_at"] == t

    def test_session_stop_defaults(self) -> None:
        ss = SessionStopSerializer(data={})
        assert ss.is_valid(), ss.errors
        assert ss.validated_data.get("ended_at") is None

    def test_session_stop_with_time(self) -> None:
        t = _now()
        ss = SessionStopSerializer(data={"ended_at": t.isoformat()})
        assert ss.is_valid(), ss.errors
        assert ss.validated_data["ended_at"] == t

    @staticmethod
    def _response(**overrides) -> dict:
        t = _now()
        row = {
            "session_id": compute_session_id("a" * 64, compute_identity_id(b"carol"), t.isoformat()),
            "repo_id": "a" * 64,
            "author__username": "carol",
            "started_at": t,
            "ended_at": None,
            "participants": ["carol"],
            "commits": [],
            "notes": "",
            "intent": "jam",
            "location": "studio",
            "tags": [],
            "is_active": True,
            "created_at": t,
        }
        row.update(overrides)
        return SessionSerializer(row).data  # the body as sent: camelCase keys

    def test_session_response_fields(self) -> None:
        t = _now()
        sid = compute_session_id("a" * 64, compute_identity_id(b"carol"), t.isoformat())
        sr = self._response(session_id=sid, started_at=t, created_at=t)
        assert sr["sessionId"] == sid
        assert sr["isActive"] is True
        assert sr["durationSeconds"] is None

    def test_session_response_duration_none_when_active(self) -> None:
        t = _now()
        sid = compute_session_id("b" * 64, compute_identity_id(b"testuser"), t.isoformat())
        sr = self._response(session_id=sid, started_at=t, participants=[], intent="", location="", created_at=t)
        assert sr["durationSeconds"] is None

    def test_session_response_commits_default_empty(self) -> None:
        t = _now()
        sid = compute_session_id("c" * 64, compute_identity_id(b"testuser"), t.isoformat())
        sr = self._response(session_id=sid, started_at=t, ended_at=t, is_active=False, participants=[], created_at=t)
        assert sr["commits"] == []


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 2 — Integration
# ═══════════════════════════════════════════════════════════════════════════════
class TestIntegrationSessionService:
    """Real DB, service-layer calls."""

    def test_create_session_returns_response(self) -> None:
        repo = _db_repo()
        resp, created = services.session_create(
            repo_id=repo.repo_id,
            author=repo.owner,
            participants=["alice"],
            intent="write",
            location="studio",
        )
        assert created is True
        assert resp["is_active"] is True
        assert resp["session_id"] is not None

    def test_create_session_uses_provided_started_at(self) -> None:
        repo = _db_repo()
        t = _now()
        resp, _ = services.session_create(
            repo_id=repo.repo_id, author=repo.owner, started_at=t, participants=[], intent="", location=""
        )
        # started_at stored as UTC; compare without tz
        assert resp["started_at"].replace(tzinfo=None) == t.replace(tzinfo=None)

    def test_list_sessions_empty(self) -> None:
        repo = _db_repo()
        sessions, total, _ = selectors.session_list(repo_id=repo.repo_id)
        assert sessions == []
        assert total == 0

    def test_list_sessions_returns_all(self) -> None:
        repo = _db_repo()
        _db_session(repo.repo_id)
        _db_session(repo.repo_id)
        sessions, total, _ = selectors.session_list(repo_id=repo.repo_id)
        assert total == 2
        assert len(sessions) == 2

    def test_list_sessions_limit(self) -> None:
        repo = _db_repo()
        for _ in range(5):
            _db_session(repo.repo_id)
        sessions, total, _ = selectors.session_list(repo_id=repo.repo_id, limit=3)
        assert total == 5
        assert len(sessions) == 3

    def test_get_session_found(self) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id)
        result = selectors.session_get(repo_id=repo.repo_id, session_id=sess.session_id)
        assert result is not None
        assert result["session_id"] == sess.session_id

    def test_get_session_not_found(self) -> None:
        repo = _db_repo()
        with pytest.raises(NotFoundError):
            selectors.session_get(repo_id=repo.repo_id, session_id="nonexistent")

    def test_get_session_wrong_repo_returns_none(self) -> None:
        repo1 = _db_repo()
        repo2 = _db_repo()
        sess = _db_session(repo1.repo_id)
        with pytest.raises(NotFoundError):
            selectors.session_get(repo_id=repo2.repo_id, session_id=sess.session_id)

    def test_stop_session_marks_ended(self) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id, is_active=True)
        result = services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=None)
        assert result["is_active"] is False
        assert result["ended_at"] is not None

    def test_stop_session_not_found_returns_none(self) -> None:
        repo = _db_repo()
        with pytest.raises(NotFoundError):
            services.session_stop(repo_id=repo.repo_id, session_id="nonexistent-id", ended_at=None)

    def test_stop_session_idempotent(self) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id, is_active=True)
        t = _now()
        services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=t)
        # stop again — is_active already False, should not change ended_at
        result2 = services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=None)
        assert result2["is_active"] is False

    def test_stop_session_duration_computed(self) -> None:
        repo = _db_repo()
        started = datetime(2025, 1, 1, 10, 0, 0)
        ended = datetime(2025, 1, 1, 11, 30, 0)
        sess = _raw_session(repo, started)
        assert sess.session_id == compute_session_id(
            repo.repo_id, compute_identity_id(b"testuser"), "2025-01-01T10:00:00Z"
        )
        result = services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=ended)
        assert session_body(result)["durationSeconds"] == 5400.0  # 90 minutes

    def test_musehub_sessions_service_upsert(self) -> None:
        repo = _db_repo()
        sc = SessionCreateSerializer(data={"participants": ["dave"], "intent": "jam", "location": "garage"})
        assert sc.is_valid(), sc.errors
        resp, created = services.session_create(repo_id=repo.repo_id, author=repo.owner, **sc.validated_data)
        assert created is True
        assert resp["is_active"] is True
        assert resp["participants"] == ["dave"]

    def test_musehub_sessions_service_list(self) -> None:
        repo = _db_repo()
        _db_session(repo.repo_id)
        sessions, total, _ = selectors.session_list(repo_id=repo.repo_id)
        assert total == 1
        assert len(sessions) == 1

    def test_musehub_sessions_service_get(self) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id)
        result = selectors.session_get(repo_id=repo.repo_id, session_id=sess.session_id)
        assert result is not None
        assert result["session_id"] == sess.session_id

    def test_musehub_sessions_service_get_missing(self) -> None:
        repo = _db_repo()
        with pytest.raises(NotFoundError):
            selectors.session_get(repo_id=repo.repo_id, session_id="bad-id")


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 3 — End-to-End
# ═══════════════════════════════════════════════════════════════════════════════
class TestE2ESessions:
    """Full HTTP stack through Django's test client."""

    def test_create_session_201(self, client, auth_headers) -> None:
        repo = _db_repo()
        resp = client.post(
            f"/api/repos/{repo.repo_id}/sessions",
            {"participants": ["alice"], "intent": "compose", "location": "home"},
            headers=auth_headers,
        )
        assert resp.status_code == 201
        data = resp.json()
        assert data["isActive"] is True
        assert "sessionId" in data

    def test_create_session_repo_not_found(self, client, auth_headers) -> None:
        resp = client.post("/api/repos/nonexistent/sessions", {}, headers=auth_headers)
        assert resp.status_code == 404

    def test_list_sessions_empty(self, client) -> None:
        repo = _db_repo()
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions")
        assert resp.status_code == 200
        data = resp.json()
        assert data["total"] == 0
        assert data["sessions"] == []

    def test_list_sessions_returns_created(self, client, auth_headers) -> None:
        repo = _db_repo()
        client.post(
            f"/api/repos/{repo.repo_id}/sessions",
            {"participants": ["bob"], "intent": "record", "location": "studio"},
            headers=auth_headers,
        )
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions")
        assert resp.status_code == 200
        assert resp.json()["total"] == 1

    def test_list_sessions_limit_param(self, client) -> None:
        repo = _db_repo()
        for _ in range(5):
            _db_session(repo.repo_id)
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions?limit=3")
        assert resp.status_code == 200
        data = resp.json()
        assert data["total"] == 5
        assert len(data["sessions"]) == 3

    def test_get_session_200(self, client) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id)
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions/{sess.session_id}")
        assert resp.status_code == 200
        data = resp.json()
        assert data["sessionId"] == sess.session_id

    def test_get_session_not_found(self, client) -> None:
        repo = _db_repo()
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions/nonexistent")
        assert resp.status_code == 404

    def test_stop_session_200(self, client, auth_headers) -> None:
        repo = _db_repo()
        # create via HTTP
        create_resp = client.post(f"/api/repos/{repo.repo_id}/sessions", {"intent": "test"}, headers=auth_headers)
        assert create_resp.status_code == 201
        session_id = create_resp.json()["sessionId"]
        # stop it
        stop_resp = client.post(f"/api/repos/{repo.repo_id}/sessions/{session_id}/stop", {}, headers=auth_headers)
        assert stop_resp.status_code == 200
        data = stop_resp.json()
        assert data["isActive"] is False
        assert data["endedAt"] is not None

    def test_stop_session_not_found(self, client, auth_headers) -> None:
        repo = _db_repo()
        resp = client.post(f"/api/repos/{repo.repo_id}/sessions/nonexistent/stop", {}, headers=auth_headers)
        assert resp.status_code == 404

    def test_stop_session_with_explicit_ended_at(self, client, auth_headers) -> None:
        repo = _db_repo()
        # The seed stops at a fixed 2025 instant; the session must have started before it.
        create_resp = client.post(
            f"/api/repos/{repo.repo_id}/sessions", {"startedAt": "2025-06-01T10:00:00Z"}, headers=auth_headers
        )
        session_id = create_resp.json()["sessionId"]
        ended_at = "2025-06-01T12:00:00+00:00"
        stop_resp = client.post(
            f"/api/repos/{repo.repo_id}/sessions/{session_id}/stop", {"endedAt": ended_at}, headers=auth_headers
        )
        assert stop_resp.status_code == 200
        assert stop_resp.json()["isActive"] is False

    def test_list_sessions_invalid_limit(self, client) -> None:
        repo = _db_repo()
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions?limit=999")
        assert resp.status_code == 422

    def test_list_sessions_repo_not_found(self, client) -> None:
        resp = client.get("/api/repos/nonexistent/sessions")
        assert resp.status_code == 404


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 4 — Stress
# ═══════════════════════════════════════════════════════════════════════════════
class TestStressSessions:
    def test_create_many_sessions(self, client, auth_headers) -> None:
        repo = _db_repo()
        n = 15
        for _ in range(n):
            resp = client.post(f"/api/repos/{repo.repo_id}/sessions", {"intent": "batch"}, headers=auth_headers)
            assert resp.status_code == 201
        list_resp = client.get(f"/api/repos/{repo.repo_id}/sessions?limit=200")
        assert list_resp.json()["total"] == n

    def test_list_sessions_large_repo(self, client) -> None:
        repo = _db_repo()
        for _ in range(60):
            _db_session(repo.repo_id)
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions")
        data = resp.json()
        assert data["total"] == 60
        assert len(data["sessions"]) == 50  # default limit


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 5 — Data Integrity
# ═══════════════════════════════════════════════════════════════════════════════
class TestDataIntegritySessions:
    def test_session_persists_after_commit(self) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id)
        row = Session.objects.filter(session_id=sess.session_id).first()
        assert row is not None
        assert row.repo_id == repo.repo_id

    def test_stop_session_updates_is_active_flag(self) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id, is_active=True)
        services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=None)
        row = Session.objects.get(session_id=sess.session_id)
        assert row.is_active is False
        assert row.ended_at is not None

    def test_participants_stored_as_list(self) -> None:
        repo = _db_repo()
        participants = ["alice", "bob", "carol"]
        sess = _db_session(repo.repo_id, participants=participants)
        row = Session.objects.get(session_id=sess.session_id)
        assert row.participants == participants

    def test_duration_correct_after_stop(self) -> None:
        repo = _db_repo()
        started = datetime(2025, 3, 1, 9, 0, 0)
        ended = datetime(2025, 3, 1, 10, 0, 0)  # 3600 seconds later
        sess = _raw_session(repo, started)
        result = services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=ended)
        assert session_body(result)["durationSeconds"] == 3600.0

    def test_session_scoped_to_repo(self) -> None:
        repo1 = _db_repo()
        repo2 = _db_repo()
        _db_session(repo1.repo_id)
        _db_session(repo1.repo_id)
        _db_session(repo2.repo_id)
        sessions1, total1, _ = selectors.session_list(repo_id=repo1.repo_id)
        sessions2, total2, _ = selectors.session_list(repo_id=repo2.repo_id)
        assert total1 == 2
        assert total2 == 1
        assert {s["repo_id"] for s in sessions1} == {repo1.repo_id}
        assert {s["repo_id"] for s in sessions2} == {repo2.repo_id}

    def test_stop_already_stopped_preserves_ended_at(self) -> None:
        repo = _db_repo()
        # Started before both stop instants below, as the seed's wall-clock start was.
        sess = _raw_session(repo, datetime(2025, 6, 1, 9, 0, 0))
        t1 = datetime(2025, 6, 1, 10, 0, 0)
        services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=t1)
        # Stop again — is_active is already False, so ended_at must NOT change
        t2 = datetime(2025, 6, 1, 11, 0, 0)
        result = services.session_stop(repo_id=repo.repo_id, session_id=sess.session_id, ended_at=t2)
        # ended_at stays as t1 (not overwritten because is_active was already False)
        assert result["ended_at"].replace(tzinfo=None) == t1


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 6 — Security
# ═══════════════════════════════════════════════════════════════════════════════
class TestSecuritySessions:
    def test_create_session_requires_auth(self, client) -> None:
        repo = _db_repo()
        resp = client.post(f"/api/repos/{repo.repo_id}/sessions", {"intent": "unauth"})
        assert resp.status_code == 401
        assert Session.objects.filter(repo=repo).count() == 0

    def test_stop_session_requires_auth(self, client) -> None:
        repo = _db_repo()
        sess = _db_session(repo.repo_id)
        resp = client.post(f"/api/repos/{repo.repo_id}/sessions/{sess.session_id}/stop", {})
        assert resp.status_code == 401
        assert Session.objects.get(pk=sess.pk).is_active is True

    def test_list_sessions_public_repo_no_auth(self, client) -> None:
        repo = _db_repo(visibility="public")
        _db_session(repo.repo_id)
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions")
        assert resp.status_code == 200

    def test_list_sessions_private_repo_no_auth_401(self, client) -> None:
        repo = _db_repo(visibility="private")
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions")
        assert resp.status_code == 401

    def test_get_session_private_repo_no_auth_401(self, client) -> None:
        repo = _db_repo(visibility="private")
        sess = _db_session(repo.repo_id)
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions/{sess.session_id}")
        assert resp.status_code == 401

    def test_cannot_stop_other_repos_session(self, client, auth_headers) -> None:
        """Session from repo1 cannot be stopped via repo2's endpoint."""
        repo1 = _db_repo()
        repo2 = _db_repo()
        sess = _db_session(repo1.repo_id)
        resp = client.post(f"/api/repos/{repo2.repo_id}/sessions/{sess.session_id}/stop", {}, headers=auth_headers)
        assert resp.status_code == 404
        assert Session.objects.get(pk=sess.pk).is_active is True


# ═══════════════════════════════════════════════════════════════════════════════
# Layer 7 — Performance
# ═══════════════════════════════════════════════════════════════════════════════
class TestPerformanceSessions:
    def test_create_session_latency(self, client, auth_headers) -> None:
        repo = _db_repo()
        start = time.perf_counter()
        resp = client.post(f"/api/repos/{repo.repo_id}/sessions", {"intent": "perf"}, headers=auth_headers)
        elapsed = time.perf_counter() - start
        assert resp.status_code == 201
        assert elapsed < 0.5

    def test_list_sessions_latency(self, client) -> None:
        repo = _db_repo()
        for _ in range(20):
            _db_session(repo.repo_id)
        start = time.perf_counter()
        resp = client.get(f"/api/repos/{repo.repo_id}/sessions")
        elapsed = time.perf_counter() - start
        assert resp.status_code == 200
        assert elapsed < 0.5

    def test_stop_session_latency(self, client, auth_headers) -> None:
        repo = _db_repo()
        create_resp = client.post(f"/api/repos/{repo.repo_id}/sessions", {}, headers=auth_headers)
        session_id = create_resp.json()["sessionId"]
        start = time.perf_counter()
        stop_resp = client.post(f"/api/repos/{repo.repo_id}/sessions/{session_id}/stop", {}, headers=auth_headers)
        elapsed = time.perf_counter() - start
        assert stop_resp.status_code == 200
        assert elapsed < 0.5
