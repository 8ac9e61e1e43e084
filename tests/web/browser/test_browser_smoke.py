"""The browser fixtures and the accessibility checks, on tiny pages served on loopback.

Proves that the system Chromium starts and renders (screenshot saved as a test artefact), and
that each accessibility check finds the defect it is meant to find: a check that cannot fail
would make the app's accessibility tests worthless.
"""

from __future__ import annotations

from playwright.sync_api import Page

from tests.fixtures.browser import PageFactory, Screenshots, page_errors
from tests.web.browser.a11y import (
    axe_violations,
    horizontal_overflow,
    keyboard_problems,
    overflowing_elements,
)


def test_system_chromium_renders_and_screenshots(
    page: Page, site: str, screenshots: Screenshots
) -> None:
    page.goto(f"{site}/good")
    assert page.title() == "Terminals"
    status = page.locator('[data-terminal="T-1"] [data-status]')
    assert status.get_attribute("data-status") == "ready"
    assert status.inner_text() == "Ready"
    shot = screenshots.take(page, "good page")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 1000
    assert page_errors(page) == []


def test_browser_reports_the_locale_it_was_given(page_factory: PageFactory, site: str) -> None:
    page = page_factory(locale="zh-CN")
    page.goto(f"{site}/good")
    assert page.evaluate("() => navigator.language") == "zh-CN"


def test_accessible_page_passes_every_check(page: Page, site: str) -> None:
    page.goto(f"{site}/good")
    assert [str(v) for v in axe_violations(page)] == []
    assert keyboard_problems(page) == []


def test_axe_finds_missing_label_contrast_lang_and_heading_order(page: Page, site: str) -> None:
    page.goto(f"{site}/bad")
    rules = {violation.rule for violation in axe_violations(page)}
    assert {"label", "color-contrast", "html-has-lang", "heading-order"} <= rules


def test_keyboard_walk_finds_trap_invisible_focus_and_missing_skip_link(
    page: Page, site: str
) -> None:
    page.goto(f"{site}/bad")
    problems = keyboard_problems(page)
    assert any(p.startswith('Tab never reaches a "Unreachable after the trap"') for p in problems)
    assert "the first Tab stop is not a skip link" in " ".join(problems)


def test_invisible_focus_is_reported(page: Page, site: str) -> None:
    page.goto(f"{site}/good")
    page.add_style_tag(content="*:focus, *:focus-visible { outline: none !important; }")
    problems = keyboard_problems(page)
    assert any("no visible indicator" in p for p in problems), problems


def test_phone_width_overflow_is_measured(page_factory: PageFactory, site: str) -> None:
    page = page_factory(width=360, height=740)
    page.goto(f"{site}/good")
    assert horizontal_overflow(page) == 0
    page.goto(f"{site}/bad")
    assert horizontal_overflow(page) > 300
    assert any(item.startswith("table") for item in overflowing_elements(page))
