"""Browser helpers shared by the web app's browser tests: signing in through the real form."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.web.support import PASSWORDS


def sign_in(page: Page, base_url: str, username: str, password: str | None = None) -> None:
    """Sign in through the login form like a person would; wait for the landing page."""
    page.goto(f"{base_url}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password or PASSWORDS[username])
    page.locator("#password").press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
