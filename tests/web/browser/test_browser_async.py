"""The browser for async tests (Playwright's async API), in a module of its own.

Sync browser fixtures are module-scoped and mark their event loop as running while open, so
async tests that use a browser live in modules without sync browser tests.
"""

from __future__ import annotations

from playwright.async_api import Browser as AsyncBrowser


async def test_async_browser_for_async_tests(async_chromium: AsyncBrowser, site: str) -> None:
    page = await async_chromium.new_page(locale="zh-CN")
    await page.goto(f"{site}/good")
    assert await page.locator("[data-status]").get_attribute("data-status") == "ready"
    assert await page.evaluate("() => navigator.language") == "zh-CN"
