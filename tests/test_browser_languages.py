"""The Languages tab in a real browser (Debian's chromium), at desktop and phone sizes: the heat map is seen, its
cells say what the numbers table says, the visitor's own text is a row, and bad input is told beside its field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SHOTS = Path(os.environ.get("RSDEMO_SHOTS", str(ARTIFACTS)))
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def _open(browser, server_url: str, size: str):
    width, height = SIZES[size]
    phone = size == "phone"
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server_url)
    tab = page.get_by_role("tab", name="Languages")
    tab.wait_for(state="visible")  # a tab of its own, no "more tabs" menu, on a phone too
    tab.tap() if phone else tab.click()
    page.locator("#rs-lc-map").wait_for(state="visible")
    return context, page


@pytest.mark.parametrize("size", list(SIZES))
def test_the_heat_map_is_seen_and_its_cells_match_the_table(browser, server_url: str, size: str) -> None:
    context, page = _open(browser, server_url, size)
    try:
        heads = page.locator("#rs-lc-map thead th").all_inner_texts()
        assert heads[1:] == ["gpt2", "cl100k_base", "o200k_base", "llama3", "qwen", "mistral-v1"]
        cell = page.locator('#rs-lc-map td[data-tok="gpt2"][data-lang="hi"]')
        assert cell.is_visible() or size == "phone"  # on a phone the map scrolls sideways, its language column stays
        shown = cell.inner_text()
        row = page.locator('#rs-lc-table tr[data-tok="gpt2"][data-lang="hi"]')
        assert row.locator('td[data-col="4"]').inner_text() == shown and shown.endswith("×")
        assert float(shown[:-1]) > 2  # Hindi takes GPT-2 several times English's tokens
        assert page.locator('#rs-lc-map td[data-tok="gpt2"][data-lang="en"]').inner_text() == "1.0×"
        colour = page.evaluate("(e) => getComputedStyle(e).backgroundColor", cell.element_handle())
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
        assert page.locator(".rs-lc-legend").is_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= SIZES[size][0]  # nothing sideways
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"languages-{size}.png"))
        page.locator("#rs-lc-map").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"languages-{size}-map.png"), full_page=True)
    finally:
        context.close()


def test_own_text_is_a_row_and_bad_input_is_told(browser, server_url: str) -> None:
    context, page = _open(browser, server_url, "desktop")
    try:
        page.locator("#rs-lc-text textarea").fill("Habari <b>za</b> asubuhi")
        page.locator("#rs-lc-btn").click()
        own = page.locator('#rs-lc-map td[data-tok="gpt2"][data-lang="own"]')
        own.wait_for(state="visible")
        row = page.locator('#rs-lc-table tr[data-tok="gpt2"][data-lang="own"]')
        assert own.inner_text() == row.locator('td[data-col="3"]').inner_text() and int(own.inner_text()) > 0
        assert page.locator("#rs-lc-map b", has_text="za").count() == 0  # the text is never markup
        page.locator("#rs-lc-text textarea").fill("x" * 20_001)
        page.locator("#rs-lc-btn").click()
        page.locator("#rs-lc-text-note .rs-field-error").wait_for(state="visible")
        assert "20,000" in page.locator("#rs-lc-text-note").inner_text()
        assert page.locator("#rs-lc-map").count() == 0  # the old map went stale
    finally:
        context.close()
