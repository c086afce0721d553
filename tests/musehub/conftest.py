"""The OpenAPI schema as a client downloads it, and a walk over its operations."""

from __future__ import annotations

import pytest

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

_fetched: dict[str, dict] = {}


@pytest.fixture
def schema(client) -> dict:
    """``/api/schema/`` (fetched once per run: generating it is slow)."""
    if "json" not in _fetched:
        resp = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert resp.status_code == 200
        assert resp["Content-Type"].startswith("application/vnd.oai.openapi+json")
        _fetched["json"] = resp.json()
    return _fetched["json"]


def operations(schema: dict):
    """Every ``(path, method, operation)`` of the schema."""
    for path, item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]
