"""Accessibility of the web app's main pages, checked in the system Chromium.

Every page of the seeded world (tests/web/conftest.py: a real ticket bridge, the status
store fed through the real output) is loaded as the user who would see it, then checked
with axe-core (WCAG 2.0/2.1 A and AA: labelled controls, accessible names, ``lang``,
contrast computed from the rendered styles; plus heading order, one ``main``, skip link) and
walked with the Tab key (every control reachable, focus always visible, skip link first).
The merchant pages are also rendered at phone width (360 x 740 CSS pixels): no horizontal
scrolling. A screenshot of every page is saved (see the run's summary for the folder).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.fixtures.browser import PageFactory, Screenshots, page_errors
from tests.web.browser.a11y import (
    axe_violations,
    horizontal_overflow,
    keyboard_problems,
    overflowing_elements,
)
from tests.web.browser.conftest import WebUnderTest

# (test id, user or None for signed out, path; "{ticket}" is T-A2's open ticket)
PAGES = [
    ("login", None, "/login"),
    ("merchant-home", "alice", "/stores"),
    ("store", "alice", "/stores/S-A1"),
    ("terminal", "alice", "/terminals/T-A2"),
    ("merchant-tickets", "alice", "/tickets"),
    ("it-fleet", "it-admin", "/fleet"),
    ("it-ticket-queue", "it-admin", "/tickets"),
    ("it-ticket", "it-admin", "/tickets/{ticket}"),
]
PHONE_PAGES = ["/stores", "/stores/S-A1", "/terminals/T-A2", "/tickets"]


def _open(web: WebUnderTest, page: Page, path: str) -> None:
    response = page.goto(web.url + path.format(ticket=web.world.tickets["T-A2"]))
    assert response is not None
    assert response.status == 200, f"GET {path}: HTTP {response.status}"


@pytest.mark.parametrize(("name", "user", "path"), PAGES, ids=[page[0] for page in PAGES])
def test_page_passes_axe_and_keyboard_checks(
    web: WebUnderTest,
    page_factory: PageFactory,
    screenshots: Screenshots,
    name: str,
    user: str | None,
    path: str,
) -> None:
    page = web.page(page_factory, user)
    _open(web, page, path)
    screenshots.take(page, name)
    problems = [str(violation) for violation in axe_violations(page)]
    problems += keyboard_problems(page)
    assert problems == [], "\n".join([f"{path} as {user}:", *problems])
    assert page_errors(page) == []


def test_chinese_store_page_passes_axe(
    web: WebUnderTest, page_factory: PageFactory, screenshots: Screenshots
) -> None:
    page = web.page(page_factory, "alice", locale="zh-CN")
    _open(web, page, "/stores/S-A1")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshots.take(page, "store-zh-CN")
    assert [str(v) for v in axe_violations(page)] == []


def test_status_is_not_told_by_colour_alone(web: WebUnderTest, page_factory: PageFactory) -> None:
    """Each status sentence carries words, and its badge a text alternative."""
    page = web.page(page_factory, "alice")
    _open(web, page, "/stores/S-A1")
    for code in ("ready", "paper_low"):
        status = page.locator(f'[data-terminal] [data-status="{code}"]').first
        assert status.is_visible()
        words = status.inner_text().replace("✓", "").replace("!", "").strip()
        assert len(words) > 3, f"{code}: {words!r}"


def test_merchant_pages_fit_a_phone_screen(
    web: WebUnderTest, page_factory: PageFactory, screenshots: Screenshots
) -> None:
    page = web.page(page_factory, "alice", width=360, height=740)
    too_wide = {}
    for path in PHONE_PAGES:
        _open(web, page, path)
        screenshots.take(page, f"phone{path}")
        overflow = horizontal_overflow(page)
        if overflow > 0:
            too_wide[path] = f"{overflow} px too wide: {overflowing_elements(page)}"
    assert too_wide == {}, f"wider than a 360 px phone screen: {too_wide}"
