"""What a run writes, on the Chinese page, in a real browser: a Generate run's stats, notes and legend, the engine
dropdown, the method arena, the beam search tree and an Inside run come out in Chinese (no English word left but
names, code and the tokens' own text), and an error says so in Chinese beside its input; the first loads' toasts
are Chinese too."""

from __future__ import annotations

import pytest

from tests.test_browser_i18n import _allowed, _english_words, _open

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# the visible text under some elements, as the page shows it (the tokens' own text, code and inputs left out)
_TEXTS = """(selectors) => {
    const skip = 'textarea, input, code, pre, script, style, svg, .rs-tok, .rs-tokens, .rs-keep';
    const out = [];
    for (const sel of selectors) {
        for (const root of document.querySelectorAll(sel)) {
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                const el = n.parentElement;
                if (!el || el.closest(skip) || !el.getClientRects().length) continue;
                if (n.nodeValue.trim()) out.push(n.nodeValue.trim());
            }
            for (const el of root.querySelectorAll('[data-label], [title]')) {
                if (el.closest(skip)) continue;
                for (const a of ['data-label', 'title']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
            }
        }
    }
    return out;
}"""

# English words a run's text keeps on the Chinese page besides the names: the stages' own names (top-p), units
_KEPT = {"cpu", "bits", "gram", "distinct", "raw", "pytorch", "gguf"}


def _left(page, *selectors: str) -> list[str]:
    texts = page.evaluate(_TEXTS, list(selectors))
    assert texts, f"nothing shown under {selectors}"
    return _english_words(texts, _allowed() | _KEPT)


# every toast's text as last seen (the language script swaps it a frame after it appears; a toast leaves after a
# few seconds), kept while the page runs
_WATCH_TOASTS = """() => {
    window.__rsToasts = new Map();
    setInterval(() => {
        for (const el of document.querySelectorAll('.toast-body')) window.__rsToasts.set(el, el.innerText.trim());
    }, 150);
}"""


def _toasts(page) -> list[str]:
    return page.evaluate("() => [...window.__rsToasts.values()]")


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(300)


def test_a_generate_run_the_arena_and_the_tree_in_chinese(browser, server_url: str) -> None:
    context, page = _open(browser, server_url, (1280, 900))
    try:
        page.evaluate(_WATCH_TOASTS)
        _tab(page, "生成")
        engine = page.locator("#rs-engine input")
        # the page load refreshes the engine dropdown's choices: they stay Chinese
        page.wait_for_timeout(500)
        assert engine.input_value().startswith("自动"), engine.input_value()
        page.locator("#rs-p-max_new_tokens input[type=number]").fill("3")
        page.locator("#rs-generate").click()
        page.wait_for_function(
            "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('完成')", timeout=180_000
        )
        page.get_by_text("模型看到的提示词").click()
        page.locator("#rs-gen-notes p").first.wait_for()
        page.wait_for_timeout(400)  # the language script's pass
        notes = page.locator("#rs-gen-notes").inner_text()
        assert notes.startswith("推理引擎："), notes
        problems = _left(page, "#rs-gen-stats", "#rs-gen-view", "#rs-gen-notes", "#rs-settings-note")
        assert engine.input_value().startswith("自动"), engine.input_value()  # and after the run's refresh
        page.screenshot(path="/tmp/zh-generate-run.png", full_page=True)
        engine.click()
        page.get_by_role("option").first.wait_for()
        options = page.get_by_role("option").all_inner_texts()
        assert options and "自动" in options[0] and not _english_words(options, _allowed()), options
        page.keyboard.press("Escape")
        # the method arena (greedy, top-p and beam search, 3 new tokens each)
        page.locator("#rs-arena").get_by_text("方法擂台").click()
        page.locator("#rs-arena-go").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#rs-arena-view .rs-view').length === 3"
            " && !document.querySelector('#rs-arena-table').innerText.includes('正在运行')",
            timeout=300_000,
        )
        page.wait_for_timeout(400)
        problems += _left(page, "#rs-arena-table", "#rs-arena-view", "#rs-arena-note")
        assert "分歧位置" in page.locator("#rs-arena-table").inner_text()
        # the beam search tree
        page.locator("#rs-tree").get_by_text("束搜索树").first.click()
        page.locator("#rs-tree-go").click()
        page.wait_for_selector("#rs-tree-view svg .rs-node-best", timeout=300_000)
        page.wait_for_timeout(400)
        problems += _left(page, "#rs-tree-view", "#rs-tree-note")
        assert "返回的束" in page.locator("#rs-tree-view").inner_text()
        # the first loads' toasts (gr.Info: "Loading ... on llama.cpp ..."), where this server loaded a model
        problems += [f"toast: {w}" for w in _english_words(_toasts(page), _allowed() | _KEPT)]
        assert not problems, "\n".join(problems[:40])
    finally:
        context.close()


def test_an_inside_run_in_chinese(browser, server_url: str) -> None:
    context, page = _open(browser, server_url, (1280, 900))
    try:
        _tab(page, "内部")
        page.locator("#rs-in-go").click()
        page.wait_for_selector("#rs-in-stages table", timeout=300_000)
        page.wait_for_selector("#rs-in-stats .rs-card", timeout=300_000)
        page.wait_for_timeout(400)
        stages = page.locator("#rs-in-stages").inner_text()
        assert "这个方法的各个阶段" in stages and "原始" in stages, stages[:200]
        problems = _left(page, "#rs-in-stages", "#rs-in-stats", "#rs-in-surprisal")
        assert not problems, "\n".join(problems[:40])
    finally:
        context.close()


def test_errors_in_chinese_beside_their_input(browser, server_url: str) -> None:
    """The page shows an error once, beside the input it is about (never as a toast as well): in Chinese."""
    context, page = _open(browser, server_url, (1280, 900))
    try:
        page.evaluate(_WATCH_TOASTS)
        # ids that are no ids (the Tokenize tab's Decode)
        page.locator("#rs-decode-in textarea").fill("[1, nope]")
        page.locator("#rs-decode-btn").click()
        page.get_by_text("不是词元 ID").first.wait_for()
        # an empty prompt: the note beside the prompt, and the output's place says why it is empty
        _tab(page, "生成")
        page.locator("#rs-prompt textarea").fill("   ")
        page.locator("#rs-generate").click()
        note = page.locator("#rs-prompt-note .rs-field-error")
        note.wait_for()
        page.wait_for_function(
            "() => /[\\u4e00-\\u9fff]/.test(document.querySelector('#rs-prompt-note').innerText)"
            " && /[\\u4e00-\\u9fff]/.test(document.querySelector('#rs-gen-view').innerText)"
        )
        assert "提示词" in note.inner_text(), note.inner_text()
        assert not _left(page, "#rs-prompt-note", "#rs-gen-view")
        # a value out of range: beside the settings
        page.locator("#rs-prompt textarea").fill("Hi")
        page.locator("#rs-stop-strings textarea").fill("\n".join(f"s{n}" for n in range(50)))
        page.locator("#rs-generate").click()
        page.locator("#rs-settings-note .rs-field-error").wait_for()
        page.wait_for_function("() => /[\\u4e00-\\u9fff]/.test(document.querySelector('#rs-settings-note').innerText)")
        assert not _left(page, "#rs-settings-note")
        assert not [t for t in _toasts(page) if _english_words([t.replace("nope", "")], _allowed())]
    finally:
        context.close()
