"""A real browser: Playwright for Python driving Debian's chromium, headless, against the real app."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from rsdemo.decoding import METHODS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture()
def page(browser, server_url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _tokens(page, root: str = "#rs-view") -> list[str]:
    return page.locator(f"{root} .rs-tok").all_inner_texts()


def test_tokenize_screen(page, server_url: str) -> None:
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    assert _tokens(page)[:3] == ["Hello", " world", "!"]

    # type new text
    box = page.locator("#rs-text textarea")
    box.fill("Hello world, 你好 👩‍👩‍👧")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|')"
        " === 'Hello| world|,| |你|好| 👩|‍|👩|‍|👧'"
    )

    # switch tokenizer through the dropdown, as a person would
    dropdown = page.locator("#rs-tokenizer input")
    dropdown.click()
    dropdown.fill("BERT")
    page.get_by_role("option", name="BERT base uncased (WordPiece, 30k)").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|')"
        " .startsWith('hello|world|,')"
        " || [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|')"
        " .startsWith('Hello|world|,')"
    )
    assert page.locator("#rs-view .rs-gap").count() >= 2  # BERT drops the spaces: shown as gaps
    assert "not lossless" in page.locator("#rs-view .rs-notice").inner_text()

    # click a token: its id, piece and bytes appear
    page.locator("#rs-view .rs-tok", has_text="world").first.click()
    details = page.locator("#rs-view .rs-details")
    assert "2088" in details.inner_text() and "77 6f 72 6c 64" in details.inner_text()

    # each token as its vocabulary pieces: BERT's unknown characters show as [UNK]
    page.locator("#rs-show").get_by_text("pieces").click()
    page.wait_for_function("() => document.querySelector('#rs-view .rs-tokens').innerText.includes('[UNK]')")
    page.locator("#rs-show").get_by_text("text").click()

    # whitespace glyphs on demand
    page.locator("#rs-whitespace input").check()
    page.wait_for_selector("#rs-view .rs-ws")

    # decode box
    page.locator("#rs-decode-in textarea").fill("[7592, 2088]")
    page.locator("#rs-decode-btn").click()
    page.wait_for_function("() => document.querySelector('#rs-decoded textarea').value === 'hello world'")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tokenize.png"), full_page=True)


def test_with_the_hub_off_the_page_says_so_where_models_are_chosen(page, server_url: str) -> None:
    """The tests run with HF_HUB_OFFLINE=1: no box invites a Hub repo id, and the Hub's models are left out."""
    page.goto(server_url)
    assert "cannot load here" in page.locator("#rs-hub-note").inner_text()
    assert "Built-in tokenizers only" in page.locator("#rs-tokenizer").inner_text()
    page.get_by_role("tab", name="Generate").click()
    assert "Built-in models only" in page.locator("#rs-model").inner_text()
    page.locator("#rs-model input").click()
    options = page.get_by_role("option").all_inner_texts()
    assert any("SmolLM2-135M" in o for o in options) and not any("(Hub)" in o for o in options)
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Inside").click()
    assert "built-in models only" in page.locator("#rs-in-model").inner_text()


def test_share_link_reopens_the_same_state(page, server_url: str) -> None:
    page.goto(f"{server_url}/?tokenizer=llama3&text=Hello%20%F0%9F%87%AB%F0%9F%87%B7&special=1")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|')"
        " === '<|begin_of_text|>|Hello| 🇫|🇷'"
    )
    page.locator("#rs-share").click()
    page.wait_for_function("() => document.querySelector('#rs-share-url textarea, #rs-share-url input').value")
    link = page.locator("#rs-share-url textarea, #rs-share-url input").first.input_value()
    assert "tokenizer=llama3" in link and "special=1" in link


def test_a_long_text_gets_a_share_link_that_says_what_it_kept(page, server_url: str) -> None:
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    page.locator("#rs-text textarea").fill("🙂" + "x" * 9_999)
    page.locator("#rs-share").click()
    note = page.locator("#rs-share-note .rs-notice")
    note.wait_for()
    link = page.locator("#rs-share-url textarea, #rs-share-url input").first.input_value()
    from urllib.parse import parse_qs, urlparse

    from rsdemo.share import SHARE_LINK_CHARS

    kept = parse_qs(urlparse(link).query)["text"][0]
    assert kept == "🙂" + "x" * (len(kept) - 1)  # code points, the emoji kept whole
    assert len(link) == SHARE_LINK_CHARS  # the limit is on the link, URL-encoded; every "x" is one character
    said = note.inner_text()
    assert f"first {len(kept):,} of the 10,000 characters" in said and f"it is {len(link):,} characters" in said
    page.locator("#rs-text textarea").fill("東京🙂 " * 3_000)  # 12,000 characters; 9 or 12 per character encoded
    page.locator("#rs-share").click()
    page.wait_for_function("() => document.querySelector('#rs-share-note')?.innerText.includes('of the 12,000')")
    link = page.locator("#rs-share-url textarea, #rs-share-url input").first.input_value()
    kept = parse_qs(urlparse(link).query)["text"][0]
    assert len(link) <= SHARE_LINK_CHARS and ("東京🙂 " * 3_000).startswith(kept)
    assert f"first {len(kept):,} of the 12,000" in page.locator("#rs-share-note").inner_text()
    page.locator("#rs-text textarea").fill("short")
    page.locator("#rs-share").click()
    page.wait_for_function("() => !document.querySelector('#rs-share-note .rs-notice')")


def _share_link(page) -> str:
    page.locator("#rs-share").click()
    page.wait_for_function("() => document.querySelector('#rs-share-url textarea, #rs-share-url input').value")
    return page.locator("#rs-share-url textarea, #rs-share-url input").first.input_value()


def test_share_link_keeps_whitespace_and_the_token_label(page, server_url: str) -> None:
    """Issue 18, item 8: "Show whitespace" and "Each token shows: ids" come back from the link."""
    page.goto(f"{server_url}/?tokenizer=gpt2&text=hello%20world")
    page.wait_for_selector("#rs-view .rs-tok")
    page.locator("#rs-whitespace input").check()
    page.locator("#rs-show").get_by_text("ids", exact=True).click()
    page.wait_for_selector("#rs-view .rs-ids")
    link = _share_link(page)
    assert "ws=1" in link and "show=ids" in link
    page.goto(link)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-ids .rs-tok')].map(e => e.innerText).join('|')"
        " === '31373|995'"
    )
    assert page.locator("#rs-whitespace input").is_checked()
    assert page.locator("#rs-show input[value=ids]").is_checked()


def test_a_compare_link_opens_the_compare_tab(page, server_url: str) -> None:
    """Issue 18, item 8: ``?compare=`` fills Compare and opens it, without a click."""
    page.goto(f"{server_url}/?compare=gpt2,llama3&text=hi%20there&ws=1")
    page.wait_for_function("() => document.querySelectorAll('#rs-cmp-view .rs-compare-row').length === 2")
    assert page.get_by_role("tab", name="Compare").get_attribute("aria-selected") == "true"
    assert page.locator("#rs-cmp-view").is_visible() and not page.locator("#rs-view").is_visible()
    assert page.locator("#rs-cmp-ws input").is_checked()
    page.wait_for_selector("#rs-cmp-view .rs-ws")


def _xs(page, root: str) -> dict[str, float]:
    return page.evaluate(
        f"() => Object.fromEntries([...document.querySelectorAll('{root} .rs-tok')]"
        ".map(e => [e.dataset.d ? JSON.parse(e.dataset.d).text : e.innerText, e.getBoundingClientRect().x]))"
    )


def test_a_right_to_left_override_does_not_reorder_the_tokens(page, server_url: str) -> None:
    """Issue 18, item 3: U+202E before "abc def ghi" must not draw it as "ihg fed cba", in any view."""
    page.goto(f"{server_url}/?tokenizer=gpt2&text={quote(chr(0x202E) + 'abc def ghi')}")
    page.wait_for_function("() => document.querySelectorAll('#rs-view .rs-tok').length === 5")
    for shown in (False, True):
        if shown:
            page.locator("#rs-whitespace input").check()
            page.wait_for_selector("#rs-view .rs-ws")
        xs = _xs(page, "#rs-view")
        assert xs["abc"] < xs[" def"] < xs[" g"] < xs["hi"], (shown, xs)
        assert page.locator("#rs-view .rs-tok").first.is_visible()  # the control itself: a visible label
    page.locator("#rs-view .rs-tok").first.click()
    assert "\\u202E" in page.locator("#rs-view .rs-details").inner_text()  # named in the panel, not applied
    page.goto(f"{server_url}/?compare=gpt2,llama3&text={quote(chr(0x202E) + 'abc def ghi')}")
    page.wait_for_function("() => document.querySelectorAll('#rs-cmp-view .rs-compare-row').length === 2")
    xs = _xs(page, "#rs-cmp-view [data-tokenizer=gpt2]")
    assert xs["abc"] < xs[" def"] < xs[" g"] < xs["hi"], xs


def test_whitespace_only_text_is_tokenised_and_seen(page, server_url: str) -> None:
    """Issue 18, item 4: whitespace is text; every token of it is drawn, with whitespace shown or not."""
    page.goto(f"{server_url}/?tokenizer=gpt2&text=x")
    page.wait_for_selector("#rs-view .rs-tok")
    page.locator("#rs-text textarea").fill("\n\n\t  ")
    page.wait_for_function("() => document.querySelectorAll('#rs-view .rs-tok').length === 4")
    assert page.locator("#rs-text-note .rs-field-error").count() == 0
    for shown in (False, True):
        if shown:
            page.locator("#rs-whitespace input").check()
            page.wait_for_selector("#rs-view .rs-ws")
        for tok in page.locator("#rs-view .rs-tok").all():
            box = tok.bounding_box()
            assert box and box["width"] >= 4 and box["height"] >= 8, (shown, tok.get_attribute("aria-label"))
    page.get_by_role("tab", name="Compare").click()
    page.locator("#rs-cmp-text textarea").fill("\r\n\t" * 1_000)
    page.locator("#rs-cmp-btn").click()
    page.wait_for_function(  # the link's own text ("x") was compared on load: wait for this text's rows
        "() => document.querySelectorAll('#rs-cmp-view .rs-compare-row').length === 5"
        " && !document.querySelector('#rs-cmp-view').innerText.includes('comparing')"
        " && !document.querySelector('#rs-cmp-view [data-tokenizer=gpt2]').innerText.includes(' — 1 tokens')"
    )
    assert page.locator("#rs-cmp-text-note .rs-field-error").count() == 0
    bert = page.locator("#rs-cmp-view [data-tokenizer=bert-base-uncased]")
    assert "No tokens" in bert.inner_text() and bert.locator(".rs-gap").is_visible()


def test_zero_width_and_newline_tokens_can_be_seen_and_clicked(page, server_url: str) -> None:
    """Issue 18, item 12: the default text's U+200D tokens and its newline tokens draw a clickable label."""
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    zwj = page.locator("#rs-view .rs-tok[aria-label^='U+200D']").first
    assert zwj.is_visible() and zwj.bounding_box()["width"] >= 8
    zwj.click()
    details = page.locator("#rs-view .rs-details").inner_text()
    assert '"\\u200D"' in details and "e2 80" in details and "8d" in details  # named, and its bytes
    newline = page.locator("#rs-view .rs-tok[aria-label^='newline']").first
    assert newline.is_visible() and newline.bounding_box()["width"] >= 8
    assert page.evaluate("() => document.querySelector('#rs-view .rs-tokens').innerText").startswith("Hello world!")


def test_long_tokens_wrap_inside_their_own_box_on_a_phone(browser, server_url: str) -> None:
    """Issue 18, item 12: on a 390 px phone a 64-character token is one box, inside the view, edges and all."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        text = "Long tokens: " + "=" * 64 + " " + "-" * 64 + " end"
        page.goto(f"{server_url}/?tokenizer=gpt2&text={quote(text)}")
        page.wait_for_selector("#rs-view .rs-tok")
        view = page.locator("#rs-view .rs-tokens").bounding_box()
        long = [t for t in page.locator("#rs-view .rs-tok").all() if len(t.inner_text()) >= 30]
        assert len(long) >= 2
        for tok in long:
            rects = tok.evaluate("e => [...e.getClientRects()].map(r => [r.left, r.right])")
            assert len(rects) == 1, rects  # one box (several lines inside it), not pieces on several lines
            left, right = rects[0]
            assert view["x"] <= left and right <= view["x"] + view["width"]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "phone-long-tokens.png"), full_page=True)
    finally:
        context.close()


def test_a_million_tokens_say_what_is_shown_and_download_every_id(browser, server_url: str) -> None:
    """Issue 18, item 5: the notice says what the box holds, the box pastes into Decode, the download has all."""
    import json

    context = browser.new_context(viewport={"width": 1280, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{server_url}/?tokenizer=char&text=x")
        page.wait_for_selector("#rs-view .rs-tok")
        page.evaluate(
            """() => { const box = document.querySelector('#rs-text textarea');
                box.value = 'ab'.repeat(500000); box.dispatchEvent(new Event('input', { bubbles: true })); }"""
        )
        page.wait_for_function("() => document.querySelector('#rs-view .rs-notice')?.innerText.includes('1,000,000')")
        notice = page.locator("#rs-view .rs-notice").inner_text()
        assert "Showing the first 2,000 of 1,000,000 tokens" in notice and "ids cover the whole text" not in notice
        page.get_by_text("Token ids", exact=True).click()
        box = page.locator("#rs-ids textarea").input_value()
        assert json.loads(box) == [97, 98] * 1_000  # a valid list: no "… and 998,000 more" inside it
        assert "first 2,000 of the 1,000,000 ids" in page.locator("#rs-ids-note").inner_text()
        with page.expect_download() as download:
            page.locator("#rs-ids-download").click()
        assert download.value.suggested_filename == "token-ids-char-1000000.json"
        with open(download.value.path(), encoding="utf-8") as f:
            assert json.load(f) == [97, 98] * 500_000
        page.locator("#rs-decode-in textarea").fill(box)
        page.locator("#rs-decode-btn").click()
        page.wait_for_function("() => document.querySelector('#rs-decoded textarea').value === 'ab'.repeat(1000)")
        assert page.locator("#rs-decode-note .rs-field-error").count() == 0
        page.locator("#rs-text textarea").fill("short")
        page.wait_for_function("() => !document.querySelector('#rs-ids-note .rs-notice')")
        assert not page.locator("#rs-ids-download").is_visible()
    finally:
        context.close()


def test_tokens_are_reachable_and_usable_by_keyboard(page, server_url: str) -> None:
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    tokens = page.locator("#rs-view .rs-tok[data-d]")
    n = tokens.count()
    assert n >= 3
    assert page.locator("#rs-view .rs-tok[data-d][tabindex][role=button][aria-label]").count() == n
    assert page.locator('#rs-view .rs-tok[tabindex="0"]').count() == 1  # the view is one Tab stop
    assert tokens.nth(1).get_attribute("aria-label") == "space world, id 995"
    # Tab from the text box reaches the token view
    page.locator("#rs-text textarea").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('#rs-view .rs-tok')"):
            break
    else:
        pytest.fail("Tab never reached the token view")
    assert page.evaluate("() => document.activeElement.innerText") == "Hello"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.innerText") == " world"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")  # a visible focus ring
    page.keyboard.press("Enter")
    details = page.locator("#rs-view .rs-details").inner_text()
    assert "995" in details and "Ġworld" in details
    page.keyboard.press("End")
    page.keyboard.press(" ")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-pressed')") == "true"
    assert page.locator('#rs-view .rs-tok[tabindex="0"]').count() == 1


def test_details_that_read_as_finished(page, server_url: str) -> None:
    page.goto(f"{server_url}/?tokenizer=gpt2&text=" + quote("unbelievable tokenization"))
    page.wait_for_selector("#rs-view .rs-tok")
    # ids mode: neighbouring segments' ids are separated, on screen and when copied
    page.locator("#rs-show").get_by_text("ids", exact=True).click()
    page.wait_for_function("() => document.querySelector('#rs-view .rs-ids')")
    ids = page.locator("#rs-view .rs-tokens").inner_text().split()
    assert len(ids) == page.locator("#rs-view .rs-tok").count() and all(i.isdigit() for i in ids)
    page.locator("#rs-show").get_by_text("text", exact=True).click()
    # a long run of spaces wraps inside the view instead of overflowing sideways
    page.locator("#rs-text textarea").fill("a" + " " * 2000 + "b")
    page.wait_for_function("() => document.querySelector('#rs-view .rs-tokens').innerText.length > 1500")
    overflow = page.evaluate(
        "() => { const v = document.querySelector('#rs-view .rs-tokens'); return v.scrollWidth - v.clientWidth; }"
    )
    assert overflow <= 1
    # the About tab shows special tokens as written
    page.get_by_role("tab", name="About").click()
    page.get_by_text("adds <|begin_of_text|> with special tokens on").wait_for()


def _top(page, selector: str) -> float:
    return page.evaluate(f"() => document.querySelector('{selector}').getBoundingClientRect().top")


def test_a_phone_reaches_every_tab_and_sees_the_controls_first(browser, server_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(server_url)
        page.wait_for_selector("#rs-view .rs-tok")
        for name in ("Tokenize", "Compare", "Generate", "Inside", "About"):  # no "more tabs" menu
            assert page.get_by_role("tab", name=name).is_visible(), name
        assert not page.get_by_role("button", name="More tabs").is_visible()
        assert _top(page, "#rs-text") < _top(page, "#rs-tokenizer") < _top(page, "#rs-stats") < _top(page, "#rs-view")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing sideways
        page.get_by_role("tab", name="Generate").tap()
        page.locator("#rs-model").wait_for(state="visible")
        order = [_top(page, s) for s in ("#rs-prompt", "#rs-model", "#rs-method", "#rs-generate", "#rs-gen-view")]
        assert order == sorted(order), order
        page.get_by_role("tab", name="About").tap()
        page.get_by_text("Built-in tokenizers").first.wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        page.get_by_role("tab", name="Tokenize").tap()
        page.screenshot(path=str(ARTIFACTS / "phone.png"))
    finally:
        context.close()


_OUTSIDE = """(root) => { const w = document.documentElement.clientWidth;
    return [...document.querySelectorAll(root + ' *')].filter(e => e.offsetParent !== null
        && e.getBoundingClientRect().right > w + 1 && !e.closest('.rs-beam-tree')).length; }"""


def test_a_phone_sees_every_column_of_the_tables_and_the_api_link(browser, server_url: str) -> None:
    """Compare's seven columns and the arena's ten as one card per row; the beam tree starts at its top lane;
    "Use via API" in the footer, as on a desktop."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(server_url)
        page.wait_for_selector("#rs-view .rs-tok")
        assert page.locator("footer").get_by_text("Use via API").is_visible()
        page.get_by_role("tab", name="Compare").tap()
        cards = page.locator("#rs-cmp-view .rs-cmp-cards")
        cards.locator("tbody tr").first.wait_for(state="visible", timeout=120_000)
        assert not page.locator("#rs-cmp-table").is_visible()  # the Dataframe gives way to the cards
        first = cards.locator("tbody tr").first
        labels = first.locator("td").evaluate_all("cells => cells.map(c => c.dataset.label)")
        assert labels == ["tokenizer", "tokens", "chars/token", "bytes/token", "tokens/word", "vocabulary", "lossless"]
        assert all(td.is_visible() for td in first.locator("td").all())
        shown = first.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
        assert shown[3] == '"bytes/token"' and first.locator("td").nth(1).inner_text() == "77"  # name beside value
        assert page.evaluate(_OUTSIDE, "#rs-cmp-view") == 0
        page.get_by_role("tab", name="Generate").tap()
        page.locator("#rs-prompt textarea").fill("Name a colour.")
        page.locator("#rs-p-max_new_tokens input[type=number]").fill("4")
        page.locator("#rs-arena").get_by_text("Method arena").tap()
        page.locator("#rs-arena-go").tap()
        page.wait_for_function(
            "() => document.querySelectorAll('#rs-arena-view .rs-view').length === 3"
            " && !document.querySelector('#rs-arena-table').innerText.includes('running')",
            timeout=180_000,
        )
        row = page.locator("#rs-arena-table tbody tr").first
        names = row.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
        assert '"distinct-2"' in names and '"diverges at"' in names
        assert all(td.is_visible() for td in row.locator("td").all())
        assert page.evaluate(_OUTSIDE, "#rs-arena-table") == 0
        page.locator("#rs-tree").get_by_text("Beam search tree").tap()
        page.locator("#rs-tree-go").tap()
        page.wait_for_selector("#rs-tree-view svg .rs-node-best", timeout=180_000)
        top = page.evaluate(
            "() => Math.min(...[...document.querySelectorAll('#rs-tree-view rect')].map(r => +r.getAttribute('y')))"
        )
        best = page.locator("#rs-tree-view .rs-node-best rect").first.get_attribute("y")
        assert float(best) == top  # the chosen sequence runs along the top lane: no empty band above it
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "phone_generate.png"), full_page=True)
    finally:
        context.close()


def _toasts(page) -> str:
    return " ".join(page.locator(".toast-body").all_inner_texts())


def test_an_error_replaces_the_result_it_is_about(page, server_url: str) -> None:
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    # a Hub name while the Hub is off: the note sits by the tokenizer and the old view goes
    box = page.locator("#rs-tokenizer input")
    box.fill("someone/some-tokenizer")
    box.press("Enter")
    note = page.locator("#rs-tokenizer-note .rs-field-error")
    note.wait_for()
    assert "Hub" in note.inner_text()
    assert page.locator("#rs-view .rs-tok").count() == 0 and page.locator("#rs-view .rs-stale").count() == 1
    assert page.locator("#rs-stats").inner_text().strip() == ""
    assert page.locator(".rs-field-error").count() == 1 and _toasts(page) == ""  # shown once, by its field
    # an empty text: the note moves to the text box
    page.locator("#rs-text textarea").fill("")
    page.locator("#rs-text-note .rs-field-error").wait_for()
    assert page.locator("#rs-tokenizer-note .rs-field-error").count() == 0
    # a failed decode clears the pieces it showed before
    page.locator("#rs-text textarea").fill("Hello")
    box.fill("gpt2")
    box.press("Enter")
    page.wait_for_selector("#rs-view .rs-tok")
    page.locator("#rs-decode-in textarea").fill("[15496, 995]")
    page.locator("#rs-decode-btn").click()
    page.wait_for_selector("#rs-decoded-view .rs-tok")
    page.locator("#rs-decode-in textarea").fill("[15496, 99999999]")
    page.locator("#rs-decode-btn").click()
    page.locator("#rs-decode-note .rs-field-error").wait_for()
    assert page.locator("#rs-decoded-view .rs-tok").count() == 0
    assert page.locator("#rs-decoded textarea").input_value() == ""


def test_compare_with_one_tokenizer_clears_the_old_views(page, server_url: str) -> None:
    page.goto(f"{server_url}/?compare=gpt2,char&text=hello%20world")
    page.get_by_role("tab", name="Compare").click()
    page.wait_for_function("() => document.querySelectorAll('#rs-cmp-view .rs-compare-row').length === 2")
    page.locator("#rs-cmp-keys").get_by_role("button", name="Remove Unicode characters").or_(
        page.locator("#rs-cmp-keys .token-remove").nth(1)
    ).first.click()
    page.locator("#rs-cmp-keys-note .rs-field-error").wait_for()
    assert "Pick 2 to" in page.locator("#rs-cmp-keys-note").inner_text()
    assert page.locator("#rs-cmp-view .rs-compare-row").count() == 0
    assert page.locator("#rs-cmp-view .rs-stale").count() == 1 and _toasts(page) == ""


def test_generate_errors_sit_beside_their_input(page, server_url: str) -> None:
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("3")
    page.locator("#rs-generate").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=120_000
    )
    # a Hub model while the Hub is off: no "converts the model once" notice first, the error by the model
    model = page.locator("#rs-model input")
    model.fill("someone/some-model")
    model.press("Enter")
    page.locator("#rs-generate").click()
    page.locator("#rs-model-note .rs-field-error").wait_for()
    assert "Hub" in page.locator("#rs-model-note").inner_text()
    assert page.locator("#rs-gen-view .rs-gen").count() == 0 and page.locator("#rs-gen-view .rs-stale").count() == 1
    assert page.locator("#rs-gen-stats").inner_text().strip() == ""
    assert "convert" not in _toasts(page) and page.locator(".rs-field-error").count() == 1
    # back to the embedded model, with an empty prompt: the note moves to the prompt
    model.fill("smollm2-135m-instruct")
    model.press("Enter")
    page.locator("#rs-prompt textarea").fill("   ")
    page.locator("#rs-generate").click()
    page.locator("#rs-prompt-note .rs-field-error").wait_for()
    assert page.locator("#rs-model-note .rs-field-error").count() == 0
    # stop strings over the limit: the note sits by the method's settings
    page.locator("#rs-prompt textarea").fill("Hi")
    page.locator("#rs-stop-strings textarea").fill("\n".join(f"s{n}" for n in range(50)))
    page.locator("#rs-generate").click()
    page.locator("#rs-settings-note .rs-field-error").wait_for()
    assert "stop strings" in page.locator("#rs-settings-note").inner_text()
    assert page.locator("#rs-prompt-note .rs-field-error").count() == 0


def test_bad_input_shows_an_error_and_the_page_keeps_working(page, server_url: str) -> None:
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    page.locator("#rs-decode-in textarea").fill("[1, nope]")
    page.locator("#rs-decode-btn").click()
    page.get_by_text("is not a token id").first.wait_for()
    page.locator("#rs-text textarea").fill("still works")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|') === 'still| works'"
    )


def test_compare_screen(page, server_url: str) -> None:
    page.goto(f"{server_url}/?compare=gpt2,bert-base-uncased,char&text=unbelievable%20tokenization")
    page.get_by_role("tab", name="Compare").click()
    page.wait_for_function("() => document.querySelectorAll('#rs-cmp-view .rs-compare-row').length === 3")
    rows = page.locator("#rs-cmp-view .rs-compare-row")
    assert rows.nth(0).get_attribute("data-tokenizer") == "gpt2"
    assert page.locator("#rs-cmp-view .rs-diff").count() > 0
    table = page.locator("#rs-cmp-table").inner_text()
    assert "bert-base-uncased" in table and "char" in table
    assert "50,257" in table and "30,522" in table  # numbers written as the Tokenize tab writes them
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_one_megabyte_of_text_stays_usable(page, server_url: str) -> None:
    page.goto(server_url)
    page.wait_for_selector("#rs-view .rs-tok")
    # paste 1 MB at once (as a person pasting a file would), through the real textarea
    page.evaluate(
        """() => {
            const box = document.querySelector('#rs-text textarea');
            const unit = 'The quick brown fox jumps over the lazy dog. 東京 🙂\\n';
            box.value = unit.repeat(Math.ceil(1048576 / unit.length)).slice(0, 1048576);
            box.dispatchEvent(new Event('input', { bubbles: true }));
        }"""
    )
    notice = page.locator("#rs-view .rs-notice")
    notice.wait_for(timeout=60_000)
    assert "Showing the first 2,000 of" in notice.inner_text()
    assert page.locator("#rs-view .rs-tok").count() <= 2000
    cards = page.locator("#rs-stats .rs-card b").all_inner_texts()
    tokens, chars = (int(c.replace(",", "")) for c in cards[:2])
    assert tokens > 200_000 and chars > 1_000_000  # the stats cover the whole text, not the window
    # the page still answers: switch tokenizer, and the view follows
    page.locator("#rs-text textarea").fill("small again")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.innerText).join('|') === 'small| again'"
    )


TOP_P_LABEL = METHODS["top_p"].label


def test_generate_screen(page, server_url: str) -> None:
    page.goto(server_url)
    assert not page.locator("#rs-p-seed").is_visible()  # greedy does not sample
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-prompt textarea").fill("What is the capital of France? Answer in one sentence.")
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("16")
    page.locator("#rs-generate").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=120_000
    )
    text = page.locator("#rs-gen-view .rs-tokens").inner_text()
    assert "Paris" in text
    spans = page.locator("#rs-gen-view .rs-gen")
    assert spans.count() >= 5
    assert "hsl(" in (spans.first.get_attribute("style") or "")  # coloured by probability
    legend = page.locator("#rs-gen-view .rs-prob-legend")
    assert legend.is_visible() and "0%" in legend.inner_text() and "100%" in legend.inner_text()
    # click a token: its probability and the alternatives the model considered
    page.locator("#rs-gen-view .rs-gen", has_text="Paris").first.click()
    details = page.locator("#rs-gen-view .rs-details").inner_text()
    assert "alternative" in details and "p = " in details
    # the prompt as the model sees it, with the chat template's special tokens
    page.get_by_text("Prompt as the model sees it").click()
    assert "<|im_start|>" in page.locator("#rs-prompt-seen textarea").input_value()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "generate.png"), full_page=True)

    # beam search: every beam is shown with its score; only the method's own parameters are visible
    page.locator("#rs-method input").click()
    page.get_by_role("option", name="Beam search", exact=True).click()
    page.locator("#rs-p-beam-num_beams").wait_for(state="visible")
    assert not page.locator("#rs-p-top_p-top_p").is_visible()
    assert not page.locator("#rs-p-seed").is_visible()  # beam search does not sample: no seed to set
    page.locator("#rs-method input").click()
    page.get_by_role("option", name=TOP_P_LABEL, exact=True).click()
    page.locator("#rs-p-seed").wait_for(state="visible")  # sampling: the seed matters
    page.locator("#rs-method input").click()
    page.get_by_role("option", name="Beam search", exact=True).click()
    page.locator("#rs-p-seed").wait_for(state="hidden")
    page.locator("#rs-generate").click()
    # while it searches, the leading candidate streams, said to be provisional
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes("
        "'the leading beam so far') && document.querySelectorAll('#rs-gen-view .rs-gen').length > 0",
        timeout=180_000,
    )
    page.screenshot(path=str(ARTIFACTS / "beam-searching.png"), full_page=False)
    page.wait_for_function(
        "() => document.querySelectorAll('#rs-gen-view .rs-view').length === 4"
        " && document.querySelector('#rs-gen-stats').innerText.includes('done')",
        timeout=180_000,
    )
    assert "score" in page.locator("#rs-gen-view").inner_text()


def test_branching_from_an_alternative(page, server_url: str) -> None:
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("12")
    page.locator("#rs-generate").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=120_000
    )
    original = page.locator("#rs-gen-view .rs-tokens").inner_text()
    page.locator("#rs-gen-view .rs-gen").nth(2).click()
    # the token the run took is listed, but offers no branch to itself
    taken = page.locator("#rs-gen-view .rs-details .rs-taken")
    assert taken.count() == 1 and "rs-branchable" not in (taken.get_attribute("class") or "")
    page.locator("#rs-gen-view .rs-details .rs-branchable").first.click()  # the runner-up at token 3 (greedy)
    page.wait_for_selector("#rs-branches .rs-view[data-run='1']", timeout=120_000)
    assert "Branch 1: run 0 at token 3" in page.locator("#rs-branches").inner_text()
    branch = page.locator("#rs-branches .rs-view[data-run='1'] .rs-tokens").inner_text()
    assert branch != original and page.locator("#rs-branches .rs-diverge").count() == 1
    # a branch of the branch, from its token 5
    page.locator("#rs-branches .rs-view[data-run='1'] .rs-gen").nth(4).click()
    page.locator("#rs-branches .rs-view[data-run='1'] .rs-details .rs-branchable").first.click()
    page.wait_for_selector("#rs-branches .rs-view[data-run='2']", timeout=120_000)
    assert "Branch 2: run 1 at token 5" in page.locator("#rs-branches").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#rs-branch").screenshot(path=str(ARTIFACTS / "branches.png"))


def test_beam_tree(page, server_url: str) -> None:
    """Drawn on the page's own defaults (Max new tokens 64): a search of 32 tokens, said beside the button."""
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    assert page.locator("#rs-p-max_new_tokens input[type=number]").input_value() == "64"
    page.locator("#rs-tree").get_by_text("Beam search tree").click()
    page.locator("#rs-tree-go").click()
    page.wait_for_selector("#rs-tree-view svg .rs-node-best", timeout=180_000)
    note = page.locator("#rs-tree-note")
    assert "a beam search of 32 new tokens (Max new tokens is 64" in note.inner_text()
    assert note.locator(".rs-field-error").count() == 0 and "No tree" not in page.locator("#rs-tree-view").inner_text()
    assert page.locator("#rs-tree-view .rs-node-best").count() >= 2  # the chosen path, token by token
    assert page.locator("#rs-tree-view .rs-node").count() > page.locator("#rs-tree-view .rs-node-best").count()
    assert "Returned beams, best first" in page.locator("#rs-tree-view").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#rs-tree").screenshot(path=str(ARTIFACTS / "beam_tree.png"))


def test_method_arena(page, server_url: str) -> None:
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-prompt textarea").fill("Write a short poem about the sea.")
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("10")
    page.locator("#rs-arena").get_by_text("Method arena").click()
    page.locator("#rs-arena-go").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#rs-arena-view .rs-view').length === 3"
        " && !document.querySelector('#rs-arena-table').innerText.includes('running')",
        timeout=180_000,
    )
    table = page.locator("#rs-arena-table").inner_text()
    for label in ("Greedy", "Top-p", "Beam search", "distinct-2", "perplexity"):
        assert label in table
    assert page.locator("#rs-arena-view .rs-diverge").count() >= 2  # where the outputs part
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#rs-arena").screenshot(path=str(ARTIFACTS / "arena.png"))


def test_engines_that_disagree_are_shown(page, server_url: str) -> None:
    """transformers' view of a llama.cpp run, token by token; two engines side by side in the arena."""
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("12")
    page.locator("#rs-generate").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=120_000
    )
    assert "llama.cpp" in page.locator("#rs-gen-stats").inner_text()
    page.locator("#rs-second input").check()
    page.wait_for_function(
        "() => (document.querySelector('#rs-second-note') || {}).innerText?.includes("
        "'transformers ranks the same token first as llama.cpp at')",
        timeout=120_000,
    )
    assert page.locator("#rs-gen-view .rs-gen").count() >= 5
    page.locator("#rs-gen-view .rs-gen").nth(1).click()
    assert "transformers: p = " in page.locator("#rs-gen-view .rs-details").inner_text()

    page.locator("#rs-arena").get_by_text("Method arena").click()
    page.locator("#rs-arena-methods input").click()
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")  # greedy alone left
    page.keyboard.press("Escape")
    page.locator("#rs-arena-engines input").click()
    page.get_by_role("option", name="llama.cpp (GGUF, CPU)").click()
    page.locator("#rs-arena-engines input").click()
    page.get_by_role("option", name="transformers (PyTorch)").click()
    page.keyboard.press("Escape")
    page.locator("#rs-arena-go").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#rs-arena-view .rs-view').length === 2"
        " && !document.querySelector('#rs-arena-table').innerText.includes('running')",
        timeout=180_000,
    )
    table = page.locator("#rs-arena-table").inner_text()
    assert "Greedy · llama.cpp" in table and "Greedy · transformers" in table
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "engines.png"), full_page=True)


def test_inside_screen(page, server_url: str) -> None:
    page.goto(server_url)
    page.get_by_role("tab", name="Inside").click()
    page.locator("#rs-in-go").click()
    page.wait_for_selector("#rs-in-stages .rs-stage-table", timeout=120_000)
    page.wait_for_selector("#rs-in-surprisal .rs-gen", timeout=120_000)
    heads = page.locator("#rs-in-stages thead th").all_inner_texts()
    assert heads[1].startswith("raw") and any(h.startswith("top-p") for h in heads)
    assert not any(h.startswith("min-p") for h in heads)  # only the stages top-p sampling has
    first = page.locator("#rs-in-stages tbody tr").first.inner_text()
    assert "Paris" in first  # the embedded model's most probable next token
    assert page.locator("#rs-in-stages tr.rs-probed").count() >= 1  # "Paris" without a space: outside the top 10
    top_p_head = next(h for h in heads if h.startswith("top-p"))
    # a slider move: the stages again, from the kept forward pass
    box = page.locator("#rs-in-p-top_p-top_p input[type=number]")
    box.fill("0.5")
    box.press("Enter")
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('#rs-in-stages thead th')].map(e => e.innerText)"
        ".some(t => t.startsWith('top-p') && t !== before)",
        arg=top_p_head,
        timeout=60_000,
    )
    assert "perplexity" in page.locator("#rs-in-stats").inner_text()
    # the distribution at another point of the text: after "<|endoftext|>The capital of" (4 tokens)
    page.locator("#rs-in-position input").fill("4")
    page.locator("#rs-in-position input").press("Enter")
    page.wait_for_function(
        "() => { const row = document.querySelector('#rs-in-stages tbody tr');"
        " return row && row.innerText.includes('the') && !row.innerText.includes('Paris'); }",
        timeout=60_000,
    )  # the embedded model's top next token there is " the"
    page.locator("#rs-in-surprisal .rs-gen", has_text="France").first.click()
    assert "alternative" in page.locator("#rs-in-surprisal .rs-details").inner_text()
    assert page.evaluate(_INJECTED.replace("#rs-decoded-view", "#rs-in-stages, #rs-in-surprisal")) == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inside.png"), full_page=True)


def test_stop_button_stops_generation(page, server_url: str) -> None:
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-prompt textarea").fill("Write a very long story about a lighthouse keeper.")
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("400")
    page.locator("#rs-generate").click()
    page.wait_for_function("() => document.querySelectorAll('#rs-gen-view .rs-gen').length >= 3", timeout=120_000)
    page.locator("#rs-stop").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('stopped by you')",
        timeout=60_000,
    )
    count = int(page.locator("#rs-gen-stats .rs-card b").first.inner_text())
    assert 3 <= count < 400


HOSTILE_TEXT = '<img src=x onerror=alert(1)> <script>alert(2)</script> "><svg onload=alert(3)> javascript:alert(4)'
_INJECTED = """() => [...document.querySelectorAll('#rs-view, #rs-cmp-view, #rs-gen-view, #rs-decoded-view')]
    .flatMap(root => [...root.querySelectorAll('img, script, svg, iframe, [onerror], [onload]')]).length"""


def test_html_in_text_shows_as_text_in_every_view(page, server_url: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # a share link carrying the hostile text, on page load
    page.goto(f"{server_url}/?tokenizer=gpt2&text={quote(HOSTILE_TEXT)}")
    page.wait_for_function("() => document.querySelector('#rs-view .rs-tokens')?.innerText.includes('onerror')")
    for mode in ("pieces", "ids", "text"):
        page.locator("#rs-show").get_by_text(mode, exact=True).click()
        page.wait_for_timeout(500)
        assert page.evaluate(_INJECTED) == 0
    assert page.locator("#rs-view .rs-tokens").inner_text().replace("\n", "") == HOSTILE_TEXT
    page.locator("#rs-view .rs-tok", has_text="script").first.click()  # the details panel
    assert "script" in page.locator("#rs-view .rs-details").inner_text()
    # the decode box: pieces of the hostile text
    page.get_by_text("Token ids", exact=True).click()
    ids = page.locator("#rs-ids textarea").input_value()
    page.locator("#rs-decode-in textarea").fill(ids.split("  ")[0])
    page.locator("#rs-decode-btn").click()
    page.wait_for_function("() => document.querySelector('#rs-decoded textarea').value.includes('onerror')")
    # a tokenizer name that is HTML: the error message shows it as text
    box = page.locator("#rs-tokenizer input")
    box.fill("<img src=x onerror=alert(5)>")
    box.press("Enter")
    page.get_by_text("Unknown tokenizer '<img src=x onerror=alert(5)>'").first.wait_for()
    # Compare, filled from a share link
    page.goto(f"{server_url}/?compare=gpt2,llama3,char&text={quote(HOSTILE_TEXT)}")
    page.get_by_role("tab", name="Compare").click()
    page.wait_for_function("() => document.querySelectorAll('#rs-cmp-view .rs-compare-row').length === 3")
    # Generate: the prompt, the templated prompt and the reproduce code
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-prompt textarea").fill(HOSTILE_TEXT)
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("4")
    page.locator("#rs-generate").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=120_000
    )
    page.get_by_text("Prompt as the model sees it").click()
    assert HOSTILE_TEXT in page.locator("#rs-prompt-seen textarea").input_value()
    assert page.evaluate(_INJECTED) == 0
    assert dialogs == []


def _no_gradio_error(page) -> None:
    """No toast of Gradio's own ("Value -1 is less than minimum value 0.") and no red "Error" pill on an output."""
    assert "minimum value" not in _toasts(page) and "Error" not in _toasts(page), _toasts(page)
    assert page.locator("span.error:visible").count() == 0


def _pick_method(page, label: str) -> None:
    page.locator("#rs-method input").click()
    page.get_by_role("option", name=label, exact=True).click()


def _generated(page) -> None:
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=120_000
    )


def _seed_screens(browser, server_url: str, seed: str, name: str) -> None:
    """The Generate tab after a run with ``seed``, at 1440x900 and on a phone (390x844), saved in artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height, size in ((1440, 900, "desktop"), (390, 844, "phone")):
        context = browser.new_context(
            viewport={"width": width, "height": height}, is_mobile=size == "phone", has_touch=size == "phone"
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            page.goto(server_url)
            page.get_by_role("tab", name="Generate").click()
            _pick_method(page, TOP_P_LABEL)
            page.locator("#rs-p-max_new_tokens input[type=number]").fill("8")
            page.locator("#rs-p-seed input").fill(seed)
            page.locator("#rs-generate").click()
            # the note's own message (its first child is Gradio's hidden status tracker)
            page.locator("#rs-settings-note .rs-notice, #rs-settings-note .rs-field-error").first.wait_for(
                timeout=120_000
            )
            if seed == "-1":
                _generated(page)
            page.locator("#rs-settings-note").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"seed-{name}-{size}.png"))
        finally:
            context.close()


def test_a_number_out_of_range_is_named_beside_its_field(page, browser, server_url: str) -> None:
    """Issue 18, item 2: rsdemo checks every number field (never Gradio's min/max/precision), says what is wrong
    beside it, marks the old result stale and never rounds; seed -1 draws a seed, said beside the field."""
    page.goto(server_url)
    page.get_by_role("tab", name="Generate").click()
    _pick_method(page, TOP_P_LABEL)
    assert "-1" in page.locator("#rs-p-seed").inner_text()  # the help text says what -1 does
    page.locator("#rs-p-max_new_tokens input[type=number]").fill("3")
    seed = page.locator("#rs-p-seed input")
    # seed -1: a random seed, drawn for the run, shown in the stats and beside the field; the field keeps -1
    seed.fill("-1")
    page.locator("#rs-generate").click()
    _generated(page)
    drawn = page.locator("#rs-settings-note .rs-notice").inner_text()
    number = drawn.split("drew seed ")[1].split(".")[0]
    assert int(number) >= 0 and number in page.locator("#rs-gen-stats").inner_text()
    assert seed.input_value() == "-1" and page.locator("#rs-settings-note .rs-field-error").count() == 0
    _no_gradio_error(page)
    # 1.5, 99999999999, -3: the message beside the settings names Seed and what it got; the run above goes stale
    for wrong in ("1.5", "99999999999", "-3"):
        seed.fill(wrong)
        page.locator("#rs-generate").click()
        page.wait_for_function(
            "(got) => (document.querySelector('#rs-settings-note .rs-field-error') || {})"
            ".innerText?.includes('got ' + got)",
            arg=wrong,
        )
        assert page.locator("#rs-settings-note").inner_text().startswith("Seed must be a whole number")
        assert page.locator("#rs-gen-view .rs-stale").count() == 1 and page.locator("#rs-gen-view .rs-gen").count() == 0
        assert seed.input_value() == wrong  # never rounded or clamped
        _no_gradio_error(page)
    # the branch fields: a run first, then "at token #" 0, -3 and 2.5, and "from run" 1.5
    seed.fill("7")
    page.locator("#rs-generate").click()
    _generated(page)
    for field, wrong, said in (
        ("#rs-branch-at", "0", "At token # must be a whole number between 1 and"),
        ("#rs-branch-at", "-3", "At token #"),
        ("#rs-branch-at", "2.5", "got 2.5"),
        ("#rs-branch-from", "1.5", "From run must be a whole number between 0 and 0"),
    ):
        page.locator("#rs-branch-at input").fill("1")
        page.locator("#rs-branch-from input").fill("0")
        page.locator(f"{field} input").fill(wrong)
        page.locator("#rs-branch-token textarea").fill("42")
        page.locator("#rs-branch-go").click()
        page.wait_for_function(
            "(said) => (document.querySelector('#rs-branch-note .rs-field-error') || {}).innerText?.includes(said)",
            arg=said,
        )
        assert page.locator(f"{field} input").input_value() == wrong
        _no_gradio_error(page)
    # Inside: "After token #" -1, beside its settings; the stages go stale
    page.get_by_role("tab", name="Inside").click()
    page.locator("#rs-in-go").click()
    page.wait_for_selector("#rs-in-stages .rs-stage-table", timeout=120_000)
    position = page.locator("#rs-in-position input")
    position.fill("-1")
    position.press("Enter")
    page.wait_for_function(
        "() => (document.querySelector('#rs-in-settings-note .rs-field-error') || {})"
        ".innerText?.includes('After token # must be a whole number from 0 up')"
    )
    assert page.locator("#rs-in-stages .rs-stage-table").count() == 0 and position.input_value() == "-1"
    _no_gradio_error(page)
    _seed_screens(browser, server_url, "-1", "random")
    _seed_screens(browser, server_url, "1.5", "fraction")
