"""A real browser: click a token in the Tokenize tab, and "Why this split" shows its merges, the last one the
token; the vocabulary browser shows its hits. Desktop and phone sizes; screenshots to /tmp/explain-*.png."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_click_a_token_explains_it_and_the_vocabulary_searches(
    browser,  # noqa: F811
    server_url: str,
    width: int,
    height: int,
    name: str,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(server_url)
        page.wait_for_selector("#rs-view .rs-tok")
        page.locator("#rs-text textarea").fill("Hello unbelievable world")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|')"
            " === 'Hello| unbelievable| world'"
        )
        token = page.locator("#rs-view .rs-tok", has_text="unbelievable").first
        token.click()
        page.wait_for_selector("#rs-explain .rs-x-last")
        assert page.locator("#rs-explain-at input").input_value() == "1"
        last = page.locator("#rs-explain .rs-x-last").get_attribute("data-parts")
        assert last == page.locator("#rs-explain .rs-explain").get_attribute("data-token") == "Ġunbelievable"
        assert page.locator("#rs-explain .rs-x-step").count() >= 3  # start, then the merges
        page.locator("#rs-explain").screenshot(path=f"/tmp/explain-{name}-steps.png")
        page.screenshot(path=f"/tmp/explain-{name}.png", full_page=False)

        page.locator("#rs-vocab-box").get_by_text("Vocabulary").first.click()
        page.locator("#rs-vocab-query textarea, #rs-vocab-query input").first.fill(" the")
        page.locator("#rs-vocab-go").click()
        page.wait_for_selector("#rs-vocab .rs-v-hit")
        assert page.locator("#rs-vocab .rs-v-hit").count() >= 10
        assert "Ġthe" in page.locator("#rs-vocab").inner_text()
        page.locator("#rs-vocab-box").screenshot(path=f"/tmp/explain-{name}-vocab.png")
    finally:
        context.close()
