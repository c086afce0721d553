"""The reports' scenarios of ``make bench`` (issue 14): stats of the 1,000,000-session repo
and of a 50-session one, and a CSV export of the 1,000,000 with the worker's memory.

Run by ``bench/run.py`` against its gunicorn once the load rounds and the memory check are
done (an export would otherwise count in the read traffic's memory growth), one request
at a time: these are latencies of single long requests, not throughput. Also runnable
alone against a server that is already up:

    .venv/bin/python bench/reports.py http://127.0.0.1:8000 TOKEN BIG_REPO_ID SMALL_REPO_ID WORKER_PID...
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

#: Requests per stats scenario (the 1M one takes seconds each).
STATS_REQUESTS = {"stats_1m": 5, "stats_small": 100}
#: Issue 14's targets.
STATS_1M_TARGET_S = 2.0
EXPORT_RSS_TARGET_MIB = 50
#: How often a worker's RSS is sampled while the export streams.
RSS_SAMPLE_S = 0.02
READ_CHUNK = 64 * 1024


@dataclass
class Report:
    name: str
    what: str
    seconds: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.statuses) and all(status == 200 for status in self.statuses)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _get(url: str, token: str, *, sink=None) -> tuple[int, float, int]:
    """GET ``url``; (status, seconds to the last byte, bytes). The body is read in chunks
    and handed to ``sink`` (or dropped), never held whole."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status = response.status
            while chunk := response.read(READ_CHUNK):
                size += len(chunk)
                if sink is not None:
                    sink(chunk)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        # A worker killed mid-stream (gunicorn's timeout) ends the response early.
        print(f"bench: {url}: {error}", file=sys.stderr)
        status = 0
    return status, time.perf_counter() - started, size


def stats(base: str, token: str, repo_id: str, name: str, what: str) -> Report:
    report = Report(name, what)
    url = f"{base}/api/repos/{repo_id}/sessions/stats"
    for _ in range(STATS_REQUESTS[name]):
        status, seconds, _ = _get(url, token)
        report.statuses.append(status)
        report.seconds.append(seconds)
    return report


def export_csv(base: str, token: str, repo_id: str, workers: list[int]) -> Report:
    """The CSV export of ``repo_id``, with the peak RSS growth of the worker serving it."""
    report = Report("export_1m_csv", "export, format=csv, repo of 1,000,000")
    before = {pid: _rss_kib(pid) for pid in workers}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in workers:
                with contextlib.suppress(OSError, RuntimeError):  # a worker that died: the status says so
                    peak[pid] = max(peak[pid], _rss_kib(pid))
            time.sleep(RSS_SAMPLE_S)

    rows = 0
    ends_with_cr = False

    def count_rows(chunk: bytes) -> None:
        # Rows end with CRLF (a note's own newline is a bare LF); a CRLF can be split between
        # two chunks, its CR ending one and its LF starting the next.
        nonlocal rows, ends_with_cr
        rows += chunk.count(b"\r\n") + (ends_with_cr and chunk.startswith(b"\n"))
        ends_with_cr = chunk.endswith(b"\r")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        status, seconds, size = _get(f"{base}/api/repos/{repo_id}/sessions/export?format=csv", token, sink=count_rows)
    finally:
        done.set()
        sampler.join()
    report.statuses.append(status)
    report.seconds.append(seconds)
    growth = max(peak[pid] - before[pid] for pid in workers) / 1024
    report.extra = {"bytes": size, "rows": max(rows - 1, 0), "rss_growth_mib": growth}
    return report


def run(base: str, token: str, big_repo_id: str, small_repo_id: str, workers: list[int]) -> list[Report]:
    """Every report scenario, in turn."""
    reports = [
        stats(base, token, small_repo_id, "stats_small", "stats, private repo of 50"),
        stats(base, token, big_repo_id, "stats_1m", "stats, repo of 1,000,000"),
        export_csv(base, token, big_repo_id, workers),
    ]
    for report in reports:
        print(f"bench: {report.what:42} {_summary(report)}", file=sys.stderr)
    return reports


def _summary(report: Report) -> str:
    times = sorted(report.seconds)
    text = f"median {statistics.median(times):.3f} s, max {times[-1]:.3f} s, statuses {sorted(set(report.statuses))}"
    if "rss_growth_mib" in report.extra:
        extra = report.extra
        text += f", {extra['rows']:,} rows, {extra['bytes'] / 1e6:.0f} MB, peak RSS +{extra['rss_growth_mib']:.1f} MiB"
    return text


def markdown(reports: list[Report]) -> str:
    """The section ``bench/run.py`` appends to RESULTS.md."""
    by_name = {report.name: report for report in reports}
    lines = [
        "",
        "## Reports (issue 14)",
        "",
        "One request at a time, after the load rounds, on the same server.",
        "",
        "| scenario | requests | median (s) | max (s) | all 200 |",
        "|---|---:|---:|---:|---|",
    ]
    for report in reports:
        lines.append(
            f"| {report.what} | {len(report.seconds)} | {statistics.median(report.seconds):.3f} "
            f"| {max(report.seconds):.3f} | {'yes' if report.ok else 'NO: ' + str(sorted(set(report.statuses)))} |"
        )
    export = by_name["export_1m_csv"]
    big = by_name["stats_1m"]
    growth = export.extra["rss_growth_mib"]
    export_verdict = "met" if export.ok and growth < EXPORT_RSS_TARGET_MIB else "MISSED"
    median = statistics.median(big.seconds)
    stats_verdict = "met" if big.ok and median < STATS_1M_TARGET_S else "MISSED"
    lines += [
        "",
        f"- CSV export of the 1,000,000: {export.extra['rows']:,} rows, {export.extra['bytes'] / 1e6:.0f} MB in "
        f"{export.seconds[0]:.1f} s; the serving worker's peak RSS grew by {growth:.1f} MiB "
        f"(target < {EXPORT_RSS_TARGET_MIB} MiB: {export_verdict}).",
        f"- Stats of the 1,000,000: median {median:.2f} s (target < {STATS_1M_TARGET_S:.0f} s: {stats_verdict}).",
        "",
    ]
    return "\n".join(lines)


def missed(reports: list[Report]) -> list[str]:
    """The issue-14 targets these reports miss."""
    by_name = {report.name: report for report in reports}
    big, export = by_name["stats_1m"], by_name["export_1m_csv"]
    misses = []
    if not big.ok or statistics.median(big.seconds) >= STATS_1M_TARGET_S:
        misses.append("stats of the 1,000,000 within 2 s")
    if not export.ok or export.extra["rss_growth_mib"] >= EXPORT_RSS_TARGET_MIB:
        misses.append("CSV export with < 50 MiB RSS growth")
    return misses


if __name__ == "__main__":
    base, token, big_id, small_id, *pids = sys.argv[1:]
    print(markdown(run(base, token, big_id, small_id, [int(pid) for pid in pids])))
