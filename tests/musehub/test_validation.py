"""``musehub.api.validation.validated``: a reused serializer checks bodies exactly as a new
one per request would, and keeps nothing from one body to the next."""

from __future__ import annotations

import threading

import pytest
from rest_framework.exceptions import ValidationError

from musehub.api.validation import validated
from repos_app.serializers import RepoCreateSerializer
from sessions_app.serializers import SessionCreateSerializer, SessionStopSerializer, SessionUpdateSerializer

GOOD = [
    {},
    {"intent": "mix", "participants": ["ana", "bo"], "tags": ["live"]},
    {"started_at": "2024-01-01T10:00:00Z", "ended_at": "2024-01-01T11:00:00Z", "commits": ["a" * 64]},
    {"location": "", "notes": "x\ny", "is_active": True},
]
BAD = [
    None,
    [],
    "text",
    {"participants": "ana"},
    {"participants": ["ana", 7]},
    {"intent": 5},
    {"tags": ["ok", "not ok!"]},
    {"started_at": "yesterday"},
    {"is_active": "yes", "intent": None},
]


def fresh(serializer_class, data, *, partial=False):
    """What a new serializer per request says: (values, None) or (None, errors)."""
    serializer = serializer_class(data=data, partial=partial)
    if serializer.is_valid():
        return dict(serializer.validated_data), None
    return None, serializer.errors


def reused(serializer_class, data, *, partial=False):
    try:
        return dict(validated(serializer_class, data, partial=partial)), None
    except ValidationError as error:
        return None, error.detail


@pytest.mark.parametrize("serializer_class", [SessionCreateSerializer, SessionUpdateSerializer, SessionStopSerializer])
def test_same_values_and_errors_as_a_new_serializer_in_any_order(serializer_class):
    bodies = GOOD + BAD
    # Twice over, interleaving good and bad bodies: a refusal leaves nothing behind.
    for data in [*bodies, *reversed(bodies), *bodies]:
        assert reused(serializer_class, data) == fresh(serializer_class, data), data


def test_partial_and_full_checks_of_one_class_are_kept_apart():
    # A full check requires the name; a partial one does not.
    assert reused(RepoCreateSerializer, {}, partial=True) == ({}, None)
    values, errors = reused(RepoCreateSerializer, {})
    assert values is None
    assert set(errors) == {"name"}
    assert errors == fresh(RepoCreateSerializer, {})[1]
    assert reused(RepoCreateSerializer, {}, partial=True) == ({}, None)


def test_threads_do_not_share_a_serializer():
    seen = {}

    def check(name: str, data: dict) -> None:
        for _ in range(200):
            values, errors = reused(SessionCreateSerializer, data)
            seen.setdefault(name, set()).add((repr(values), repr(errors)))

    threads = [
        threading.Thread(target=check, args=("good", {"intent": "a"})),
        threading.Thread(target=check, args=("bad", {"intent": 5})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["good"] == {(repr({"intent": "a"}), "None")}
    assert len(seen["bad"]) == 1
    assert next(iter(seen["bad"]))[0] == "None"
