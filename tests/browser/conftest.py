"""A real headless Chromium (Debian's package) driven by Playwright."""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed; bin/test installs it.")
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls happen between its calls, never inside them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    # A busy two-core machine may be slow; a wrong page still fails at once.
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture
def sign_in(live_server, page):
    """Make a superuser and sign in as them, landing on ``next_url``."""

    def go(next_url):
        from django.contrib.auth.models import User

        User.objects.create_superuser("ada", "ada@example.com", "a long password")
        page.goto(f"{live_server.url}/admin/login/?next={next_url}")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "a long password")
        page.click("input[type=submit]")

    return go


@pytest.fixture
def screenshot(page):
    """Save a screenshot of the page under var/test-artifacts/."""

    def save(name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    return save
