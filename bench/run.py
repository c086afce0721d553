"""``make bench``: load-test every session route against two in-run references.

1. Seed the benchmark database if needed (``bench/seed.py``: a repo with 1,000,000
   sessions, 1,000 repos with 50).
2. Issue fresh tokens, a deep cursor, and empty the repos the write scenarios fill.
3. Count each scenario's queries with one request in this process.
4. Start gunicorn with the project's own ``gunicorn.conf.py`` (settings ``bench.settings``:
   the production settings plus the reference views) on a free loopback port.
5. Drive each scenario with ``wrk`` (``bench/wrk/scenario.lua``, real Bearer tokens),
   ``BENCH_ROUNDS`` (3) times in rounds, and keep each one's median run; then
   keep up read traffic until the workers have served 100,000 requests since warm-up, and
   compare their memory before and after.
6. Write ``bench/RESULTS.md``.

Knobs (environment): BENCH_DATABASE_URL, BENCH_DURATION (seconds per scenario, 10),
BENCH_ROUNDS (3), BENCH_WARMUP (2), BENCH_THREADS (2), BENCH_CONNECTIONS (16),
BENCH_MEMORY_REQUESTS (100000).
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

from bench import seed  # noqa: E402

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
STOP_POOL = 10_000  # active sessions a stop run stops, one per request
WARM_STOPS = 2_000  # and those its warm-up stops
WRITES_SLUG = "bench-writes"
POOL_SLUG = "bench-stop-pool"
WARM_POOL_SLUG = "bench-stop-warmup"
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
    writes, pool, warm_pool = (
        repos.filter(slug=slug).first() or Repo.objects.get(pk=repo_create(owner=user, name=slug)["repo_id"])
        for slug in (WRITES_SLUG, POOL_SLUG, WARM_POOL_SLUG)
    )
    # What earlier runs created or left active goes: the data set is the seeded one again.
    # (Tens of thousands of extra active sessions would also mislead the planner about
    # the active=true scenario, which runs before the stop pool is filled.)
    for repo in (writes, pool, warm_pool):
        empty_repo(repo.pk)
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
    reads = [s.paths for s in scenarios if s.method == "GET" and s.token != "-"]
    (WORK / "reads.txt").write_text("".join(path + "\n" for path in reads))
    mixed_reads = Scenario("mixed_reads", "the authenticated reads, in turn", "GET", f"@{WORK / 'reads.txt'}", token)
    context = {"pool_repo": pool.pk, "user_id": user.pk, "reserved_stop": warm_ids[-1]}
    return scenarios, mixed_reads, context


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


def fill_stop_pool(repo_id: str, user_id: int, count: int, filename: str) -> list[str]:
    """``count`` active sessions in ``repo_id``; their stop paths go to ``WORK/filename``
    (all but the last, which is returned too and kept for the query count)."""
    from sessions_app.models import Session

    seed.copy_sessions([(repo_id, count, 1, timedelta(seconds=1))], user_id, f"bench: {filename}")
    ids = Session.objects.filter(repo_id=repo_id).order_by("started_at").values_list("session_id", flat=True)
    paths = [f"/api/repos/{repo_id}/sessions/{session_id}/stop" for session_id in ids]
    (WORK / filename).write_text("".join(path + "\n" for path in paths[:-1]))
    return paths


def count_queries(scenarios: list[Scenario], context: dict) -> dict[str, int]:
    """Data statements one request of each scenario runs (transaction control not counted)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counts = {}
    logging.getLogger("musehub.access").disabled = True  # the server's log is the one to read
    for scenario in scenarios:
        path = context["reserved_stop"] if scenario.name == "stop" else scenario.paths
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

    def __init__(self, database_url: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = WORK / "gunicorn.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url,
            "GUNICORN_MAX_REQUESTS": "0",  # no recycling: the memory check needs the same workers
        }
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


def run_wrk(server: Server, scenario: Scenario, seconds: int) -> Outcome:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        server.base,
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
        "Load": f"wrk -t{THREADS} -c{CONNECTIONS}, {DURATION} s per scenario and round, {ROUNDS} rounds, "
        f"after a {WARMUP} s warm-up",
    }


def write_results(
    env: dict[str, str],
    scenarios: list[Scenario],
    outcomes: dict[str, Outcome],
    memory: list[tuple[int, int, int]],
    memory_requests: int,
    stops_done: int,
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
        "## Scenarios",
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
def main() -> int:
    # WhiteNoise's note that no collectstatic was run: the benchmark serves no static files.
    warnings.filterwarnings("ignore", message="No directory at")
    if shutil.which("wrk") is None:
        print(INSTALL_WRK, file=sys.stderr)
        return 2
    database_url = seed.database_url()
    seed.setup_django(database_url)
    seed.seed()
    env = environment(database_url)
    scenarios, mixed_reads, context = prepare()
    queries = count_queries(scenarios, context)
    print("bench: queries per request: " + ", ".join(f"{k} {v}" for k, v in queries.items()), file=sys.stderr)

    from django.db import connection

    connection.close()  # nothing of this process stays in the way of the server's
    server = Server(database_url)
    try:
        print(f"bench: gunicorn on {server.base}, workers {server.workers()}", file=sys.stderr)
        warm = {s.name: s for s in scenarios}
        warm["stop"] = Scenario("stop", "", "POST", f"@{WORK / 'stop-warmup.txt'}", scenarios[-1].token, "{}")
        for s in scenarios:
            run_wrk(server, warm[s.name], WARMUP)
        # Memory is measured from here: every route has run, and so have pages of each size.
        run_wrk(server, mixed_reads, WARMUP)
        workers = server.workers()
        before = {pid: rss_kib(pid) for pid in workers}

        # Rounds, not one long run per scenario: throughput on a shared machine drifts by tens
        # of percent within minutes, and a drift during one scenario's only run would land
        # in every ratio taken to it. Each scenario's median run is the one reported.
        runs: dict[str, list[Outcome]] = {s.name: [] for s in scenarios}
        stops_done = 0
        for round_number in range(1, ROUNDS + 1):
            for s in scenarios:
                if s.name == "stop":  # filled only now, and emptied after: see prepare()
                    fill_stop_pool(context["pool_repo"], context["user_id"], STOP_POOL + 1, "stop.txt")
                    connection.close()
                outcome = run_wrk(server, s, DURATION)
                outcome.queries = queries[s.name]
                runs[s.name].append(outcome)
                print(
                    f"bench: round {round_number}/{ROUNDS} {s.name:15} {outcome.rps:8,.0f} req/s  "
                    f"p50 {outcome.p50_ms:6.2f} ms  p99 {outcome.p99_ms:6.2f} ms  non-2xx {outcome.non_2xx}",
                    file=sys.stderr,
                )
                if s.name == "stop":
                    stops_done += STOP_POOL + 1 - pool_active_count(context["pool_repo"])
                    empty_repo(context["pool_repo"])
                    connection.close()
        outcomes = {name: median_run(measured) for name, measured in runs.items()}
        served = sum(o.requests for measured in runs.values() for o in measured)
        rate = max(outcomes["list_small"].rps, 50.0)
        memory_deadline = time.monotonic() + MEMORY_MAX_SECONDS
        while served < MEMORY_REQUESTS and time.monotonic() < memory_deadline:
            seconds = max(2, min(120, int((MEMORY_REQUESTS - served) / rate) + 1))
            print(f"bench: memory check, {served:,} requests so far; {seconds} s more reads", file=sys.stderr)
            more = run_wrk(server, mixed_reads, seconds)
            served += more.requests
            rate = max(more.rps, 50.0)
        if server.workers() != workers:
            sys.exit("bench: a worker was restarted during the run; memory growth cannot be measured")
        memory = [(pid, before[pid], rss_kib(pid)) for pid in workers]
    finally:
        server.stop()

    missed = write_results(env, scenarios, outcomes, memory, served, stops_done)
    print(f"bench: wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    if missed:
        print("bench: targets missed: " + ", ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
