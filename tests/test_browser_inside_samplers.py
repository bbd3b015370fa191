"""rsdemo's own samplers in the Inside tab, in a real browser at desktop and phone sizes: set in the closed "More
samplers" box, each shows as a stage where the chosen order puts it, with what its draw did; a share link carries
them and reopens them (screenshot /tmp/inside_samplers.png)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
_HEADS = "() => [...document.querySelectorAll('#rs-in-stages thead th')].map(e => e.innerText)"


def _set(page, name: str, value: str) -> None:
    box = page.locator(f"#rs-in-p-{name} input[type=number], #rs-in-p-{name} textarea").first
    box.scroll_into_view_if_needed()
    box.fill(value)
    box.press("Enter" if name != "sampler_order" else "Tab")


def _heads_are(page, names: list[str]) -> None:
    """Wait until the stage table's column heads (their first line) are ``names`` (every change re-stages)."""
    page.wait_for_function(
        f"(names) => JSON.stringify(({_HEADS})().map(t => t.split('\\n')[0])) === JSON.stringify(names)",
        arg=names,
        timeout=120_000,
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_inside_shows_the_new_samplers_as_stages_in_the_chosen_order(browser, server_url: str, size: str) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=size == "phone")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()  # there too, the samplers wait in a closed box
    assert page.locator("#rs-p-more").is_visible() and not page.locator("#rs-p-xtc_probability").is_visible()
    page.get_by_role("tab", name="Inside").click()
    more = page.locator("#rs-in-p-more")
    assert more.is_visible() and not page.locator("#rs-in-p-xtc_probability").is_visible()  # closed at first
    more.locator(".label-wrap").first.click()
    page.locator("#rs-in-p-xtc_probability").wait_for(state="visible")
    _set(page, "xtc_probability", "1")
    _set(page, "xtc_threshold", "0.01")
    _set(page, "dry_multiplier", "0.8")
    order = "llama.cpp" if size == "desktop" else "xtc, dry, top-p"
    _set(page, "sampler_order", order)
    page.locator("#rs-in-go").scroll_into_view_if_needed()
    page.locator("#rs-in-go").click()
    if size == "desktop":  # llama.cpp's chain: penalties, DRY, ..., top-p, ..., XTC
        _heads_are(page, ["token", "raw", "dry", "top-p", "xtc"])
        assert "in llama.cpp's order" in page.locator("#rs-in-stages .rs-legend").inner_text()
    else:  # the order typed: XTC first, then DRY, then top-p
        _heads_are(page, ["token", "raw", "xtc", "dry", "top-p"])
        assert "in the order you chose" in page.locator("#rs-in-stages .rs-legend").inner_text()
    xtc_head = next(h for h in page.evaluate(_HEADS) if h.startswith("xtc"))
    assert "fired with this seed (100% chance)" in xtc_head and "did not" not in xtc_head
    assert page.locator("#rs-in-stages tbody tr").count() >= 2
    if size == "desktop":
        page.locator("#rs-in-stages").scroll_into_view_if_needed()
        page.screenshot(path="/tmp/inside_samplers.png", full_page=False)
        # the link carries the samplers set (and only those) and reopens them
        page.locator("#rs-in-share").click()
        page.wait_for_function(
            "() => (document.querySelector('#rs-in-share-url textarea, #rs-in-share-url input') "
            "|| {}).value?.includes('view=inside')"
        )
        link = page.locator("#rs-in-share-url textarea, #rs-in-share-url input").first.input_value()
        assert "xtc_probability=1" in link and "sampler_order=llama.cpp" in link and "dry_multiplier=0.8" in link
        assert "mirostat" not in link and "dry_base" not in link  # defaults stay out
        again = context.new_page()
        again.goto(link)
        _heads_are(again, ["token", "raw", "dry", "top-p", "xtc"])
        assert again.locator("#rs-in-p-sampler_order textarea").input_value() == "llama.cpp"
    context.close()
