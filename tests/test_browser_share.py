"""Share links and exports in a real browser: a Generate link reopens the same tokens, an Inside link its position,
the buttons show at desktop and phone sizes, and the exported HTML renders like the page (screenshots in /tmp)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path("/tmp")


@pytest.fixture()
def context(browser, server_url: str):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context
    context.close()


def _gen_ids(page) -> list[str]:
    page.wait_for_function(
        "() => document.querySelectorAll('#rs-gen-view .rs-tok').length > 0 && "
        "!document.querySelector('#rs-gen-stats .rs-stale')",
        timeout=120_000,
    )
    page.wait_for_selector("#rs-gen-stats .rs-card", timeout=120_000)
    seen: list[str] = []
    for _ in range(60):  # the run streams: wait until its tokens stop changing (the run is done)
        now = page.eval_on_selector_all("#rs-gen-view .rs-tok", "els => els.map(e => e.getAttribute('title'))")
        if now == seen and page.locator("#rs-stop").is_visible():
            return now
        seen = now
        page.wait_for_timeout(1500)
    return seen


def test_generate_link_reopens_the_same_tokens(context, server_url: str) -> None:
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("6")
    page.locator("#rs-p-max_new_tokens input[type=number]").press("Enter")
    page.locator("#rs-method input").click()
    page.get_by_role("option", name="Top-p", exact=False).first.click()
    page.locator("#rs-p-seed input").fill("7")
    page.locator("#rs-generate").click()
    first = _gen_ids(page)
    page.locator("#rs-gen-share").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-share-url textarea, #rs-gen-share-url input') "
        "|| {}).value?.includes('view=generate')"
    )
    link = page.locator("#rs-gen-share-url textarea, #rs-gen-share-url input").first.input_value()
    assert "seed=7" in link and "max_new_tokens=6" in link and "method=top_p" in link and len(link) < 8000
    page.screenshot(path=str(SHOTS / "share-generate-desktop.png"), full_page=False)
    again = context.new_page()
    again.set_default_timeout(60_000)
    again.goto(link)
    assert _gen_ids(again) == first and len(first) >= 1
    # export: the three files
    again.locator("#rs-gen-export").click()
    again.wait_for_selector("#rs-gen-png", state="visible")
    assert again.locator("#rs-gen-json").is_visible() and again.locator("#rs-gen-html").is_visible()


def test_inside_link_restores_position_and_phone_buttons(browser, server_url: str) -> None:  # noqa: F811
    query = urlencode({"view": "inside", "position": "3", "method": "top_k", "top_k": "7", "probes": "Paris"})
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{server_url}?{query}")
    page.wait_for_selector("#rs-in-stages table", timeout=120_000)
    assert page.locator("#rs-in-position input").input_value() == "3"
    assert page.locator("#rs-in-p-top_k-top_k input[type=number]").input_value() == "7"
    page.locator("#rs-in-share").scroll_into_view_if_needed()
    assert page.locator("#rs-in-share").is_visible() and page.locator("#rs-in-export").is_visible()
    page.screenshot(path=str(SHOTS / "share-inside-phone.png"), full_page=False)
    context.close()


def test_exported_html_renders_like_the_page(context, server_url: str, tmp_path) -> None:
    page = context.new_page()
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    page.locator("#rs-tok-export").click()
    page.wait_for_selector("#rs-tok-html", state="visible")
    with page.expect_download() as got:
        page.locator("#rs-tok-html").click()
    exported = tmp_path / "tokens.html"
    got.value.save_as(exported)
    page.locator("#rs-view").screenshot(path=str(SHOTS / "share-tokenize-page.png"))
    offline = context.new_page()
    offline.route(
        "**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_()
    )
    offline.goto(exported.as_uri())
    shown = offline.locator(".rs-tokens .rs-tok").all_inner_texts()
    assert shown == page.locator("#rs-view .rs-tok").all_inner_texts()
    colour = offline.eval_on_selector(".rs-tokens .rs-tok", "e => getComputedStyle(e).backgroundColor")
    assert colour == page.eval_on_selector("#rs-view .rs-tok", "e => getComputedStyle(e).backgroundColor")
    offline.screenshot(path=str(SHOTS / "share-tokenize-export.png"), full_page=True)
