"""Without a usable Chromium the browser tests skip on a developer machine (saying how to
install it) and fail in CI, where they must run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_browser_tests_without_chromium(tmp_path, *, ci: bool) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update(MUSEHUB_CHROMIUM=str(tmp_path / "no-chromium-here"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    if ci:
        env["CI"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--nomigrations",
            "tests/browser/test_admin_browser.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_skips_with_install_hint_on_a_developer_machine(tmp_path):
    result = run_browser_tests_without_chromium(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout
    assert "apt-get install chromium" in result.stdout


@pytest.mark.slow
def test_fails_in_ci(tmp_path):
    result = run_browser_tests_without_chromium(tmp_path, ci=True)
    assert result.returncode != 0
    assert "Chromium cannot start in CI" in result.stdout
    assert "1 error" in result.stdout or "1 failed" in result.stdout
