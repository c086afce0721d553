"""The id functions of SPEC "Identifiers": deterministic, 64 lowercase hex, one domain per kind."""

from __future__ import annotations

import re

import pytest

from musehub.genesis import compute_identity_id, compute_repo_id, compute_session_id

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_every_kind_is_64_lowercase_hex() -> None:
    identity = compute_identity_id(b"testuser")
    repo = compute_repo_id(identity, "my-song", "code", "2025-01-01T00:00:00+00:00")
    session = compute_session_id(repo, identity, "2025-01-01T10:00:00+00:00")
    for value in (identity, repo, session):
        assert HEX64.match(value), value


def test_same_input_same_id() -> None:
    assert compute_identity_id(b"testuser") == compute_identity_id(b"testuser")
    identity = compute_identity_id(b"testuser")
    assert compute_repo_id(identity, "a", "code", "t") == compute_repo_id(identity, "a", "code", "t")
    assert compute_session_id("r" * 64, identity, "t") == compute_session_id("r" * 64, identity, "t")


def test_a_str_username_is_its_utf8_bytes() -> None:
    assert compute_identity_id("jöhn") == compute_identity_id("jöhn".encode())


def test_repo_domain_defaults_to_code() -> None:
    identity = compute_identity_id(b"testuser")
    assert compute_repo_id(identity, "a", created_at="t") == compute_repo_id(identity, "a", "code", "t")
    assert compute_repo_id(identity, "a", "midi", "t") != compute_repo_id(identity, "a", "code", "t")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("r" * 64, "a" * 64, "2025-01-01T10:00:00+00:00"), ("r" * 64, "a" * 64, "2025-01-01T10:00:01+00:00")),
        (("r" * 64, "a" * 64, "t"), ("r" * 64, "b" * 64, "t")),
        (("r" * 64, "a" * 64, "t"), ("s" * 64, "a" * 64, "t")),
    ],
)
def test_every_part_of_a_session_id_matters(left, right) -> None:
    assert compute_session_id(*left) != compute_session_id(*right)


def test_kinds_never_collide_on_the_same_bytes() -> None:
    """Domain separation: the same parts give different ids for different kinds."""
    part = "x" * 64
    repo = compute_repo_id(part, "", "", "")
    session = compute_session_id(part, "", "")
    identity = compute_identity_id(part.encode())
    assert len({repo, session, identity}) == 3


def test_parts_cannot_be_shifted_into_each_other() -> None:
    identity = compute_identity_id(b"u")
    assert compute_repo_id(identity, "ab", "c", "t") != compute_repo_id(identity, "a", "bc", "t")
    assert compute_session_id("ab", "c", "t") != compute_session_id("a", "bc", "t")
