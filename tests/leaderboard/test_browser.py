"""The built board in headless Chromium: tables and plots render, ranking order, inert HTML in names.

Marked ``browser`` (excluded from ``make test``); ``make test-browser`` installs chromium and selenium
and runs them.
"""

from __future__ import annotations

import pytest

from qmarl_agents.leaderboard.add import add_submission
from qmarl_agents.leaderboard.build import build_board

from .test_board import PAYLOAD, _fake

pytestmark = pytest.mark.browser


@pytest.fixture
def driver(tmp_path):
    from qmarl_agents.leaderboard.browser import chromium_driver

    d = chromium_driver(tmp_path / "profile")
    yield d
    d.quit()


def test_board_renders_ranks_and_keeps_payload_inert(tmp_path, random_sub, driver):
    from selenium.webdriver.common.by import By

    board = tmp_path / "board"
    add_submission(random_sub, board=board, name="random", author=PAYLOAD)
    add_submission(_fake(random_sub, "best", 220), board=board, author="a")
    add_submission(_fake(random_sub, "middle", 100), board=board, author="b")
    page = build_board(board)["html"]
    driver.get(page.resolve().as_uri())
    assert driver.title == "qmarl leaderboard"  # the payload would have renamed the page
    sections = driver.find_elements(By.CSS_SELECTOR, "section.env")
    assert [s.get_attribute("data-env") for s in sections] == ["qmarl/BallCollection-3x3-v0"]
    names = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "table.ranking td.name")]
    assert names == ["best", "middle", "random"]
    iqms = [float(tr.get_attribute("data-iqm")) for tr in driver.find_elements(By.CSS_SELECTOR, "table.ranking tr[data-iqm]")]
    assert iqms == sorted(iqms, reverse=True)
    authors = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "td.author")]
    assert authors[2] == PAYLOAD  # shown as text
    assert driver.find_elements(By.CSS_SELECTOR, "td.author img, td.author script") == []
    img = driver.find_element(By.CSS_SELECTOR, "img.plot")
    assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.poi tr")) == 4


def test_committed_board_renders(driver):
    from selenium.webdriver.common.by import By

    from qmarl_agents.leaderboard.build import load_entries
    from qmarl_agents.leaderboard.validate import LEADERBOARD_DIR

    entries = load_entries()
    driver.get((LEADERBOARD_DIR / "index.html").resolve().as_uri())
    sections = driver.find_elements(By.CSS_SELECTOR, "section.env")
    assert [s.get_attribute("data-env") for s in sections] == list(entries)
    for sec, subs in zip(sections, entries.values()):
        assert [td.text for td in sec.find_elements(By.CSS_SELECTOR, "td.name")] == [s["name"] for s in subs]
        img = sec.find_element(By.CSS_SELECTOR, "img.plot")
        assert driver.execute_script("return arguments[0].naturalWidth", img) > 100
