"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium; never a downloaded browser)
against the real app served by waitress on 127.0.0.1, with the company's procedures and demo users.

One server and database for the whole session: tests create their own cases and must not assume an
empty inbox. Screenshots go to test-output/screenshots/. Without Chromium or the playwright package the
tests skip on a laptop; in CI (CI=true or OPSFLOW_REQUIRE_BROWSER=1) that is a failure.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.core import Engine
from engine.settings import Settings
from tests.api.conftest import PASSWORD, cheap_passwords
from tests.web.conftest import FORMS, ROOT, deploy_company

CHROMIUM = os.environ.get("OPSFLOW_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def _required() -> bool:
    return bool(os.environ.get("OPSFLOW_REQUIRE_BROWSER") or os.environ.get("CI"))


def _missing(reason: str) -> None:
    if _required():
        pytest.fail(f"browser tests are mandatory here but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Iterator[str]:
    """The app on a free port; yields its base URL."""
    from waitress.server import create_server

    from api import create_app
    from engine.jobs import Worker

    if not (ROOT / "api" / "web" / "static" / "build" / "editor.js").exists():
        _missing("the browser assets are not built (make setup runs npm ci and npm run build)")
    path = tmp_path_factory.mktemp("live") / "live.db"
    shutil.copyfile(migrated_db, path)
    settings = Settings(database_url=f"sqlite:///{path}", forms_dir=str(FORMS), secret_key="browser-secret",
                        login_max_failures=50)
    engine = Engine(settings)
    app = create_app(settings, engine, passwords=cheap_passwords())
    deploy_company(app)
    worker = Worker(engine.jobs, "browser-tests")
    threading.Thread(target=worker.run, daemon=True).start()
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    worker.stop()
    engine.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserPage:
    """A fresh browser context (its own cookies) with the page's errors collected."""

    def __init__(self, context: Any, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A failed load is reported by _response, which knows whether it was a page (an answer, such as a
        # form refused with 422) or a script, style or diagram the page needed (an error).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text} at {message.location.get('url', '?')}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} for {response.request.resource_type} {response.url}")

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def login(self, username: str, password: str = PASSWORD) -> BrowserPage:
        self.goto("/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit].primary")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, f"{username} could not sign in"
        return self

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target


@pytest.fixture
def browser_page(chromium: Any, live_server: str) -> Iterator[Callable[..., BrowserPage]]:
    """browser_page(locale="en-US") -> a new BrowserPage; each call is a separate browser context."""
    contexts: list[Any] = []

    def open_page(locale: str = "en-US", width: int = 1366, height: int = 900) -> BrowserPage:
        context = chromium.new_context(locale=locale, viewport={"width": width, "height": height})
        contexts.append(context)
        return BrowserPage(context, live_server)

    yield open_page
    for context in contexts:
        context.close()
