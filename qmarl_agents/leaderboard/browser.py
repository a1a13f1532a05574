"""Headless Chromium for the browser tests and the board's screenshot (selenium + Debian's chromium).

``python -m qmarl_agents.leaderboard.browser [HTML] [PNG]`` writes a screenshot of the built board
(default ``leaderboard/index.html`` -> ``docs/leaderboard.png``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,900")
"""Chromium flags: headless, offline-friendly, no background traffic."""


def chromium_driver(user_data_dir: str | Path):
    """A selenium Chrome driver on Debian's chromium with :data:`FLAGS` and a fresh profile.

    Raises:
        FileNotFoundError: chromium or chromedriver is not installed (``make test-browser`` installs them).
    """
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).is_file():
            raise FileNotFoundError(f"{exe} is missing: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--user-data-dir={user_data_dir}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def screenshot(html: str | Path, png: str | Path, *, height: int | None = None) -> Path:
    """Render ``html`` in headless Chromium and save a full-width PNG of the page (atomically).

    ``height`` (pixels) clips the page; default: the whole page.
    """
    from qmarl_agents.checkpoint import atomic_write_bytes

    with tempfile.TemporaryDirectory() as profile:
        driver = chromium_driver(profile)
        try:
            driver.get(Path(html).resolve().as_uri())
            full = int(driver.execute_script("return document.documentElement.scrollHeight"))
            driver.set_window_size(1200, min(full, height) if height else full)
            data = driver.get_screenshot_as_png()
        finally:
            driver.quit()
    return atomic_write_bytes(png, data)


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    args = sys.argv[1:]
    src = Path(args[0]) if args else root / "leaderboard" / "index.html"
    dst = Path(args[1]) if len(args) > 1 else root / "docs" / "leaderboard.png"
    print(screenshot(src, dst, height=1400))
