"""``If-Match`` under racing writers (PostgreSQL, real threads): the condition is judged on
the locked row inside the write's transaction, so of writers that all read the same ETag
exactly one gets through and every other one is refused, never a lost update."""

from __future__ import annotations

import pytest

from sessions_app.models import Session
from tests.factories import make_session
from tests.sessions_app.test_races import RACERS, commit_id, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITES = {
    "patch": lambda client, url, i, headers: client.patch(url, {"notes": f"by {i}"}, headers=headers),
    "stop": lambda client, url, i, headers: client.post(f"{url}/stop", {"notes": f"by {i}"}, headers=headers),
    "commits": lambda client, url, i, headers: client.post(
        f"{url}/commits", {"commits": [commit_id(i)]}, headers=headers
    ),
}


@pytest.mark.parametrize("write", WRITES)
def test_of_writers_holding_one_etag_exactly_one_wins(repo, auth_headers, client, write):
    session = make_session(repo)
    url = f"/api/repos/{repo.pk}/sessions/{session.pk}"
    tag = client.get(url, headers=auth_headers)["ETag"]
    headers = {**auth_headers, "If-Match": tag}

    responses = race(lambda racer, i: WRITES[write](racer, url, i, headers))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (RACERS - 1)
    winner = next(r.json() for r in responses if r.status_code == 200)
    stored = client.get(url, headers=auth_headers)
    assert stored.json() == winner  # what the winner wrote is what is stored, nothing after it
    assert stored["ETag"] != tag
    if write == "commits":
        assert len(Session.objects.get(pk=session.pk).commits) == 1
