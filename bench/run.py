"""``make bench``: load-test every session route against two in-run references.

1. Seed the benchmark database if needed (``bench/seed.py``: a repo with 1,000,000
   sessions, 1,000 repos with 50).
2. Issue fresh tokens, a deep cursor, and empty the repos the write scenarios fill.
3. Count each scenario's queries with one request in this process.
4. Start gunicorn with the project's own ``gunicorn.conf.py`` (settings ``bench.settings``:
   the production settings plus the reference views) on free loopback ports, twice: with
   the default settings (no ``REDIS_URL``: throttle counters in the database) and with
   ``REDIS_URL`` (``BENCH_REDIS_URL``). And the original FastAPI MuseHub beside them
   (``bench/peer.py``; skipped, and said so, when it cannot be served).
5. Before each round, ``VACUUM ANALYZE`` our database and the original's (``PEER_DATABASE_URL``,
   default serve.sh's ``peer_musehub``): every round's stop pools leave dead rows behind
   (ours ~45,000 a round), and a server with autovacuum off, as on the machines these
   numbers come from, would make each round slower than the one before.
6. Drive each scenario with ``wrk`` (``bench/wrk/scenario.lua``, real Bearer tokens),
   ``BENCH_ROUNDS`` (3) times in rounds, and keep each one's median run: the issue-5
   scenarios on the default settings, the side-by-side ones on ours (both settings) and
   the original in turn. Then keep up read traffic until the default server's workers
   have served 100,000 requests since warm-up, and compare their memory before and after.
7. Write ``bench/RESULTS.md``.

Knobs (environment): BENCH_DATABASE_URL, BENCH_DURATION (seconds per scenario, 10),
BENCH_ROUNDS (3), BENCH_WARMUP (2), BENCH_THREADS (2), BENCH_CONNECTIONS (16),
BENCH_MEMORY_REQUESTS (100000), BENCH_REDIS_URL (redis://127.0.0.1:6379/13); for the
original: PEER_MIRROR (or PEER_BASE and PEER_TOKEN), PEER_SERVE, PEER_DATABASE_URL. While
working on one route: BENCH_ONLY=vs_create,get (scenario names, comma-separated) runs only
those, skips the memory check and the reports, prints each run and writes no RESULTS.md.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import peer as peers  # noqa: E402
from bench import reports, seed  # noqa: E402

WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "RESULTS.md"
LUA = ROOT / "bench" / "wrk" / "scenario.lua"

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
MEMORY_REQUESTS = int(os.environ.get("BENCH_MEMORY_REQUESTS", "100000"))
#: The memory check stops after this long even if it has not reached MEMORY_REQUESTS.
MEMORY_MAX_SECONDS = int(os.environ.get("BENCH_MEMORY_MAX_SECONDS", "600"))
#: Every scenario runs this many times, one round after another; its median run is reported.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
#: Scenario names to run (all when empty): a partial run prints and writes no RESULTS.md.
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()}
#: Active sessions a stop run stops, one per request: more than a run of ours gets through
#: (a 10 s run stopped up to 10,960 at 867ea95).
STOP_POOL = max(10_000, 1_500 * DURATION)
WARM_STOPS = 2_000  # and those its warm-up stops
WRITES_SLUG = "bench-writes"
POOL_SLUG = "bench-stop-pool"
WARM_POOL_SLUG = "bench-stop-warmup"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
#: The original's database (``../shared/peer/serve.sh`` makes ``peer_musehub``), vacuumed as ours is.
PEER_DATABASE_URL = os.environ.get("PEER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/peer_musehub")
# The side-by-side with the original (issue 13): the same routes on the same data shape,
# 50 sessions with two participants and a 50-character intent, created the same way.
VS_SLUGS = {"list": "bench-vs-list", "writes": "bench-vs-writes", "pool": "bench-vs-pool"}
VS_INTENT = "Tracking the bridge, then a rough mix of the chorus"[:50]
VS_SHAPE = {"participants": ["ana", "bo"], "intent": VS_INTENT, "location": "Studio A"}
VS_SCENARIOS = {
    "vs_list": "list, limit=50, of 50",
    "vs_get": "get one session",
    "vs_stop_stopped": "stop an already stopped session",
    "vs_stop_active": "stop an active session (a pool of ids)",
    "vs_create": "create (server picks startedAt)",
}
#: Targets of the side-by-side: (key, label).
TARGETS_VS = [("default", "ours, default settings"), ("redis", "ours, REDIS_URL"), ("peer", "original")]
#: The original's stop pool for one run: about what it can stop in DURATION seconds.
PEER_STOP_POOL = min(STOP_POOL, 1_000 * DURATION)
#: The participant scenario's guest, on every 100,000th session of the big repo.
GUEST = "cy"
GUEST_SESSIONS = range(0, seed.BIG_SESSIONS, 100_000)
_TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.IGNORECASE)

INSTALL_WRK = """bench: wrk is not installed. It is a Debian/Ubuntu package:
    sudo apt-get install -y wrk      (macOS: brew install wrk)
then run `make bench` again."""


@dataclass
class Scenario:
    name: str
    description: str
    method: str
    paths: str  # one path, or @file of paths
    token: str = "-"
    body: str | None = None


@dataclass
class Outcome:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    queries: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        """Every request answered with a success, and there were some."""
        return self.requests > 0 and self.non_2xx == 0 and self.socket_errors == 0


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "–"


# ── Preparation (in this process, on the benchmark database) ─────────────────
def prepare() -> tuple[list[Scenario], Scenario, dict]:
    """Tokens, ids, the stop pool and the scenarios that use them."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from knox.models import AuthToken

    from musehub.core.keyset import encode_cursor
    from repos_app.models import Repo
    from repos_app.services import repo_create
    from sessions_app.models import Session

    WORK.mkdir(exist_ok=True)
    user = get_user_model().objects.get(username=seed.BENCH_USER)
    _, token = AuthToken.objects.create(user=user)
    repos = Repo.objects.filter(owner=user)
    small = repos.get(slug="small-0000")
    big = repos.get(slug=seed.BIG_SLUG)
    writes, pool, warm_pool, vs_list, vs_writes, vs_pool = (
        repos.filter(slug=slug).first()
        or Repo.objects.get(pk=repo_create(owner=user, name=slug, visibility="private")["repo_id"])
        for slug in (WRITES_SLUG, POOL_SLUG, WARM_POOL_SLUG, *VS_SLUGS.values())
    )
    # What earlier runs created or left active goes: the data set is the seeded one again.
    # (Tens of thousands of extra active sessions would also mislead the planner about
    # the active=true scenario, which runs before the stop pool is filled.)
    for repo in (writes, pool, warm_pool, vs_list, vs_writes, vs_pool):
        empty_repo(repo.pk)
    add_guest(big.pk)
    vs_shape = {"intent": VS_INTENT, "with_commits": False}
    seed.copy_sessions([(vs_list.pk, 50, 51, timedelta(hours=6))], user.pk, "bench: side-by-side list", **vs_shape)
    warm_ids = fill_stop_pool(warm_pool.pk, user.pk, WARM_STOPS + 1, "stop-warmup.txt")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sessions_app_session")

    newest_first = Session.objects.filter(repo=big).order_by("-started_at", "-session_id")
    deep_time, deep_id = newest_first.values_list("started_at", "session_id")[899_999]
    one_session = Session.objects.filter(repo=small).order_by("-started_at").values_list("session_id", flat=True)[0]

    list_small = f"/api/repos/{small.pk}/sessions"
    list_big = f"/api/repos/{big.pk}/sessions"
    scenarios = [
        Scenario("ping", "reference: DRF APIView, constant JSON, no auth", "GET", "/bench/ping"),
        Scenario(
            "naive_list",
            "reference: ListAPIView + ModelSerializer, same 50 rows, no auth",
            "GET",
            f"/bench/naive/{small.pk}",
        ),
        Scenario("list_small", "list, first page, private repo of 50", "GET", list_small, token),
        Scenario("list_1m_first", "list, first page, repo of 1,000,000", "GET", list_big, token),
        Scenario(
            "list_1m_deep",
            "list, page 18,001 (cursor) of the 1,000,000",
            "GET",
            f"{list_big}?cursor={encode_cursor(deep_time, deep_id)}",
            token,
        ),
        Scenario("list_1m_active", "list, active=true, repo of 1,000,000", "GET", f"{list_big}?active=true", token),
        Scenario(
            "list_1m_participant",
            f"list, participant={GUEST} ({len(GUEST_SESSIONS)} of the 1,000,000), repo of 1,000,000",
            "GET",
            f"{list_big}?participant={GUEST}",
            token,
        ),
        Scenario("get", "get one session", "GET", f"{list_small}/{one_session}", token),
        Scenario(
            "create",
            "create (server picks startedAt)",
            "POST",
            f"/api/repos/{writes.pk}/sessions",
            token,
            json.dumps({"intent": "bench", "participants": ["ana"]}),
        ),
        Scenario("stop", "stop an active session", "POST", f"@{WORK / 'stop.txt'}", token, "{}"),
    ]
    # The participant scenario is left out: its COUNT over a million rows would make the
    # memory check's reads a test of that one query.
    reads = [s.paths for s in scenarios if s.method == "GET" and s.token != "-" and s.name != "list_1m_participant"]
    (WORK / "reads.txt").write_text("".join(path + "\n" for path in reads))
    mixed_reads = Scenario("mixed_reads", "the authenticated reads, in turn", "GET", f"@{WORK / 'reads.txt'}", token)
    vs_one = Session.objects.filter(repo=vs_list).order_by("-started_at").values_list("session_id", flat=True)[0]
    vs_list_path = f"/api/repos/{vs_list.pk}/sessions"
    vs_scenarios = {
        "vs_list": Scenario("vs_list", VS_SCENARIOS["vs_list"], "GET", f"{vs_list_path}?limit=50", token),
        "vs_get": Scenario("vs_get", VS_SCENARIOS["vs_get"], "GET", f"{vs_list_path}/{vs_one}", token),
        "vs_stop_stopped": Scenario(
            "vs_stop_stopped", VS_SCENARIOS["vs_stop_stopped"], "POST", f"{vs_list_path}/{vs_one}/stop", token, "{}"
        ),
        "vs_stop_active": Scenario(
            "vs_stop_active", VS_SCENARIOS["vs_stop_active"], "POST", f"@{WORK / 'vs-stop.txt'}", token, "{}"
        ),
        "vs_create": Scenario(
            "vs_create",
            VS_SCENARIOS["vs_create"],
            "POST",
            f"/api/repos/{vs_writes.pk}/sessions",
            token,
            json.dumps(VS_SHAPE),
        ),
    }
    context = {
        "report_repos": (big.pk, small.pk, token),  # bench/reports.py
        "pool_repo": pool.pk,
        "vs_pool_repo": vs_pool.pk,
        "user_id": user.pk,
        # Active sessions kept for the query counts' stops, one per scenario and settings.
        "reserved_stops": warm_ids[-4:],
        "vs_scenarios": vs_scenarios,
    }
    return scenarios, mixed_reads, context


def prepare_peer(peer: peers.Peer) -> dict:
    """The original's side of the side-by-side: a repo of 50 stopped sessions shaped like
    ours, a repo for creates, and the stop scenarios (its pool is filled for each run)."""
    list_repo = peer.new_repo("vs-list")
    ids = peer.create_sessions(list_repo, 50, VS_SHAPE, stop=True)
    writes = peer.new_repo("vs-writes")
    base = f"/api/v1/repos/{list_repo}/sessions"
    token = peer.token
    return {
        "vs_list": Scenario("vs_list", VS_SCENARIOS["vs_list"], "GET", f"{base}?limit=50", token),
        "vs_get": Scenario("vs_get", VS_SCENARIOS["vs_get"], "GET", f"{base}/{ids[-1]}", token),
        "vs_stop_stopped": Scenario(
            "vs_stop_stopped", VS_SCENARIOS["vs_stop_stopped"], "POST", f"{base}/{ids[-1]}/stop", token, "{}"
        ),
        "vs_stop_active": Scenario(
            "vs_stop_active", VS_SCENARIOS["vs_stop_active"], "POST", f"@{WORK / 'peer-stop.txt'}", token, "{}"
        ),
        "vs_create": Scenario(
            "vs_create",
            VS_SCENARIOS["vs_create"],
            "POST",
            f"/api/v1/repos/{writes}/sessions",
            token,
            json.dumps(VS_SHAPE),
        ),
    }


def fill_peer_stop_pool(peer: peers.Peer, count: int) -> None:
    """``count`` active sessions of the original, in a new repo; their stop paths to ``WORK/peer-stop.txt``."""
    repo = peer.new_repo("vs-pool")
    ids = peer.create_sessions(repo, count, VS_SHAPE, stop=False)
    (WORK / "peer-stop.txt").write_text("".join(f"/api/v1/repos/{repo}/sessions/{i}/stop\n" for i in ids))


def add_guest(repo_id: str) -> None:
    """A guest on a few sessions of the big repo, for the participant scenario: a filter that
    matches every row or none would measure a full count or a full scan, not the filter."""
    from sessions_app.models import Session

    starts = [seed.T0 + timedelta(minutes=5) * n for n in GUEST_SESSIONS]
    Session.objects.filter(repo_id=repo_id, started_at__in=starts).update(participants=["ana", "bo", GUEST])


def drain(base: str) -> None:
    """Wait until the server has answered what a run left queued: wrk stops sending, but
    gunicorn still serves the requests its sockets hold, and they would slow the next run."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=120):
                return
        except OSError:
            time.sleep(0.5)


def median_run(measured: list[Outcome]) -> Outcome:
    """The run with the median req/s (a run, not an average: its latencies belong to it);
    every run's req/s is kept in ``extra["runs"]``."""
    chosen = sorted(measured, key=lambda o: o.rps)[len(measured) // 2]
    if len(measured) > 1:
        chosen.extra["runs"] = [o.rps for o in measured]
    return chosen


def empty_repo(repo_id: str) -> None:
    """Delete the sessions of ``repo_id`` (one the benchmark fills itself)."""
    from repos_app.models import Repo
    from sessions_app.models import Session

    Session.objects.filter(repo_id=repo_id).delete()
    Repo.objects.filter(pk=repo_id).update(session_count=0)


def fill_stop_pool(repo_id: str, user_id: int, count: int, filename: str, **shape) -> list[str]:
    """``count`` active sessions in ``repo_id``; their stop paths go to ``WORK/filename``
    (all but the last, which is returned too and kept for the query count)."""
    from sessions_app.models import Session

    seed.copy_sessions([(repo_id, count, 1, timedelta(seconds=1))], user_id, f"bench: {filename}", **shape)
    ids = Session.objects.filter(repo_id=repo_id).order_by("started_at").values_list("session_id", flat=True)
    paths = [f"/api/repos/{repo_id}/sessions/{session_id}/stop" for session_id in ids]
    (WORK / filename).write_text("".join(path + "\n" for path in paths[:-1]))
    return paths


def count_queries(scenarios: list[Scenario], reserved_stops: list[str]) -> dict[str, int]:
    """Data statements one request of each scenario runs (transaction control not counted);
    a stop scenario stops one of ``reserved_stops``."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counts = {}
    logging.getLogger("musehub.access").disabled = True  # the server's log is the one to read
    for scenario in scenarios:
        path = reserved_stops.pop() if scenario.name in ("stop", "vs_stop_active") else scenario.paths
        headers = {"Authorization": f"Bearer {scenario.token}"} if scenario.token != "-" else {}
        with CaptureQueriesContext(connection) as captured:
            if scenario.method == "GET":
                response = client.get(path, headers=headers)
            else:
                response = client.post(path, scenario.body, content_type="application/json", headers=headers)
        assert response.status_code < 300, (scenario.name, response.status_code, response.content[:300])
        counts[scenario.name] = sum(
            1 for q in captured.captured_queries if not _TRANSACTION_CONTROL.match(q["sql"].lstrip())
        )
    logging.getLogger("musehub.access").disabled = False
    return counts


# ── The server ────────────────────────────────────────────────────────────────
class Server:
    """gunicorn with the project's gunicorn.conf.py and bench.settings on a free port."""

    def __init__(self, database_url: str, redis_url: str = "") -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = WORK / ("gunicorn-redis.log" if redis_url else "gunicorn.log")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url,
            "GUNICORN_MAX_REQUESTS": "0",  # no recycling: the memory check needs the same workers
        }
        env.pop("REDIS_URL", None)
        if redis_url:
            env["REDIS_URL"] = redis_url
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        sys.exit(f"bench: gunicorn did not start; see {self.log_path}")

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return sorted(int(child) for child in children)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def redis_available(url: str) -> str:
    """Why Redis at ``url`` cannot be used, or "" when it answers."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except (redis.RedisError, ValueError) as error:
        return f"Redis at {url} does not answer ({error})"
    return ""


def vacuum(peer_running: bool) -> None:
    """``VACUUM ANALYZE`` ours and, when it runs, the original's database: what autovacuum
    would have done by now on a server where it is on."""
    import psycopg
    from django.db import connection

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    if peer_running:
        try:
            with psycopg.connect(PEER_DATABASE_URL, autocommit=True, connect_timeout=5) as peer_db:
                peer_db.execute("VACUUM ANALYZE")
        except psycopg.Error as error:
            print(f"bench: the original's database was not vacuumed: {error}", file=sys.stderr)
    print(f"bench: vacuumed in {time.monotonic() - started:.1f} s", file=sys.stderr)


def pool_active_count(pool_repo_id: str) -> int:
    from django.db import connection

    from sessions_app.models import Session

    try:
        return Session.objects.filter(repo_id=pool_repo_id, is_active=True).count()
    finally:
        connection.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def run_wrk(base: str, scenario: Scenario, seconds: int) -> Outcome:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base,
        "--",
        scenario.method,
        scenario.paths,
        scenario.token,
        str(THREADS),
    ]
    if scenario.body is not None:
        command.append(scenario.body)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        sys.exit(f"bench: wrk failed on {scenario.name}:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Outcome(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=data["non_2xx_3xx"],
        socket_errors=data["socket_errors"],
    )


# ── Report ────────────────────────────────────────────────────────────────────
#: (scenario, measure, reference, bound, "min" or "max"): what issue 5 asks of one run.
TARGETS = [
    ("list_small", "rps", "naive_list", 2.5, "min"),
    ("get", "rps", "ping", 0.5, "min"),
    ("stop", "rps", "ping", 0.4, "min"),
    ("create", "rps", "ping", 0.35, "min"),
    ("list_1m_first", "p50", "list_small", 1.2, "max"),
    ("list_1m_deep", "p50", "list_small", 1.2, "max"),
    ("list_1m_active", "p50", "list_small", 1.5, "max"),
    ("list_1m_participant", "p50", "list_small", 1.5, "max"),
]
MEMORY_GROWTH_LIMIT = 0.10


def environment(database_url: str) -> dict[str, str]:
    import django
    import gunicorn
    import psycopg
    import rest_framework
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")), cpu
        )
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return {
        "Date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "Commit": commit.stdout.strip() or "unknown",
        "Machine": f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        "Load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python": platform.python_version(),
        "Django / DRF": f"{django.get_version()} / {rest_framework.VERSION}",
        "psycopg / gunicorn": f"{psycopg.__version__} / {gunicorn.__version__}",
        "PostgreSQL": pg_version,
        "wrk": (wrk.stdout + wrk.stderr).splitlines()[0] if (wrk.stdout + wrk.stderr) else "unknown",
        "Original (side by side)": "cgcardona/musehub c8da978 (FastAPI, uvicorn --workers 2), "
        "served by ../shared/peer/serve.sh",
        "Load": f"wrk -t{THREADS} -c{CONNECTIONS}, {DURATION} s per scenario and round, {ROUNDS} rounds, "
        f"after a {WARMUP} s warm-up; ours and the original's database vacuumed (VACUUM ANALYZE) before each round",
    }


#: Issue 13's bounds for the side-by-side: ours ÷ the original, and default ÷ Redis.
VS_WITH_REDIS_MIN = 1.3
VS_DEFAULT_MIN = 1.0
VS_DEFAULT_OF_REDIS_MIN = 0.85
P99_OF_P50_MAX = 3.0


def side_by_side(
    vs_outcomes: dict[tuple[str, str], Outcome],
    vs_stops: dict[str, list[tuple[int, int]]],
    missing: dict[str, str],
    missed: list[str],
) -> list[str]:
    """The section comparing ours (both settings) with the original, route by route."""
    labels = dict(TARGETS_VS)
    present = [key for key, _ in TARGETS_VS if not missing.get(key)]
    lines = [
        "",
        "## Side by side with the original (issue 13)",
        "",
        "The same routes on the same data shape (50 sessions with two participants and a "
        "50-character intent, made through each service's own API or the same rows by COPY; list "
        "`limit=50`), both at 2 workers on the same PostgreSQL, runs alternating between the "
        "services route by route, median runs. Ours runs twice: with the default settings (no "
        "`REDIS_URL`: throttle counters in an UNLOGGED table) and with `REDIS_URL`.",
        "",
    ]
    for key, why in missing.items():
        if why:
            lines += [f"**{labels[key]} not benchmarked**: {why}.", ""]
    header = "| route |" + "".join(f" {labels[k]} req/s | p50 ms | p99 ms | queries |" for k in present)
    ratios = []
    if "peer" in present:
        ratios += [k for k in ("default", "redis") if k in present]
    header += "".join(f" {labels[k]} ÷ original |" for k in ratios)
    with_default_of_redis = "default" in present and "redis" in present
    if with_default_of_redis:
        header += " default ÷ Redis |"
    lines += [header, "|---|" + "---:|" * (header.count("|") - 2)]
    for name, what in VS_SCENARIOS.items():
        row = f"| {name} ({what}) |"
        for key in present:
            o = vs_outcomes.get((name, key))
            row += (
                f" {o.rps:,.0f} | {o.p50_ms:.2f} | {o.p99_ms:.2f} | {o.queries if o.queries is not None else '–'} |"
                if o
                else " – | – | – | – |"
            )
        peer_o = vs_outcomes.get((name, "peer"))
        for key in ratios:
            row += f" {_ratio(vs_outcomes[(name, key)].rps, peer_o.rps)} |"
        if with_default_of_redis:
            row += f" {_ratio(vs_outcomes[(name, 'default')].rps, vs_outcomes[(name, 'redis')].rps)} |"
        lines.append(row)
    lines += [
        "",
        "Each run's req/s: "
        + "; ".join(
            f"{name} [{key}] " + " / ".join(f"{rps:,.0f}" for rps in o.extra.get("runs", [o.rps]))
            for (name, key), o in vs_outcomes.items()
        )
        + ".",
    ]
    for key, runs in vs_stops.items():
        short = [(requests, pool) for requests, pool in runs if requests > pool]
        lines += [
            "",
            f"Stop of active sessions, {labels[key]}: pools of {runs[0][1]:,} per run; "
            + (
                f"{len(short)} run(s) sent more stops than the pool held (the rest stopped stopped sessions)."
                if short
                else "no run emptied its pool."
            ),
        ]
    lines += ["", "| target (issue 13) | measured | verdict |", "|---|---:|---|"]

    def verdict(label: str, ratio: float, bound: float, kind: str = "min") -> None:
        met = ratio >= bound if kind == "min" else ratio <= bound
        if not met:
            missed.append(label)
        lines.append(
            f"| {label} | {ratio:.2f} × | {'met' if met else f'**missed** by {abs(ratio - bound) / bound:.0%}'} |"
        )

    for name in VS_SCENARIOS:
        peer_o = vs_outcomes.get((name, "peer"))
        if peer_o and (name, "redis") in vs_outcomes:
            verdict(
                f"{name}: REDIS_URL ≥ {VS_WITH_REDIS_MIN} × original",
                vs_outcomes[(name, "redis")].rps / peer_o.rps,
                VS_WITH_REDIS_MIN,
            )
        if peer_o and (name, "default") in vs_outcomes:
            verdict(
                f"{name}: default ≥ {VS_DEFAULT_MIN} × original",
                vs_outcomes[(name, "default")].rps / peer_o.rps,
                VS_DEFAULT_MIN,
            )
        if with_default_of_redis:
            verdict(
                f"{name}: default ≥ {VS_DEFAULT_OF_REDIS_MIN} × REDIS_URL",
                vs_outcomes[(name, "default")].rps / vs_outcomes[(name, "redis")].rps,
                VS_DEFAULT_OF_REDIS_MIN,
            )
        for key in ("default", "redis"):
            o = vs_outcomes.get((name, key))
            if o and o.p50_ms:
                verdict(f"{name} [{key}]: p99 ≤ {P99_OF_P50_MAX} × p50", o.p99_ms / o.p50_ms, P99_OF_P50_MAX, "max")
    return lines


def write_results(
    env: dict[str, str],
    scenarios: list[Scenario],
    outcomes: dict[str, Outcome],
    memory: list[tuple[int, int, int]],
    memory_requests: int,
    stops_done: int,
    vs_outcomes: dict[tuple[str, str], Outcome],
    vs_stops: dict[str, list[tuple[int, int]]],
    missing: dict[str, str],
) -> list[str]:
    ping, naive = outcomes["ping"], outcomes["naive_list"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`); rerun it to replace this file. Numbers from a",
        "busy machine are noisy: compare ratios from one run, and look at the load average.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in env.items()),
        "",
        "## Scenarios (ours, default settings: no `REDIS_URL`)",
        "",
        "| scenario | what | req/s | p50 ms | p99 ms | queries/request | × ping | × naive list | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scenarios:
        o = outcomes[s.name]
        lines.append(
            f"| {s.name} | {s.description} | {o.rps:,.0f} | {o.p50_ms:.2f} | {o.p99_ms:.2f} | {o.queries} "
            f"| {_ratio(o.rps, ping.rps)} | {_ratio(o.rps, naive.rps)} | {o.non_2xx + o.socket_errors} |"
        )
    lines += [
        "",
        "Queries per request are counted with the token remembered by the worker, as under load "
        "(a worker asks the database about a token once per `TOKEN_CACHE_SECONDS`, 5 s), and include "
        "the throttle's counter statement (default settings: in PostgreSQL).",
        "",
        f"Each scenario ran {ROUNDS} times, in rounds (every scenario once per round, in the order above), "
        "and the table shows its median run by req/s; every ratio is between median runs. Each run's "
        "req/s: "
        + "; ".join(
            f"{name} " + " / ".join(f"{rps:,.0f}" for rps in outcomes[name].extra.get("runs", [])) for name in outcomes
        )
        + ".",
        "",
        f"The stop runs stopped {stops_done:,} active sessions in all (each request one, from a "
        f"pool of {STOP_POOL:,} refilled for each run; a request after a pool ran out would stop "
        "an already stopped one).",
        "",
        "## Targets (issue 5)",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
    ]
    missed = []
    for name, measure, reference, bound, kind in TARGETS:
        o, ref = outcomes[name], outcomes[reference]
        what = "req/s" if measure == "rps" else "p50 latency"
        sign = "≥" if kind == "min" else "≤"
        label = f"{name} {what} {sign} {bound} × {reference}"
        if not (o.ok and ref.ok):
            missed.append(name)
            lines.append(f"| {label} | – | **not measured**: failed requests or none at all |")
            continue
        ratio = o.rps / ref.rps if measure == "rps" else o.p50_ms / ref.p50_ms
        met = ratio >= bound if kind == "min" else ratio <= bound
        verdict = "met" if met else f"**missed** by {abs(ratio - bound) / bound:.0%}"
        if not met:
            missed.append(name)
        lines.append(f"| {label} | {ratio:.2f} × | {verdict} |")
    lines += side_by_side(vs_outcomes, vs_stops, missing, missed)
    lines += [
        "",
        f"## Worker memory over {memory_requests:,} requests",
        "",
        "| worker pid | RSS after warm-up (MiB) | RSS after (MiB) | growth | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    if memory_requests < MEMORY_REQUESTS:
        missed.append("memory (too few requests)")
        lines += [
            f"**Not conclusive**: the check stopped after {MEMORY_MAX_SECONDS} s, short of "
            f"{MEMORY_REQUESTS:,} requests (BENCH_MEMORY_MAX_SECONDS).",
            "",
        ]
    for pid, before, after in memory:
        growth = (after - before) / before
        ok = growth <= MEMORY_GROWTH_LIMIT
        if not ok:
            missed.append(f"memory of worker {pid}")
        lines.append(
            f"| {pid} | {before / 1024:.1f} | {after / 1024:.1f} | {growth:+.1%} | "
            f"{'met (≤ 10%)' if ok else '**missed** (> 10%)'} |"
        )
    lines += ["", f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.", ""]
    RESULTS.write_text("\n".join(lines))
    return missed


# ── Main ──────────────────────────────────────────────────────────────────────
def count_all(scenarios: list[Scenario], vs: list[Scenario], context: dict) -> dict[str, dict[str, int]]:
    """Queries per request of each scenario, under each throttle store the servers use, in
    the steady state of a load test: the worker remembers the token (it asks the database
    about a token once per ``TOKEN_CACHE_SECONDS``), so the token's query is not counted."""
    from django.test import Client
    from django.test.utils import override_settings

    from musehub.api import authentication

    stores = {
        "default": {"BACKEND": "musehub.api.counters.DatabaseCounters", "LOCATION": "default"},
        "redis": {"BACKEND": "musehub.api.counters.RedisCounters", "LOCATION": REDIS_URL},
    }
    reserved = list(context["reserved_stops"])
    counts = {}
    for key, store in stores.items():
        if key == "redis" and context["redis_missing"]:
            continue
        with override_settings(THROTTLE_COUNTERS=store, TOKEN_CACHE_SECONDS=3600):
            authentication._accepted.clear()
            token = next(s.token for s in scenarios if s.token != "-")
            Client(HTTP_HOST="127.0.0.1").get("/api/repos", headers={"Authorization": f"Bearer {token}"})
            counts[key] = count_queries(scenarios + vs if key == "default" else vs, reserved)
        authentication._accepted.clear()
    return counts


def run_one(base: str, scenario: Scenario, queries: int | None, ours: bool = True) -> Outcome:
    outcome = run_wrk(base, scenario, DURATION)
    outcome.queries = queries
    if ours:
        drain(base)
    return outcome


def log_run(label: str, outcome: Outcome) -> None:
    print(
        f"bench: {label:42} {outcome.rps:8,.0f} req/s  p50 {outcome.p50_ms:7.2f} ms  "
        f"p99 {outcome.p99_ms:7.2f} ms  non-2xx {outcome.non_2xx}",
        file=sys.stderr,
    )


def main() -> int:
    # WhiteNoise's note that no collectstatic was run: the benchmark serves no static files.
    warnings.filterwarnings("ignore", message="No directory at")
    if shutil.which("wrk") is None:
        print(INSTALL_WRK, file=sys.stderr)
        return 2
    database_url = seed.database_url()
    os.environ.pop("REDIS_URL", None)  # this process counts as the default settings do
    seed.setup_django(database_url)
    seed.seed()
    env = environment(database_url)
    scenarios, mixed_reads, context = prepare()
    vs_ours = context["vs_scenarios"]
    context["redis_missing"] = redis_available(REDIS_URL)
    queries = count_all(scenarios, list(vs_ours.values()), context)
    for key, counts in queries.items():
        print(
            f"bench: queries per request ({key}): " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr
        )

    peer, peer_missing = peers.start()
    if peer is None:
        print(f"bench: the original is not benchmarked: {peer_missing}", file=sys.stderr)
    vs_targets: dict[str, tuple[str, dict[str, Scenario]]] = {}  # key -> (base, scenarios)

    from django.db import connection

    connection.close()  # nothing of this process stays in the way of the server's
    server = Server(database_url)
    redis_server = None if context["redis_missing"] else Server(database_url, REDIS_URL)
    if context["redis_missing"]:
        print(f"bench: ours with REDIS_URL is not benchmarked: {context['redis_missing']}", file=sys.stderr)
    try:
        vs_targets["default"] = (server.base, vs_ours)
        if redis_server is not None:
            vs_targets["redis"] = (redis_server.base, vs_ours)
        if peer is not None:
            try:
                vs_targets["peer"] = (peer.base, prepare_peer(peer))
            except peers.PeerError as error:
                peer_missing = f"the original failed while preparing: {error}"
                print(f"bench: {peer_missing}", file=sys.stderr)
                peer.stop_server()
                peer = None
        print(f"bench: gunicorn on {server.base}, workers {server.workers()}", file=sys.stderr)
        warm = {s.name: s for s in scenarios}
        warm["stop"] = Scenario("stop", "", "POST", f"@{WORK / 'stop-warmup.txt'}", scenarios[-1].token, "{}")
        for s in scenarios:
            run_wrk(server.base, warm[s.name], WARMUP)
            drain(server.base)
        for base, vs in vs_targets.values():
            for name in ("vs_list", "vs_get", "vs_stop_stopped", "vs_create"):
                run_wrk(base, vs[name], WARMUP)
        # Memory is measured from here: every route has run, and so have pages of each size.
        run_wrk(server.base, mixed_reads, WARMUP)
        workers = server.workers()
        before = {pid: rss_kib(pid) for pid in workers}

        # Rounds, not one long run per scenario: throughput on a shared machine drifts by tens
        # of percent within minutes, and a drift during one scenario's only run would land
        # in every ratio taken to it. Each scenario's median run is the one reported.
        runs: dict[str, list[Outcome]] = {s.name: [] for s in scenarios}
        vs_runs: dict[tuple[str, str], list[Outcome]] = {}
        stops_done = 0
        vs_stops: dict[str, list[tuple[int, int]]] = {}  # key -> (requests, pool) per run
        for round_number in range(1, ROUNDS + 1):
            vacuum(peer_running=peer is not None)
            for s in scenarios:
                if ONLY and s.name not in ONLY:
                    continue
                if s.name == "stop":  # filled only now, and emptied after: see prepare()
                    fill_stop_pool(context["pool_repo"], context["user_id"], STOP_POOL + 1, "stop.txt")
                    connection.close()
                outcome = run_one(server.base, s, queries["default"][s.name])
                runs[s.name].append(outcome)
                log_run(f"round {round_number}/{ROUNDS} {s.name}", outcome)
                if s.name == "stop":
                    stops_done += STOP_POOL + 1 - pool_active_count(context["pool_repo"])
                    empty_repo(context["pool_repo"])
                    connection.close()
            # Side by side: each route on every target in turn, the order turning each round.
            keys = list(vs_targets)
            keys = keys[round_number % len(keys) :] + keys[: round_number % len(keys)]
            for name in VS_SCENARIOS:
                if ONLY and name not in ONLY:
                    continue
                for key in keys:
                    base, vs = vs_targets[key]
                    pool = 0
                    if name == "vs_stop_active":
                        if key == "peer":
                            pool = PEER_STOP_POOL
                            fill_peer_stop_pool(peer, pool)
                        else:
                            pool = STOP_POOL
                            fill_stop_pool(
                                context["vs_pool_repo"],
                                context["user_id"],
                                pool + 1,
                                "vs-stop.txt",
                                intent=VS_INTENT,
                                with_commits=False,
                            )
                            connection.close()
                    outcome = run_one(base, vs[name], queries.get(key, {}).get(name), ours=key != "peer")
                    vs_runs.setdefault((name, key), []).append(outcome)
                    log_run(f"round {round_number}/{ROUNDS} {name} [{key}]", outcome)
                    if pool:
                        vs_stops.setdefault(key, []).append((outcome.requests, pool))
                        if key != "peer":
                            empty_repo(context["vs_pool_repo"])
                            connection.close()
        if ONLY:
            for (name, key), measured in vs_runs.items():
                log_run(f"median {name} [{key}]", median_run(measured))
            for name, measured in runs.items():
                if measured:
                    log_run(f"median {name}", median_run(measured))
            return 0
        outcomes = {name: median_run(measured) for name, measured in runs.items()}
        vs_outcomes = {pair: median_run(measured) for pair, measured in vs_runs.items()}
        served = sum(o.requests for measured in runs.values() for o in measured)
        rate = max(outcomes["list_small"].rps, 50.0)
        memory_deadline = time.monotonic() + MEMORY_MAX_SECONDS
        while served < MEMORY_REQUESTS and time.monotonic() < memory_deadline:
            seconds = max(2, min(120, int((MEMORY_REQUESTS - served) / rate) + 1))
            print(f"bench: memory check, {served:,} requests so far; {seconds} s more reads", file=sys.stderr)
            more = run_wrk(server.base, mixed_reads, seconds)
            served += more.requests
            rate = max(more.rps, 50.0)
        if server.workers() != workers:
            sys.exit("bench: a worker was restarted during the run; memory growth cannot be measured")
        memory = [(pid, before[pid], rss_kib(pid)) for pid in workers]
        big_id, small_id, token = context["report_repos"]
        report_outcomes = reports.run(server.base, token, big_id, small_id, workers)
    finally:
        server.stop()
        if redis_server is not None:
            redis_server.stop()
        if peer is not None:
            peer.stop_server()

    missing = {"redis": context["redis_missing"], "peer": peer_missing}
    missed = write_results(env, scenarios, outcomes, memory, served, stops_done, vs_outcomes, vs_stops, missing)
    with RESULTS.open("a") as results:
        results.write(reports.markdown(report_outcomes))
    missed = [*(missed or []), *reports.missed(report_outcomes)]
    print(f"bench: wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    if missed:
        print("bench: targets missed: " + ", ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
