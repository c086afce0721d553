"""Fixtures for fault tests: a throwaway PostgreSQL cluster, migrated, and gunicorn on it."""

from __future__ import annotations

import pytest

from tests.faults.harness import PgCluster, django_env, manage
from tests.live_gunicorn import Gunicorn


@pytest.fixture(scope="session")
def cluster():
    """A fresh cluster with a migrated ``musehub`` database; gone after the test run."""
    pg = PgCluster()
    try:
        pg.init()
        pg.start()
        pg.query("CREATE DATABASE musehub", dbname="postgres")
        manage(django_env(pg.url("musehub")), "migrate", "--noinput")
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="session")
def account(cluster):
    """A user's token and a public repo they own, made with the operator commands."""
    env = django_env(cluster.url("musehub"))
    token = manage(env, "create_token", "faultuser", "--create-user").strip().splitlines()[-1]
    repo_id = manage(env, "create_repo", "faultuser", "fault-repo").strip().splitlines()[-1]
    return {"token": token, "repo_id": repo_id, "headers": {"Authorization": f"Bearer {token}"}}


def start_gunicorn(cluster, workers: int = 2, **env: str) -> Gunicorn:
    # The tests share the cluster, and every request of theirs comes from 127.0.0.1: one
    # test's anonymous requests must not count against the next one's limit.
    cluster.query("DELETE FROM musehub_throttle")
    server = Gunicorn(django_env(cluster.url("musehub"), **env), workers=workers)
    server.start()
    return server


@pytest.fixture
def service(cluster):
    """gunicorn (two sync workers) serving the API from ``cluster``."""
    server = start_gunicorn(cluster)
    try:
        yield server
    finally:
        server.stop()
