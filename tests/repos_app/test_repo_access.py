"""``repo_access``, the hand-written repo + role read of the session routes, agrees with
the ORM's ``with_role`` for every kind of caller."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from repos_app.models import Repo, RepoAccess, repo_access
from tests.factories import UserFactory, make_repo, make_session, share

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("caller", ["owner", "write", "read", "outsider", "anonymous"])
def test_repo_access_matches_with_role(user, visibility, caller) -> None:
    repo = make_repo(owner=user, visibility=visibility)
    make_session(repo)
    other = UserFactory()
    share(repo, UserFactory(), "read")  # somebody else's grant must not leak into the role
    if caller in ("write", "read"):
        share(repo, other, caller)
    who = {"owner": user, "anonymous": AnonymousUser()}.get(caller, other)

    expected = Repo.objects.with_role(who).get(pk=repo.pk)
    access = repo_access(repo.pk, who)

    assert access == RepoAccess(pk=repo.pk, visibility=visibility, session_count=1, caller_role=expected.caller_role)
    assert access.is_public is expected.is_public
    assert access.caller_role == {"owner": "owner", "write": "write", "read": "read"}.get(caller)


def test_repo_access_of_a_missing_repo_is_none(user) -> None:
    assert repo_access("0" * 64, user) is None
