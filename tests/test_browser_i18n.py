"""The page in Chinese, in a real browser (Playwright driving Debian's chromium): every tab, no English word left
outside names and code, no text overflowing its box at desktop and phone sizes; the switch; ``?lang=``."""

from __future__ import annotations

import re

import pytest

from rsdemo.catalog import MODELS, TOKENIZERS
from rsdemo.decoding import COMMON_PARAMS, METHODS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TABS = ("tokenize", "compare", "generate", "inside", "about")
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
    "Languages",  # the tab another helper is adding (pending, like PENDING's panels)
    "HF_HUB_OFFLINE",
    "README",
    "assets",
    "scripts",
    "rsdemo",
    "Vijayakumar",
}
# the panels other helpers are adding now: their strings join the catalog at integration
PENDING = "#rs-explain-box, #rs-vocab-box, [id$='-share-row'], [id$='-export'], .rs-share-row"

_COLLECT = """(pending) => {
    const root = document.querySelector('.gradio-container') || document.body;
    const skip = 'textarea, input, code, pre, script, style, svg, .rs-tok, .rs-tokens, .rs-keep, ' + pending;
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

_OVERFLOW = """(pending) => {
    const sel = 'label, button, [role=tab], .rs-card span, .rs-notice, .rs-legend, th, h1, h2, h3, h4, ' +
        'span[data-testid=block-info]';
    const bad = [];
    for (const el of document.querySelectorAll(sel)) {
        if (el.closest(pending) || el.matches('.label-wrap') || !el.getClientRects().length) continue;
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
        names += [getattr(model, "label", ""), str(model.repo_id or "")]
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


def _show_tab(page, tab: str, size: str) -> None:
    if size == "phone" and not page.locator(f"#{tab}-tab, button[role=tab]").first.is_visible():
        pass
    page.locator("button[role=tab]").nth(_tab_index(page, tab)).click()
    if tab == "compare":
        page.wait_for_selector("#rs-cmp-view .rs-tok")
    page.wait_for_timeout(600)  # the language script's pass (one animation frame) and Gradio's render


def _tab_index(page, tab: str) -> int:
    labels = {"tokenize": "分词", "compare": "比较", "generate": "生成", "inside": "内部", "about": "关于"}
    texts = page.locator("button[role=tab]").all_inner_texts()
    if labels[tab] not in texts:  # a phone folds tabs into a menu
        page.locator(".tab-container button, button.overflow-menu").last.click()
        texts = page.locator("button[role=tab]").all_inner_texts()
    return texts.index(labels[tab])


@pytest.mark.parametrize("size", list(SIZES))
def test_every_tab_in_chinese(browser, server_url: str, size: str) -> None:
    allowed = _allowed()
    context, page = _open(browser, server_url, SIZES[size])
    try:
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        problems = []
        for tab in TABS:
            _show_tab(page, tab, size)
            left = _english_words(page.evaluate(_COLLECT, PENDING), allowed)
            problems += [f"{tab}: {w}" for w in left]
            problems += [f"{tab} overflow: {b}" for b in page.evaluate(_OVERFLOW, PENDING)]
            page.screenshot(path=f"/tmp/zh-{tab}-{size}.png", full_page=True)
        assert not problems, "\n".join(problems[:40])
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
