"""Browser fixtures: the system Chromium under Playwright, and the demo portal at a real broker.

Async API, not sync: the broker, the mock IdP and the portal already run in uvicorn threads
(`tests.servers.serve`), so the test's own event loop is free for Playwright, and registering
the portal (`RunningBroker.add_client`) is a coroutine anyway. The sync API would refuse to run
under pytest-asyncio's loop and would need `asyncio.run` for the registration.

One Chromium serves the whole run (starting it costs about 1.3 s); every test gets fresh
contexts, so no cookie or cache crosses tests. That needs the session event loop: every async
fixture here says `loop_scope="session"`, and the test modules mark themselves with
`pytest.mark.asyncio(loop_scope="session")`.

Chromium is the Debian package (`make install` installs it through APT_PACKAGES); Playwright's
own browser download is never used. Where /usr/bin/chromium is missing the tests are skipped
with that reason, rather than failing on a developer machine without root.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from mock_idps.demo_portal import create_app as create_portal
from tests.brokers import RunningBroker
from tests.servers import bound_socket, serve
from tests.worlds import JourneyWorld, OrgSAMLWorld, SAMLWorld

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.is_file()
# Headless without a sandbox (we run as root) or GPU; the networking flags keep Chromium from
# calling home, which on this closed network would only be refused connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fail fast: every page here is local and answers in milliseconds.
TIMEOUT_MS = 5_000
PORTAL_CLIENT_ID = "demo-portal"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is not installed (make install installs the Debian package)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@dataclass
class Portal:
    """The demo portal (authlib relying party) registered at the test's broker."""

    url: str
    broker_url: str
    idp_url: str


@contextlib.asynccontextmanager
async def serving_portal(broker: RunningBroker, idp_url: str) -> AsyncIterator[Portal]:
    """Registered as in `make demo`: confidential (client_secret_basic), redirect to /callback,
    back to the front page after logout, back-channel logout at /backchannel-logout."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await broker.add_client(
        PORTAL_CLIENT_ID,
        client_name="Demo portal",
        redirect_uris=(url + "/callback",),
        post_logout_redirect_uris=(url + "/",),
        backchannel_logout_uri=url + "/backchannel-logout",
        token_endpoint_auth_method="client_secret_basic",
        allowed_scopes=("openid", "profile", "email", "phone", "professional"),
    )
    app = create_portal(
        broker.url, PORTAL_CLIENT_ID, broker.secrets[PORTAL_CLIENT_ID], url, "browser-test-key"
    )
    with serve(app, sock) as served:
        yield Portal(served, broker.url, idp_url)


@pytest_asyncio.fixture(loop_scope="session")
async def portal(world: JourneyWorld) -> AsyncIterator[Portal]:
    """The demo portal at a broker whose organisations log in at the mock organisation IdP."""
    async with serving_portal(world.broker, world.idp_url) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="session")
async def suomifi_portal(saml_world: SAMLWorld) -> AsyncIterator[Portal]:
    """The demo portal at a broker whose personal route logs in at the mock Suomi.fi."""
    async with serving_portal(saml_world.broker, saml_world.suomifi_url) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="session")
async def org_saml_portal(org_saml_world: OrgSAMLWorld) -> AsyncIterator[Portal]:
    """The demo portal at a broker whose SAML organisations log in at the mock org SAML IdP."""
    async with serving_portal(org_saml_world.broker, org_saml_world.org_saml_url) as served:
        yield served


@dataclass
class PageProblems:
    """What a page reported that a person would not see: console errors, uncaught script
    errors, failed requests and error statuses (a missing stylesheet, say)."""

    seen: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect(self, problem: str) -> None:
        """A problem the test provokes on purpose (a refused form answers 400), by its start."""
        self.expected.append(problem)

    def expect_refused_form(self, url: str) -> None:
        """A form sent back to correct answers 400, which Chromium also reports in the console."""
        self.expect(f"400: POST {url}")
        self.expect("console: Failed to load resource: the server responded with a status of 400")

    def unexpected(self) -> list[str]:
        return [p for p in self.seen if not any(p.startswith(e) for e in self.expected)]

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on("requestfailed", lambda r: self.seen.append(f"failed: {r.method} {r.url}"))
        page.on(
            "response",
            lambda r: (
                self.seen.append(f"{r.status}: {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )

    def _console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        # Chromium asks every origin for /favicon.ico by itself; no page links one.
        if message.type == "error" and not where.endswith("/favicon.ico"):
            self.seen.append(f"console: {message.text} ({where})")


NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(chromium: Browser, page_problems: PageProblems) -> AsyncIterator[NewPage]:
    """`await new_page(**context_options)`: a page in a fresh browser context.

    The browser's own language is English on purpose, so the Finnish and Swedish pages prove
    that the language came from the portal (OIDC `ui_locales`), not from Accept-Language. At
    the end the test fails if any page logged an error or got an error status."""
    contexts: list[BrowserContext] = []
    problems = page_problems

    async def make(**options: Any) -> Page:
        context = await chromium.new_context(locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        problems.watch(page)
        return page

    yield make
    for context in contexts:
        await context.close()
    assert not problems.unexpected(), problems.unexpected()


def origin_pattern(url: str) -> re.Pattern[str]:
    """A URL pattern for any page under `url` (for `expect(page).to_have_url`)."""
    return re.compile(re.escape(url) + r"(/.*)?$")
