"""The Layers tab in a real browser (Debian's chromium), at desktop and phone sizes: the logit lens grid is seen, a
click on a cell shows that cell's top 10, a probe word is drawn; the attention overview shows every head, a click on
one focuses it, the note that weights are not explanations is on the page; nothing scrolls the page sideways."""

from __future__ import annotations

import os
import re
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
    page.set_default_timeout(120_000)
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    tab = page.get_by_role("tab", name="Layers")
    if not tab.is_visible():  # a phone folds the tabs it has no room for into a menu
        page.locator(".tab-container button, button.overflow-menu").last.click()
    tab.click()
    page.locator("#rs-ly-lens-go").wait_for(state="visible")
    return context, page


def _no_sideways(page, width: int) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", list(SIZES))
def test_the_logit_lens_grid_its_cells_and_a_probe(browser, server_url: str, size: str) -> None:
    context, page = _open(browser, server_url, size)
    try:
        page.locator("#rs-ly-lens-go").click()
        page.wait_for_selector("#rs-ly-lens td.rs-lens-cell")
        heads = page.locator("#rs-ly-lens thead th").all_inner_texts()
        assert heads[1] == "emb" and heads[-1] == "30" and len(heads) == 32  # token, emb, 30 layers
        last_row = page.locator("#rs-ly-lens tbody tr").last
        assert last_row.locator("td.rs-lens-cell").last.inner_text().strip() == "·Paris"  # the answer, its space shown
        page.wait_for_selector("#rs-ly-cell .rs-lens-top tr")  # the last cell's top 10, shown with the grid
        page.wait_for_selector("#rs-ly-probe-chart .rs-probe-line")
        assert "Paris" in page.locator("#rs-ly-probe-chart .rs-probe-legend").inner_text()
        # a click on the first position's embedding cell: its own top 10
        first = page.locator('#rs-ly-lens td.rs-lens-cell[data-pos="0"][data-layer="0"]')
        first.scroll_into_view_if_needed()
        first.click()
        page.wait_for_function(
            "() => (document.querySelector('#rs-ly-cell .rs-legend') || {}).innerText?.includes('position 0), row emb')"
        )
        assert page.locator("#rs-ly-cell .rs-lens-top tr").count() == 10
        assert page.locator("#rs-ly-cell-layer input").input_value() == "0"
        page.locator("#rs-ly-colour").get_by_text("the rank of the final choice").click()
        page.wait_for_function(
            "() => (document.querySelector('#rs-ly-lens .rs-legend') || {}).innerText?.includes('rank')"
        )
        _no_sideways(page, SIZES[size][0])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#rs-ly-lens").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"layers-lens-{size}.png"))
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_attention_heads_a_focused_head_and_the_note(browser, server_url: str, size: str) -> None:
    context, page = _open(browser, server_url, size)
    try:
        page.locator("#rs-ly-attn-go").click()
        page.wait_for_selector("#rs-ly-heads figure.rs-attn-head")
        assert page.locator("#rs-ly-heads figure.rs-attn-head").count() == 9  # SmolLM2: 9 query heads
        assert "kv 2" in page.locator("#rs-ly-heads figure.rs-attn-head").last.inner_text()  # 3 key/value heads
        assert "not explanations" in page.locator("#rs-ly-heads").inner_text()
        page.wait_for_selector("#rs-ly-attended tr.rs-attn-row")
        bars = page.locator("#rs-ly-attended tr.rs-attn-row").count()
        assert bars == page.locator("#rs-ly-lens tbody tr").count() or bars >= 5  # one bar per earlier token
        head = page.locator('#rs-ly-heads figure.rs-attn-head[data-head="4"]')
        head.scroll_into_view_if_needed()
        head.click()
        page.wait_for_function(
            "() => (document.querySelector('#rs-ly-head .rs-legend') || {}).innerText?.includes('head 4 ')"
        )
        assert page.locator("#rs-ly-head-n input").input_value() == "4"
        page.locator("#rs-ly-layer input").fill("12")
        page.locator("#rs-ly-layer input").press("Enter")
        page.wait_for_function(
            "() => (document.querySelector('#rs-ly-head .rs-legend') || {}).innerText?.includes('Layer 12')"
        )
        _no_sideways(page, SIZES[size][0])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#rs-ly-heads").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"layers-attention-{size}.png"))
    finally:
        context.close()


def test_a_bad_position_is_told_and_the_tab_keeps_working(browser, server_url: str) -> None:
    context, page = _open(browser, server_url, "desktop")
    try:
        page.locator("#rs-ly-attn-go").click()
        page.wait_for_selector("#rs-ly-heads figure.rs-attn-head")
        page.locator("#rs-ly-attn-pos input").fill("999")
        page.locator("#rs-ly-attn-pos input").press("Enter")
        page.wait_for_selector("#rs-ly-attn-note .rs-field-error")  # told beside the section, not in a toast
        assert "999" in page.locator("#rs-ly-attn-note").inner_text()
        assert "999" not in " ".join(page.locator(".toast-body").all_inner_texts())
        page.locator("#rs-ly-attn-pos input").fill("1")
        page.locator("#rs-ly-attn-pos input").press("Enter")
        page.wait_for_function(
            "() => (document.querySelector('#rs-ly-attended .rs-legend') || {}).innerText?.includes('(position 1)')"
        )
        assert page.locator("#rs-ly-attn-note .rs-field-error").count() == 0
        page.locator("#rs-ly-prompt textarea").fill("")
        page.locator("#rs-ly-lens-go").click()
        page.wait_for_selector("#rs-ly-lens-note .rs-field-error")
        assert "prompt" in page.locator("#rs-ly-lens-note").inner_text()
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_two_models_on_one_text(browser, server_url: str, size: str) -> None:
    """The second offline model (Gemma, installed by the dev setup) against the embedded one: each side's tokens
    spell the text, the difference strip and both "surprised" lists are drawn."""
    context, page = _open(browser, server_url, size)
    try:
        assert page.locator("#rs-ly-model-b input").input_value().startswith("Gemma")  # B's default: the other model
        page.locator("#rs-ly-diff-go").click()
        page.wait_for_selector("#rs-ly-diff .rs-md-strip .rs-md-seg", timeout=300_000)  # Gemma's first load
        text = page.locator("#rs-ly-diff-text textarea").input_value()
        for side in ("a", "b"):
            shown = page.locator(f'#rs-ly-diff .rs-md-text[data-side="{side}"]').inner_text()
            assert re.sub(r"[\s·]", "", shown) == re.sub(r"\s", "", text)  # its own tokens spell the whole text
        assert page.locator("#rs-ly-diff .rs-md-list").count() == 2
        assert page.locator("#rs-ly-diff-note .rs-field-error").count() == 0
        _no_sideways(page, SIZES[size][0])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#rs-ly-diff").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"layers-diff-{size}.png"))
    finally:
        context.close()


def test_a_layers_link_reopens_the_tab_and_its_views_and_export_writes_them(browser, server_url: str) -> None:
    """Copy link after setting the probes, the cell and the head; the link opens the Layers tab with them back and
    the lens and attention drawn again; Export offers the JSON, HTML and PNG of what was drawn."""
    context, page = _open(browser, server_url, "desktop")
    try:
        page.locator("#rs-ly-prompt textarea").fill("The capital of Italy is")
        page.locator("#rs-ly-probes textarea").fill("Rome")
        page.locator("#rs-ly-cell-pos input").fill("2")
        page.locator("#rs-ly-layer input").fill("7")
        page.locator("#rs-ly-head-n input").fill("5")
        page.locator("#rs-ly-lens-go").click()
        page.wait_for_selector("#rs-ly-probe-chart .rs-probe-legend li")
        page.locator("#rs-ly-attn-go").click()
        page.wait_for_selector("#rs-ly-attended tr.rs-attn-row")
        page.locator("#rs-ly-export").click()
        for kind in ("json", "html", "png"):
            page.wait_for_selector(f"#rs-ly-{kind}", state="visible")
        page.locator("#rs-ly-share").click()
        box = "#rs-ly-share-url textarea, #rs-ly-share-url input"
        page.wait_for_function("(sel) => (document.querySelector(sel) || {}).value?.includes('view=layers')", arg=box)
        link = page.locator(box).first.input_value()
        assert "probes=Rome" in link and "position=2" in link and "layer=7" in link and "head=5" in link
    finally:
        context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(link)
        page.wait_for_selector("#rs-ly-probe-chart .rs-probe-legend li")
        assert page.locator("#rs-ly-prompt textarea").input_value() == "The capital of Italy is"
        assert "Rome" in page.locator("#rs-ly-probe-chart").inner_text()
        page.wait_for_function(
            "() => (document.querySelector('#rs-ly-head .rs-legend') || {}).innerText?.includes('Layer 7, head 5 ')"
        )
        assert "(position 2)" in page.locator("#rs-ly-cell .rs-legend").inner_text()
    finally:
        context.close()
