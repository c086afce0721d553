"""A headless Debian Chromium driven by Playwright, for tests of the admin as staff use it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MUSEHUB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--metrics-recording-only",
]
INSTALL_HINT = "install it with `apt-get install chromium` (Debian/Ubuntu)"


def _unavailable(reason: str):
    """In CI a browser that cannot start fails the run; on a developer machine it skips."""
    if os.environ.get("CI"):
        pytest.fail(f"Chromium cannot start in CI: {reason}", pytrace=False)
    pytest.skip(f"Chromium is not available ({reason}): {INSTALL_HINT}")


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """One Chromium for a test module. While it runs, Playwright's sync API keeps an event
    loop in this thread, so Django would refuse the tests' (synchronous) ORM calls and the
    test database's flushes: ``DJANGO_ALLOW_ASYNC_UNSAFE`` lifts that, only meanwhile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - dev requirements not installed
        _unavailable(f"playwright is not installed: {exc}")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no browser at {CHROMIUM}")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # any launch failure means "no usable browser"
        manager.stop()
        _restore_env(previous)
        _unavailable(str(exc).strip().splitlines()[0])
    yield chromium
    chromium.close()
    manager.stop()
    _restore_env(previous)


def _restore_env(previous: str | None) -> None:
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
