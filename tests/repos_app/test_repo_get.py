"""``repo_get``, the one repo read of every route under ``/repos/{repoId}`` (a query
compiled once), gives the repo's columns and the right role for every kind of caller."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from musehub.core.errors import NotFoundError
from repos_app.models import Repo
from repos_app.selectors import REPO_ROW_FIELDS, repo_get
from tests.factories import UserFactory, make_repo, make_session, share

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("caller", ["owner", "write", "read", "outsider", "anonymous"])
def test_repo_get_gives_the_row_and_the_callers_role(user, visibility, caller) -> None:
    repo = make_repo(owner=user, visibility=visibility)
    make_session(repo)
    other = UserFactory()
    share(repo, UserFactory(), "read")  # somebody else's grant must not leak into the role
    if caller in ("write", "read"):
        share(repo, other, caller)
    who = {"owner": user, "anonymous": AnonymousUser()}.get(caller, other)

    row = repo_get(repo_id=repo.pk, user=who)

    assert row == {
        **Repo.objects.filter(pk=repo.pk).values(*REPO_ROW_FIELDS).get(),
        "caller_role": {"owner": "owner", "write": "write", "read": "read"}.get(caller),
    }
    assert row["session_count"] == 1
    assert row["owner__username"] == user.username


def test_repo_get_of_a_missing_repo_is_not_found(user) -> None:
    with pytest.raises(NotFoundError):
        repo_get(repo_id="0" * 64, user=user)
