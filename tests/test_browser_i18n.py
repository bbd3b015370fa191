"""The page in Chinese, in a real browser (Playwright driving Debian's chromium): every tab, with Why this split, the
vocabulary browser and the Export panel open, no English word left outside names and code, no text overflowing its
box at desktop and phone sizes; the switch; ``?lang=``; share links that keep the page's language."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from rsdemo.catalog import MODELS, TOKENIZERS
from rsdemo.decoding import COMMON_PARAMS, METHODS
from rsdemo.i18n import text

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TABS = ("tokenize", "compare", "languages", "generate", "inside", "layers", "about")
# each tab's label on the Chinese page, from the catalog
TAB_LABELS = {tab: text("lang.tab" if tab == "languages" else f"tab.{tab}", lang="zh") for tab in TABS}
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
# brands, formats and terms written in Latin letters in Chinese ML writing too
BRANDS = {
    "GPT",
    "BERT",
    "llama",
    "cpp",
    "Gradio",
    "Hugging",
    "Face",
    "Hub",
    "API",
    "BPE",
    "SentencePiece",
    "WordPiece",
    "Unigram",
    "WordLevel",
    "Unicode",
    "UTF",
    "GGUF",
    "JSON",
    "HTML",
    "PNG",
    "BOS",
    "CLS",
    "SEP",
    "UNK",
    "NFC",
    "transformers",
    "logits",
    "PyTorch",
    "CPU",
    "GPU",
    "OpenAI",
    "Meta",
    "Alibaba",
    "Qwen",
    "Llama",
    "Mistral",
    "SmolLM",
    "tiktoken",
    "Shakespeare",
    "CTRL",
    "MIT",
    "Apache",
    "Top",
    "Min",
    "Typical",
    "Epsilon",
    "Eta",
    "alpha",
    "gram",
    "owner",
    "name",
    "turbo",
    "begin_of_text",
    "train_assets",
    "xNN",
    "xFF",
    "Tab",
    "English",  # the switch's own word: the way back
    "UDHR",  # the Universal Declaration of Human Rights, as the Languages tab cites it
    "HF_HUB_OFFLINE",
    "README",
    "assets",
    "scripts",
    "rsdemo",
    "Vijayakumar",
    "DRY",  # sampler names as their authors and llama.cpp write them
    "XTC",
    "Mirostat",
    "tau",
    "eta",
    "temp",
    "ext",
    "logit",
    "lens",  # "logit lens", as Chinese ML writing keeps it
    "Gemma",
}
_COLLECT = """() => {
    const root = document.querySelector('.gradio-container') || document.body;
    const skip = 'textarea, input, code, pre, script, style, svg, .rs-tok, .rs-tokens, .rs-keep';
    const out = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!el || el.closest(skip) || !el.getClientRects().length) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || style.display === 'none') continue;
        if (n.nodeValue.trim()) out.push(n.nodeValue.trim());
    }
    return out;
}"""

_OVERFLOW = """() => {
    const sel = 'label, button, [role=tab], .rs-card span, .rs-notice, .rs-legend, th, h1, h2, h3, h4, ' +
        'span[data-testid=block-info]';
    const bad = [];
    for (const el of document.querySelectorAll(sel)) {
        if (el.matches('.label-wrap') || !el.getClientRects().length) continue;
        if (el.clientWidth < 20) continue;  // a phone's folded tab, kept for measuring
        if (getComputedStyle(el).overflowX === 'auto' || el.closest('[role=tablist]')) continue;
        if (el.scrollWidth > el.clientWidth + 1 && /[\\u4e00-\\u9fff]/.test(el.innerText))
            bad.push(el.tagName + ': ' + el.innerText.slice(0, 60) + ' ' + el.scrollWidth + '>' + el.clientWidth);
    }
    return bad;
}"""


def _allowed() -> set[str]:
    words = set(BRANDS)
    names = [*TOKENIZERS, *MODELS, *METHODS]
    for spec in TOKENIZERS.values():
        names += [spec.label, spec.family, spec.package or "", spec.licence]
    for model in MODELS.values():
        names += [getattr(model, "label", ""), str(model.repo_id or ""), str(getattr(model, "package", "") or "")]
    for method in METHODS.values():
        names += [p.name for p in method.params]
    names += [p.name for p in COMMON_PARAMS]
    for name in names:
        words |= set(re.findall(r"[A-Za-z][A-Za-z_]*", name))
    return {w.lower() for w in words}


def _english_words(chunks: list[str], allowed: set[str]) -> list[str]:
    left = []
    for chunk in chunks:
        for word in re.findall(r"[A-Za-z][A-Za-z_]{2,}", chunk):
            if word.lower() not in allowed:
                left.append(f"{word!r} in {chunk[:80]!r}")
    return left


def _open(browser, url: str, size: tuple[int, int], *, locale: str = "zh-CN"):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#rs-view .rs-tok")
    page.wait_for_function(
        "() => document.documentElement.lang.startsWith('zh') || document.documentElement.lang === 'en'"
    )
    return context, page


def _show_tab(page, tab: str) -> None:
    page.locator("button[role=tab]").nth(_tab_index(page, tab)).click()
    if tab == "compare":
        page.wait_for_selector("#rs-cmp-view .rs-tok")
    if tab == "languages":
        page.wait_for_selector("#rs-lc-map td.rs-lc-cell")
    page.wait_for_timeout(600)  # the language script's pass (one animation frame) and Gradio's render


def _tab_index(page, tab: str) -> int:
    texts = page.locator("button[role=tab]").all_inner_texts()
    if TAB_LABELS[tab] not in texts:  # a phone folds tabs into a menu
        page.locator(".tab-container button, button.overflow-menu").last.click()
        texts = page.locator("button[role=tab]").all_inner_texts()
    return texts.index(TAB_LABELS[tab])


def _open_tokenize_panels(page) -> None:
    """Why this split (a click on a token fills in its number and presses Explain), the vocabulary browser with
    hits, and Export with its three download buttons: everything the Tokenize tab can show at once."""
    page.locator("#rs-view .rs-tok").nth(1).click()
    page.wait_for_selector("#rs-explain .rs-explain .rs-x-step")
    page.locator("#rs-vocab-box").get_by_text(text("vocab.acc", lang="zh"), exact=True).first.click()
    page.locator("#rs-vocab-query textarea, #rs-vocab-query input").first.fill(" the")
    page.locator("#rs-vocab-go").click()
    page.wait_for_selector("#rs-vocab .rs-v-hit")
    page.locator("#rs-tok-export").click()
    page.wait_for_selector("#rs-tok-png", state="visible")
    page.wait_for_timeout(600)


@pytest.mark.parametrize("size", list(SIZES))
def test_every_tab_in_chinese(browser, server_url: str, size: str) -> None:
    allowed = _allowed()
    context, page = _open(browser, server_url, SIZES[size])
    try:
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        problems = []
        for tab in TABS:
            _show_tab(page, tab)
            if tab == "tokenize":
                _open_tokenize_panels(page)
                shown = page.locator("#rs-explain-box, #rs-vocab-box, #rs-tok-share-row").all_inner_texts()
                assert all(re.search(r"[\u4e00-\u9fff]", panel) for panel in shown), shown
                page.locator("#rs-explain").screenshot(path=f"/tmp/zh-explain-{size}.png")
            if tab == "layers":  # the lens grid, a cell, the probes and the attention views, as rendered
                page.locator("#rs-ly-lens-go").click()
                page.wait_for_selector("#rs-ly-probe-chart .rs-probe-legend li")
                page.locator("#rs-ly-attn-go").click()
                page.wait_for_selector("#rs-ly-attended tr.rs-attn-row")
                page.wait_for_timeout(600)
            left = _english_words(page.evaluate(_COLLECT), allowed)
            problems += [f"{tab}: {w}" for w in left]
            problems += [f"{tab} overflow: {b}" for b in page.evaluate(_OVERFLOW)]
            page.screenshot(path=f"/tmp/zh-{tab}-{size}.png", full_page=True)
        assert not problems, "\n".join(problems[:40])
    finally:
        context.close()


def _link_in(page, box: str, has: str) -> str:
    field = f"{box} textarea, {box} input"
    page.wait_for_function("([sel, has]) => (document.querySelector(sel) || {}).value?.includes(has)", arg=[field, has])
    return page.locator(field).first.input_value()


def test_share_links_keep_the_page_language(browser, server_url: str) -> None:
    """A Chinese page's links (Tokenize's, made in the browser; Compare's, written on the server) say lang=zh and
    reopen Chinese in an English browser, on their tab with their settings; an English page's links say nothing."""
    context, page = _open(browser, server_url + "/?lang=zh", SIZES["desktop"], locale="en-US")
    try:
        page.wait_for_function("() => document.documentElement.lang.startsWith('zh')")
        page.locator("#rs-text textarea").fill("你好，世界")
        page.wait_for_function("() => document.querySelectorAll('#rs-view .rs-tok').length >= 3")
        page.locator("#rs-share").click()
        tok_link = _link_in(page, "#rs-share-url", "tokenizer=")
        _show_tab(page, "compare")
        page.locator("#rs-cmp-share").click()
        cmp_link = _link_in(page, "#rs-cmp-share-url", "compare=")
    finally:
        context.close()
    for link, tab in ((tok_link, "tokenize"), (cmp_link, "compare")):
        assert parse_qs(urlsplit(link).query)["lang"] == ["zh"], link
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(link)
            page.wait_for_function("() => document.documentElement.lang.startsWith('zh')")
            page.wait_for_selector("#rs-cmp-view .rs-tok" if tab == "compare" else "#rs-view .rs-tok")
            selected = page.locator("button[role=tab][aria-selected=true]").inner_text()
            assert selected == TAB_LABELS[tab], (link, selected)
            if tab == "tokenize":
                assert page.locator("#rs-text textarea").input_value() == "你好，世界"
                page.wait_for_function("() => document.querySelector('#rs-stats').innerText.includes('词元数')")
        finally:
            context.close()
    context, page = _open(browser, server_url, SIZES["desktop"], locale="en-US")
    try:
        page.locator("#rs-share").click()
        assert "lang=" not in _link_in(page, "#rs-share-url", "tokenizer=")
        page.get_by_role("tab", name="Compare").click()
        page.wait_for_selector("#rs-cmp-view .rs-tok")
        page.locator("#rs-cmp-share").click()
        assert "lang=" not in _link_in(page, "#rs-cmp-share-url", "compare=")
    finally:
        context.close()


def test_the_switch_flips_the_language_and_lang_opens_chinese(browser, server_url: str) -> None:
    context, page = _open(browser, server_url, SIZES["desktop"], locale="en-US")
    try:
        assert page.locator("button[role=tab]").first.inner_text() == "Tokenize"
        assert "tokens" in page.locator("#rs-stats").inner_text()
        page.locator("[data-rs-lang-switch]").click()
        page.wait_for_function("() => document.documentElement.lang.startsWith('zh')")
        page.wait_for_function("() => document.querySelector('#rs-stats').innerText.includes('词元数')")
        assert page.locator("button[role=tab]").first.inner_text() == "分词"
        assert "lang=zh" in page.url
        page.locator("[data-rs-lang-switch]").click()
        page.wait_for_function("() => document.querySelector('#rs-stats').innerText.includes('tokens')")
        assert page.locator("button[role=tab]").first.inner_text() == "Tokenize"
    finally:
        context.close()
    context, page = _open(browser, server_url + "/?lang=zh", SIZES["desktop"], locale="en-US")
    try:
        page.wait_for_function("() => document.documentElement.lang.startsWith('zh')")
        page.wait_for_function("() => document.querySelector('#rs-stats').innerText.includes('词元数')")
        assert page.locator("label[for], span[data-testid=block-info]").filter(has_text="分词器").count() >= 1
    finally:
        context.close()
    context, page = _open(browser, server_url + "/?lang=en", SIZES["desktop"], locale="zh-CN")
    try:
        page.wait_for_function("() => document.documentElement.lang === 'en'")
        assert page.locator("button[role=tab]").first.inner_text() == "Tokenize"
    finally:
        context.close()
