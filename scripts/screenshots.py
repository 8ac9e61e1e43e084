"""Screenshots of posfleet's own pages from a running demo, for the README.

    .venv/bin/python scripts/screenshots.py [--after 100] [--out docs/images]

Starts ``posfleet demo`` in a data directory of its own, waits until the simulated chain has
had time to develop faults and tickets, signs in to the web app in Debian's Chromium (through
Playwright, no browser download) as a merchant and as IT, saves the pages as PNG files and
stops the demo.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


def busiest_store(page: Page) -> str | None:
    """The merchant's store with the most terminals needing attention."""
    best: tuple[int, str] | None = None
    for link in page.locator("li[data-store] a").all():
        href = link.get_attribute("href") or ""
        card = link.locator("xpath=ancestor::li[@data-store][1]")
        attention = card.locator("[data-status]:not([data-status=ready])").count()
        if best is None or attention > best[0]:
            best = (attention, href)
    return best[1] if best else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=float, default=100.0,
                        help="seconds of demo before the screenshots")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="posfleet-screens-") as tmp:
        data_dir = Path(tmp) / "demo"
        log = (Path(tmp) / "demo.log").open("w")
        demo = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "posfleet"), "demo", "--data-dir", str(data_dir),
             "--duration", str(args.after + 120)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 120
            web_url = None
            while web_url is None:
                if demo.poll() is not None or time.monotonic() > deadline:
                    print((Path(tmp) / "demo.log").read_text()[-3000:], file=sys.stderr)
                    return 1
                found = re.search(r"web\s+(http://\S+)/", (Path(tmp) / "demo.log").read_text())
                web_url = found.group(1) if found else None
                time.sleep(1)
            time.sleep(args.after)
            logins = (data_dir / "demo-logins.txt").read_text().splitlines()
            accounts = dict(
                (line.split(" / ")[0], line.split(" / ")[1].split()[0]) for line in logins
            )
            merchant = sorted(name for name in accounts if name.startswith("merchant-"))[0]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=args.chromium, args=CHROMIUM_FLAGS
                )
                phone = browser.new_context(viewport={"width": 390, "height": 1100},
                                            device_scale_factor=2, locale="en-GB")
                page = phone.new_page()
                sign_in(page, web_url, merchant, accounts[merchant])
                page.screenshot(path=str(args.out / "merchant-stores.png"))
                store = busiest_store(page)
                if store:
                    page.goto(f"{web_url}{store}" if store.startswith("/") else store)
                    page.screenshot(path=str(args.out / "merchant-store.png"))
                desk = browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="en-GB")
                page = desk.new_page()
                sign_in(page, web_url, "it", accounts["it"])
                page.goto(f"{web_url}/fleet")
                page.screenshot(path=str(args.out / "it-fleet.png"))
                page.goto(f"{web_url}/tickets")
                page.screenshot(path=str(args.out / "it-tickets.png"))
                browser.close()
            summary = data_dir / "summary.json"
            if summary.exists():
                print(json.dumps(json.loads(summary.read_text()).get("score", {}), indent=2))
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
    for png in sorted(args.out.glob("*.png")):
        print(png.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
