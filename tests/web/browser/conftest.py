"""Fixtures of the browser tests.

- ``site``: tiny static pages on loopback (the fixtures' and checks' own tests).
- ``web`` (module): the web app on the seeded ``world`` of tests/web/conftest.py, served by
  uvicorn on a free loopback port for the whole module, with a sign-in cache: a test opens
  ``web.page(page_factory, "alice")`` and gets a page already signed in as alice (each user
  signs in through the real login form once per module).

The browser comes from tests/fixtures/browser.py. ``web`` sets up the world *before* the
module's browser starts (the world writes the status store with ``asyncio.run``, which the
running sync Playwright would refuse): list ``web`` before browser fixtures in a test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, StorageState

from posfleet.web.app import create_app
from posfleet.web.context import WebContext
from tests.alerts.bridge.support import serving
from tests.fixtures.browser import PageFactory
from tests.fixtures.net import LOOPBACK
from tests.web.browser.pages import sign_in
from tests.web.conftest import TEST_HASHER
from tests.web.support import World

GOOD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Terminals</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 16px sans-serif; color: #1a1a1a; background: #fff; margin: 0 1rem; }
  .skip { position: absolute; left: -10000px; }
  .skip:focus { position: static; }
  a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #0b57d0; }
</style></head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Main"><a href="/">Home</a> <a href="/tickets">Tickets</a></nav></header>
<main id="main">
  <h1>Terminals</h1>
  <h2>Store 12</h2>
  <p data-terminal="T-1"><span data-status="ready">Ready</span> 支付终端</p>
  <form><label for="q">Search</label> <input id="q" name="q">
  <button type="submit">Search</button></form>
</main>
</body></html>
"""

BAD = """<!doctype html>
<html><head><meta charset="utf-8"><title>Bad</title>
<style>
  body { font: 16px sans-serif; }
  .faint { color: #bbbbbb; background: #ffffff; }
  a { outline: none; }
</style></head>
<body>
<main>
  <h1>Terminals</h1>
  <h3>Store 12</h3>
  <p class="faint">Receipt paper low</p>
  <input id="unlabelled" onkeydown="if (event.key === 'Tab') event.preventDefault()">
  <a href="/never">Unreachable after the trap</a>
  <table style="width: 800px"><tr><td>wide</td></tr></table>
</main>
</body></html>
"""

PAGES = {"/good": GOOD, "/bad": BAD}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write((body or "<!doctype html><title>404</title>").encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """A tiny HTTP server on a free loopback port serving :data:`PAGES`."""
    server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class WebUnderTest:
    """The web app served for one test module, and who has signed in to it."""

    url: str
    world: World
    browser: Browser
    _states: dict[str, StorageState] = field(default_factory=dict)

    def state(self, username: str) -> StorageState:
        """Cookies of a session of ``username`` (signed in through the form once per module)."""
        if username not in self._states:
            context = self.browser.new_context()
            try:
                page = context.new_page()
                sign_in(page, self.url, username)
                self._states[username] = context.storage_state()
            finally:
                context.close()
        return self._states[username]

    def page(
        self,
        page_factory: PageFactory,
        username: str | None,
        *,
        locale: str = "en-US",
        width: int = 1280,
        height: int = 800,
    ) -> Page:
        """A fresh page (own context), signed in as ``username`` unless None."""
        state = self.state(username) if username is not None else None
        return page_factory(locale=locale, width=width, height=height, storage_state=state)


@pytest.fixture(scope="module")
def web(world: World, chromium: Browser) -> Iterator[WebUnderTest]:
    app = create_app(WebContext.from_config(world.config, password_hasher=TEST_HASHER))
    with serving(app) as url:
        yield WebUnderTest(url, world, chromium)
