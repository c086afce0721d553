"""Concurrent repo and collaborator writes: a clean answer for each caller, never a 500.

Real concurrency needs PostgreSQL (SQLite serialises writers), hence the marker.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from repos_app.models import Collaborator, Repo
from tests.factories import UserFactory, auth_header, make_repo, make_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CALLERS = 4


def _all_at_once(send) -> list[int]:
    """Run ``send(client)`` from CALLERS threads released together; their status codes."""
    barrier = threading.Barrier(CALLERS)
    statuses: list[int] = []

    def run() -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            statuses.append(send(client).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_racing_creates_of_one_slug_make_one_repo() -> None:
    headers = auth_header(make_token(UserFactory(username="owner")))

    statuses = _all_at_once(lambda client: client.post("/api/repos", {"name": "Race"}, format="json", headers=headers))

    assert sorted(statuses) == [201] + [409] * (CALLERS - 1)
    assert Repo.objects.filter(slug="race").count() == 1


def test_racing_shares_with_one_user_make_one_grant() -> None:
    owner = UserFactory(username="owner")
    UserFactory(username="bob")
    repo = make_repo(owner=owner, visibility="private", name="Shared")
    headers = auth_header(make_token(owner))
    url = f"/api/repos/{repo.pk}/collaborators/bob"

    statuses = _all_at_once(lambda client: client.put(url, {"permission": "write"}, format="json", headers=headers))

    assert sorted(statuses) == [200] * (CALLERS - 1) + [201]
    assert list(Collaborator.objects.values_list("user__username", "permission")) == [("bob", "write")]
