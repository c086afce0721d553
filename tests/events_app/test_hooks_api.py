"""Hooks CRUD, ping, the deliveries list and redeliver over the API (no worker needed: the
messages go after commit, and these tests never commit). The SSRF guard at creation."""

from __future__ import annotations

import base64
import socket

import pytest

from events_app import crypto
from events_app.models import Delivery, Hook
from tests.events_app.conftest import SECRET, quiet_session, record
from tests.factories import UserFactory, auth_header, make_repo, make_token, share

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.215.14/musehub"  # a global address: no DNS needed


def _hooks(repo) -> str:
    return f"/api/repos/{repo.pk}/hooks"


def _create(client, repo, headers, **body):
    return client.post(_hooks(repo), {"url": PUBLIC_URL, "secret": SECRET, **body}, headers=headers)


def test_create_get_list_patch_delete_a_hook(client, repo, auth_headers) -> None:
    created = _create(client, repo, auth_headers, events=["session.created", "session.stopped"])
    assert created.status_code == 201
    hook = created.json()
    assert set(hook) == {"hookId", "url", "events", "active", "createdAt", "lastDelivery"}
    assert isinstance(hook["hookId"], str)
    assert hook["url"] == PUBLIC_URL
    assert hook["events"] == ["session.created", "session.stopped"]
    assert hook["active"] is True
    assert hook["lastDelivery"] is None

    url = f"{_hooks(repo)}/{hook['hookId']}"
    assert client.get(url, headers=auth_headers).json() == hook
    assert client.get(_hooks(repo), headers=auth_headers).json() == {"hooks": [hook]}

    changed = client.patch(url, {"active": False, "events": ["session.deleted"]}, headers=auth_headers)
    assert changed.status_code == 200
    assert changed.json()["active"] is False
    assert changed.json()["events"] == ["session.deleted"]
    assert changed.json()["url"] == PUBLIC_URL

    assert client.delete(url, headers=auth_headers).status_code == 204
    assert client.get(url, headers=auth_headers).status_code == 404
    assert client.get(_hooks(repo), headers=auth_headers).json() == {"hooks": []}


def test_a_hook_defaults_to_every_event_and_active(client, repo, auth_headers) -> None:
    hook = _create(client, repo, auth_headers).json()
    assert hook["events"] == [
        "session.created",
        "session.stopped",
        "session.updated",
        "session.commits_added",
        "session.deleted",
    ]
    assert hook["active"] is True


def test_the_secret_is_write_only_and_encrypted_at_rest(client, repo, auth_headers) -> None:
    created = _create(client, repo, auth_headers)
    hook_id = created.json()["hookId"]
    patched = client.patch(f"{_hooks(repo)}/{hook_id}", {"secret": "another-secret-0123456789"}, headers=auth_headers)
    listed = client.get(_hooks(repo), headers=auth_headers)
    for response in (created, patched, listed):
        assert SECRET not in response.content.decode()
        assert "another-secret" not in response.content.decode()
        assert "secret" not in response.content.decode().lower()
    stored = Hook.objects.get(pk=hook_id).secret_encrypted
    assert "another-secret" not in stored
    assert crypto.decrypt_secret(stored) == "another-secret-0123456789"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "https://93.184.215.14/" + "a" * 2000}, "url"),
        ({"url": "http://user:pw@93.184.215.14/"}, "url"),
        ({"url": 42}, "url"),
        ({"secret": "short"}, "secret"),
        ({"secret": "x" * 201}, "secret"),
        ({"secret": None}, "secret"),
        ({"events": ["session.exploded"]}, "events"),
        ({"events": "session.created"}, "events"),
        ({"events": [None]}, "events"),
        ({"active": "yes"}, "active"),
    ],
)
def test_bad_hook_fields_are_422_naming_them(client, repo, auth_headers, body, field) -> None:
    response = _create(client, repo, auth_headers, **body)
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert not Hook.objects.exists()


def test_url_and_secret_are_required(client, repo, auth_headers) -> None:
    response = client.post(_hooks(repo), {}, headers=auth_headers)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"url", "secret"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",  # a name resolving to loopback
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://100.64.0.1/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f.1/hook",
    ],
)
def test_private_targets_are_refused_at_creation(client, repo, auth_headers, url) -> None:
    response = _create(client, repo, auth_headers, url=url)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["url"]
    assert "MUSEHUB_WEBHOOK_ALLOW_PRIVATE" in response.json()["detail"]


def test_a_name_resolving_to_loopback_is_refused(client, repo, auth_headers, monkeypatch) -> None:
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "hooks.example.test":  # public-looking name, private answer
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    response = _create(client, repo, auth_headers, url="https://hooks.example.test/x")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["url"]


def test_a_name_that_does_not_resolve_is_refused(client, repo, auth_headers) -> None:
    response = _create(client, repo, auth_headers, url="https://no-such-host.invalid/x")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["url"]


def test_allow_private_lets_loopback_through(client, repo, auth_headers, allow_private) -> None:
    for url in ("http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://10.0.0.1/x", "http://localhost:9/"):
        assert _create(client, repo, auth_headers, url=url).status_code == 201


def test_patching_to_a_private_url_is_refused(client, repo, auth_headers) -> None:
    hook_id = _create(client, repo, auth_headers).json()["hookId"]
    response = client.patch(f"{_hooks(repo)}/{hook_id}", {"url": "http://10.0.0.7/"}, headers=auth_headers)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["url"]
    assert Hook.objects.get(pk=hook_id).url == PUBLIC_URL


def test_hooks_are_for_the_owner_only(client, user, repo, private_repo, auth_headers) -> None:
    writer, reader = UserFactory(username="writer"), UserFactory(username="reader")
    outsider = UserFactory(username="outsider")
    for shared in (repo, private_repo):
        share(shared, writer, "write")
        share(shared, reader, "read")
    body = {"url": PUBLIC_URL, "secret": SECRET}
    # On a private repo an outsider may not know it exists (404); on a public one, 403.
    for target, outsider_status in ((private_repo, 404), (repo, 403)):
        hook_id = _create(client, target, auth_headers).json()["hookId"]
        routes = [
            ("get", ""),
            ("post", ""),
            ("get", f"/{hook_id}"),
            ("patch", f"/{hook_id}"),
            ("delete", f"/{hook_id}"),
            ("post", f"/{hook_id}/ping"),
            ("get", f"/{hook_id}/deliveries"),
        ]
        for method, rest in routes:
            call = getattr(client, method)
            for who, expected in ((writer, 403), (reader, 403), (outsider, outsider_status)):
                headers = auth_header(make_token(who))
                assert call(_hooks(target) + rest, body, headers=headers).status_code == expected, (method, rest)
            assert call(_hooks(target) + rest, body).status_code == 401
        assert Hook.objects.filter(pk=hook_id).exists()
    assert Hook.objects.count() == 2
    assert not Delivery.objects.exists()


def test_unknown_hook_and_delivery_ids_are_404(client, repo, auth_headers) -> None:
    other = make_repo(owner=repo.owner, visibility="public")
    hook_id = _create(client, other, auth_headers).json()["hookId"]
    assert client.get(f"{_hooks(repo)}/{hook_id}", headers=auth_headers).status_code == 404  # another repo's
    for rest in ("/999", "/9" * 1 + "9" * 30, "/abc", f"/{hook_id}/deliveries/1/redeliver"):
        method = client.post if rest.endswith("redeliver") else client.get
        assert method(f"{_hooks(other)}{rest}", headers=auth_headers).status_code == 404


def test_ping_queues_a_ping_delivery_whatever_events_and_active(client, repo, auth_headers) -> None:
    hook_id = _create(client, repo, auth_headers, events=[], active=False).json()["hookId"]
    response = client.post(f"{_hooks(repo)}/{hook_id}/ping", headers=auth_headers)
    assert response.status_code == 202
    delivery = response.json()
    assert delivery["type"] == "ping"
    assert delivery["eventId"] is None
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 0
    hook = client.get(f"{_hooks(repo)}/{hook_id}", headers=auth_headers).json()
    assert hook["lastDelivery"] == delivery


def test_events_make_deliveries_for_active_hooks_that_want_them(client, repo, auth_headers) -> None:
    wants_all = _create(client, repo, auth_headers).json()["hookId"]
    wants_stops = _create(client, repo, auth_headers, events=["session.stopped"]).json()["hookId"]
    inactive = _create(client, repo, auth_headers, active=False).json()["hookId"]
    session = quiet_session(repo)
    record(session, "session.created")
    record(session, "session.stopped")

    def delivered(hook_id):
        page = client.get(f"{_hooks(repo)}/{hook_id}/deliveries", headers=auth_headers).json()
        return [(d["type"], d["eventId"], d["status"]) for d in page["deliveries"]]

    assert delivered(wants_all) == [("session.stopped", 2, "pending"), ("session.created", 1, "pending")]
    assert delivered(wants_stops) == [("session.stopped", 2, "pending")]
    assert delivered(inactive) == []


def test_deliveries_are_listed_newest_first_by_cursor(client, repo, auth_headers) -> None:
    hook_id = _create(client, repo, auth_headers).json()["hookId"]
    session = quiet_session(repo)
    for _ in range(5):
        record(session, "session.updated")
    seen, url = [], f"{_hooks(repo)}/{hook_id}/deliveries?limit=2"
    while url:
        response = client.get(url, headers=auth_headers)
        body = response.json()
        seen += [d["eventId"] for d in body["deliveries"]]
        url = response.headers.get("Link", "").partition("<")[2].partition(">")[0] or None
        if body["nextCursor"] is None:
            assert url is None
    assert seen == [5, 4, 3, 2, 1]
    # Signed, as every cursor the API issues: a well-formed one the server did not sign
    # (base64url of ["d", 1], the form an unsigned cursor would take) is refused too.
    unsigned = base64.urlsafe_b64encode(b'["d",1]').rstrip(b"=").decode()
    for bad in ("garbage", "eyJ4IjoxfQ", "W10", "a" * 200, unsigned, f"{unsigned}.forged"):
        response = client.get(f"{_hooks(repo)}/{hook_id}/deliveries", {"cursor": bad}, headers=auth_headers)
        assert response.status_code == 422
        assert list(response.json()["errors"]) == ["cursor"]
    response = client.get(f"{_hooks(repo)}/{hook_id}/deliveries", {"limit": 0}, headers=auth_headers)
    assert list(response.json()["errors"]) == ["limit"]


def test_redeliver_answers_202_and_queues_one_more_attempt(client, repo, auth_headers) -> None:
    hook_id = _create(client, repo, auth_headers).json()["hookId"]
    record(quiet_session(repo))
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=7)
    response = client.post(f"{_hooks(repo)}/{hook_id}/deliveries/{delivery.pk}/redeliver", headers=auth_headers)
    assert response.status_code == 202
    assert response.json()["deliveryId"] == str(delivery.pk)
    assert response.json()["status"] == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.max_attempts) == (7, 8)
