"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation of the schema the app serves at ``/api/schema/`` is fed generated
requests, both valid ones (``positive``: they follow the schema) and invalid ones
(``negative``: wrong types, missing fields, out-of-range values), through the WSGI app
itself, signed in as the owner of a real repo with a real session in it, so the requests
reach the services instead of stopping at a 404. Every response must be no 5xx and match
the schema (status documented, body of the documented shape).

Bounded: a fixed number of examples per operation and mode with a fixed seed
(``derandomize``), about half a minute in all; raise ``MUSEHUB_FUZZ_EXAMPLES`` to dig deeper.

The stateful phase then chains calls along the schema's OpenAPI links (create a repo, a
session in it, then get, edit, stop, delete that session): 40 scenarios of up to 8 calls,
about half a minute; ``MUSEHUB_FUZZ_SCENARIOS`` raises it.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil

import pytest
import schemathesis
from django.apps import apps
from django.conf import settings as settings_module
from django.core import signals
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from musehub.wsgi import application
from tests.factories import UserFactory, auth_header, make_repo, make_session, make_token

pytestmark = pytest.mark.django_db


def _import_the_project() -> None:
    """Import every module of the project's packages.

    Hypothesis draws some of the strings and numbers it generates from the constants of
    the project's modules that are loaded at the time (``hypothesis.internal.conjecture.
    providers._get_local_constants``; test files are left out). Without this, which tests
    were collected beside this file decided what the fuzzer sent: run alone, the stateful
    walk never reached a session's GET, while in the whole suite it did. With every module
    loaded first, the pool, and so each derandomized run, is the same however the tests are
    picked. The packages: those of the installed apps that are folders of this repository.
    """
    tops = dict.fromkeys(config.name.split(".")[0] for config in apps.get_app_configs())
    # In INSTALLED_APPS' order: ``musehub`` first, whose root URLconf registers the
    # converters that the apps' URLconfs use.
    for name in (top for top in tops if (settings_module.BASE_DIR / top).is_dir()):
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(module.name)


_import_the_project()

MAX_EXAMPLES = int(os.environ.get("MUSEHUB_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def _served_schema() -> dict:
    """The OpenAPI document exactly as ``GET /api/schema/?format=json`` renders it.

    Built with the same generator the view uses, without a request: no database is
    touched while tests are collected.
    """
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


SCHEMA = schemathesis.openapi.from_dict(_served_schema())
SCHEMA.app = application
OPERATIONS = [
    (result.ok().method.upper(), result.ok().path) for result in SCHEMA.get_all_operations() if result.ok() is not None
]


def test_the_fuzzed_schema_is_the_served_one(client):
    served = client.get("/api/schema/?format=json")
    assert served.status_code == 200
    assert json.loads(served.content) == _served_schema()
    assert len(OPERATIONS) >= 15


@pytest.fixture
def world(db):
    """An owner with a token, a public repo with one session, and a user to share with.

    Requests go straight into the WSGI app, whose request signals would close the test's
    database connection (and with it the test's transaction) on PostgreSQL; Django's own
    test client disconnects that handler the same way while it calls the app.
    """
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield _world()
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


def _world() -> dict:
    owner = UserFactory(username="fuzzowner")
    UserFactory(username="friend")
    repo = make_repo(owner=owner, visibility="public")
    session = make_session(repo, participants=["alice"], commits=["b" * 64])
    return {
        "headers": auth_header(make_token(owner)),
        "path": {"repo_id": repo.pk, "session_id": session.pk, "username": "friend"},
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_operation(world, method, path, mode):
    operation = SCHEMA[path][method]
    names = {param.name for param in operation.path_parameters}
    fixed = {name: value for name, value in world["path"].items() if name in names}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        case.call_and_validate(headers=world["headers"], checks=CHECKS)

    fuzz()


# ── stateful: sequences of calls that follow the schema's links ───────────────
#: Scenarios and calls per scenario of the stateful phase (bounded: about half a minute).
STATEFUL_SCENARIOS = int(os.environ.get("MUSEHUB_FUZZ_SCENARIOS", "40"))
STATEFUL_STEPS = 8
#: The same schema, generating valid input only: invalid input is the stateless phase's job
#: (every operation, both modes); here each step should succeed, so the next one reaches
#: what it made.


def _unconditional(document: dict) -> dict:
    """``document`` without the ``If-Match``/``If-None-Match`` parameters: a made-up
    If-Match turns every write into a 412 (the stateless phase checks those), and the walk
    needs each step to reach what the previous one made."""
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    p for p in operation["parameters"] if p.get("name") not in ("If-Match", "If-None-Match")
                ]
    return document


#: The walk the stateful phase takes: a repo, its sessions, and what each session's links
#: reach. The repo's other routes (hooks, events, current, stats, export), linked from
#: every new repo, would each take a share of every step and crowd the sessions out; the
#: stateless phase fuzzes them like every operation.
SESSION_WALK = r"^/api/repos(/\{repoId\}/sessions(/\{sessionId\}(/stop|/commits)?)?)?$"
STATEFUL_SCHEMA = schemathesis.openapi.from_dict(_unconditional(_served_schema())).include(path_regex=SESSION_WALK)
STATEFUL_SCHEMA.app = application
STATEFUL_SCHEMA.config.generation.update(modes=[GenerationMode.POSITIVE])
# Only the schema's own links: schemathesis's guessed ones (e.g. any list's 200 feeding
# session ids to DELETE) mostly aim at nothing and crowd out the real sequences.
STATEFUL_SCHEMA.config.phases.stateful.inference.algorithms = []


def test_the_schema_links_each_create_to_what_it_created():
    """The links the stateful phase follows (``musehub.api.schema.link_created_resources``)."""
    links = {}
    for path, item in STATEFUL_SCHEMA.raw_schema["paths"].items():
        for method, operation in item.items():
            for code in ("200", "201"):
                for link in operation["responses"].get(code, {}).get("links", {}).values():
                    links.setdefault(f"{method.upper()} {path}", set()).add(link["operationId"])
    assert links["POST /api/repos/{repoId}/sessions"] == {
        "repos_sessions_retrieve",
        "repos_sessions_partial_update",
        "repos_sessions_destroy",
        "repos_sessions_stop_create",
        "repos_sessions_commits_create",
    }
    assert {"repos_retrieve", "repos_sessions_create", "repos_sessions_list"} <= links["POST /api/repos"]


def test_fuzz_stateful(world):
    """Schemathesis's stateful phase: it creates repos and sessions, then follows the links
    to get, edit, stop, append to and delete those very sessions. Every response passes
    the same checks as above, and the run must really have reached real sessions."""
    reached: dict[str, set[int]] = {}

    class Machine(STATEFUL_SCHEMA.as_state_machine()):
        def setup(self):
            # Each scenario starts from the same world (Hypothesis replays scenarios to
            # shrink a failure, and needs each one to meet the same database).
            self.scenario = transaction.atomic()
            self.scenario.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"headers": world["headers"]}

        def after_call(self, response, case):
            reached.setdefault(f"{case.method.upper()} {case.path}", set()).add(response.status_code)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=world["headers"])

    Machine.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    print("stateful phase reached:", {op: sorted(statuses) for op, statuses in sorted(reached.items())})
    session = "/api/repos/{repoId}/sessions/{sessionId}"
    successes = {op for op, statuses in reached.items() if statuses & {200, 201, 204}}
    # Sessions were made, then found, edited, stopped and deleted through the links.
    assert {
        "POST /api/repos/{repoId}/sessions",
        f"GET {session}",
        f"PATCH {session}",
        f"POST {session}/stop",
        f"DELETE {session}",
    } <= successes, reached
