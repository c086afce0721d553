"""The API's camelCase renderer gives exactly what djangorestframework-camel-case gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils.translation import gettext_lazy
from djangorestframework_camel_case.render import CamelCaseJSONRenderer

from musehub.api.renderers import JSONRenderer, camelize, camelized

SAMPLES = [
    {"session_id": "a" * 64, "ended_at": None, "duration_seconds": 1.5, "is_active": False},
    {"sessions": [{"repo_id": "r", "commits": ["c" * 64, "d" * 64], "participants": []}], "next_cursor": None},
    {"detail": "Invalid input.", "errors": {"started_at": ["Not a timestamp."], "limit": ["Too big."]}},
    {"a_1": 1, "v2_x": 2, "_private": 3, "trailing_": 4, "double__under": 5, "already_camelCase": 6, 7: "int key"},
    {gettext_lazy("lazy_key"): [gettext_lazy("lazy value"), ("tuple_item", {"in_tuple": True})]},
    [{"list_of_dicts": [{"deep_down": {"deeper_still": []}}]}, "plain_string", 3, None],
    {"when_at": datetime(2026, 1, 1, tzinfo=UTC), "nested_list": [[{"x_y": 1}]]},
    "just_a_string",
    None,
]


@pytest.mark.parametrize("data", SAMPLES)
def test_renders_what_the_camel_case_library_renders(data) -> None:
    assert JSONRenderer().render(data) == CamelCaseJSONRenderer().render(data)


def test_values_are_never_rewritten() -> None:
    assert camelize({"some_key": "some_value", "ids": ["a_b"]}) == {"someKey": "some_value", "ids": ["a_b"]}


def test_a_camelized_row_renders_as_the_library_renders_the_plain_row() -> None:
    row = {"session_id": "a" * 64, "participants": ["ana_b"], "commits": ["c_d"], "is_active": True, "ended_at": None}
    body = {"sessions": [camelized(row)], "next_cursor": None}
    assert JSONRenderer().render(body) == CamelCaseJSONRenderer().render({"sessions": [row], "next_cursor": None})
    assert camelized(row) == {
        "sessionId": "a" * 64,
        "participants": ["ana_b"],
        "commits": ["c_d"],
        "isActive": True,
        "endedAt": None,
    }
