"""Share links opened in a real browser: the arena, the beam tree, Compare (three tokenizers) and a Generate run with
a branch come back as they were, token for token the same as a direct run through the backend (greedy or seeded);
a link of garbage opens the page as usual. The Languages tab has no share link (nothing to reopen there)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from rsdemo.catalog import DEFAULT_MODEL
from rsdemo.render.page import compare_outputs
from rsdemo.render.page_runs import beam_tree_view

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(600)]
PROMPT = "Name a colour."
COMMON = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0}
_IDS = re.compile(r"\bid ([\d, ]+)")


class _Titles(HTMLParser):
    """The ``title`` of every token (``rs-tok``) of a rendered view, grouped by its ``rs-view`` (one per run)."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        got = dict(attrs)
        classes = (got.get("class") or "").split()
        if "rs-view" in classes:
            self.views.append([])
        elif "rs-tok" in classes and self.views and got.get("title"):  # a legend's swatch has no title
            self.views[-1].append(got["title"] or "")


def _titles(rendered: str) -> list[list[str]]:
    parser = _Titles()
    parser.feed(rendered)
    return parser.views


def _ids(titles: list[str]) -> list[int]:
    """The token ids a view's titles name (``p = 41.0% · id 3, 7``)."""
    return [int(i) for t in titles for i in _IDS.search(t).group(1).split(",")]  # type: ignore[union-attr]


def _page_views(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} .rs-view",
        "vs => vs.map(v => [...v.querySelectorAll('.rs-tok[title]')].map(t => t.getAttribute('title')))",
    )


def _settled(page, selector: str, *, views: int, rounds: int = 80) -> list[list[str]]:
    """The views under ``selector`` once there are ``views`` of them and they stop changing (runs stream)."""
    seen: list[list[str]] = []
    for _ in range(rounds):
        now = _page_views(page, selector)
        if now == seen and len(now) >= views and all(now):
            return now
        seen = now
        page.wait_for_timeout(1500)
    return seen


def _last(steps):
    final = None
    for final in steps:  # noqa: B007
        pass
    assert final is not None
    return final


@pytest.fixture()
def page(browser, server_url: str):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def _open(page, server_url: str, query: dict[str, str]) -> None:
    page.goto(f"{server_url}/?{urlencode(query)}")


def test_arena_link_reopens_the_same_runs(page, server_url: str, backend) -> None:
    params = {**COMMON, "max_new_tokens": 4, "seed": 11}  # the direct run first: it loads the model
    direct = _last(
        backend.arena(model=DEFAULT_MODEL, prompt=PROMPT, methods=["greedy", "top_k"], params=params, chat=True)
    )
    query = {"view": "arena", "methods": "greedy,top_k", "max_new_tokens": "4", "seed": "11", "prompt": PROMPT}
    _open(page, server_url, query)
    page.wait_for_selector("#rs-arena-view .rs-view .rs-tok", timeout=240_000)  # its accordion is opened
    shown = _settled(page, "#rs-arena-view", views=2)
    assert [_ids(v) for v in shown] == [[t.id for t in run.tokens] for run in direct.runs]
    assert len(shown) == 2 and all(1 <= len(_ids(v)) <= 4 for v in shown)
    assert page.locator("#rs-arena-table table").is_visible()
    chosen = page.locator("#rs-arena-methods").inner_text()
    assert "Greedy" in chosen and "Top-k" in chosen
    assert not page.errors


def test_tree_link_reopens_the_same_tree(page, server_url: str, backend) -> None:
    params = {"num_beams": 2, "length_penalty": 1.0, "early_stopping": True, **COMMON, "max_new_tokens": 3, "seed": 0}
    direct = backend.beam_tree(model=DEFAULT_MODEL, prompt=PROMPT, chat=True, params=params)
    query = {"view": "tree", "num_beams": "2", "max_new_tokens": "3", "prompt": PROMPT}
    _open(page, server_url, query)
    page.wait_for_selector("#rs-tree-view svg g.rs-node", timeout=240_000)  # its accordion is opened
    shown = page.eval_on_selector_all("#rs-tree-view svg g.rs-node > title", "ts => ts.map(t => t.textContent)")
    expected = [html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", beam_tree_view(direct)[0])]
    assert shown == expected and len(shown) >= 2
    assert page.locator("#rs-p-max_new_tokens input[type=number]").input_value() == "3"
    assert not page.errors


def test_compare_link_reopens_three_tokenizers(page, server_url: str, backend) -> None:
    text = "Héllo wörld, 東京 ##ing <0xE4>"
    query = {"compare": "gpt2,llama3,bert-base-uncased", "text": text, "ws": "1"}
    _open(page, server_url, query)
    page.wait_for_function("() => document.querySelectorAll('#rs-cmp-view .rs-view').length >= 3", timeout=120_000)
    shown = _settled(page, "#rs-cmp-view", views=3)
    assert page.locator("#rs-cmp-text textarea").input_value() == text
    assert page.locator("#rs-cmp-ws input").is_checked() and not page.locator("#rs-cmp-special input").is_checked()
    direct = _last(backend.compare_steps(text=text, tokenizers=["gpt2", "llama3", "bert-base-uncased"]))
    _, views = compare_outputs(direct, True)
    assert shown == _titles(views) and [len(_ids(v)) for v in shown] == [r.stats.tokens for r in direct.results]
    table = page.locator("#rs-cmp-table").inner_text()
    assert all(key in table for key in ("gpt2", "llama3", "bert-base-uncased"))
    assert not page.errors


def test_generate_link_with_a_branch_reopens_the_run_and_the_branch(page, server_url: str, backend) -> None:
    params = {**COMMON, "max_new_tokens": 5, "seed": 0}
    run = _last(backend.generate(model=DEFAULT_MODEL, prompt=PROMPT, method="greedy", params=params, chat=True))
    took = run.tokens[1]
    instead = next(a for a in took.top if a.id != took.id)  # the second candidate at token 2
    query = {"view": "generate", "method": "greedy", "max_new_tokens": "5", "branch": f"0,2,{instead.id}"}
    _open(page, server_url, {**query, "prompt": PROMPT})
    page.wait_for_selector("#rs-branches .rs-view .rs-tok", timeout=240_000)
    (shown,) = _settled(page, "#rs-gen-view", views=1)
    assert _ids(shown) == [t.id for t in run.tokens]
    rest = _last(
        backend.generate(
            model=DEFAULT_MODEL,
            prompt=PROMPT,
            method="greedy",
            params={**params, "max_new_tokens": 3, "seed": run.seed},
            chat=True,
            engine=run.engine,
            prefix=[run.tokens[0].id, instead.id],
        )
    )
    (branch,) = _settled(page, "#rs-branches", views=1)
    assert _ids(branch) == [run.tokens[0].id, instead.id, *(t.id for t in rest.tokens)]
    title = page.locator("#rs-branches .rs-stats-title").first.inner_text()
    assert title.startswith("Branch 1: run 0 at token 2")
    assert page.locator("#rs-branch-token input, #rs-branch-token textarea").first.input_value() == str(instead.id)
    assert not page.errors


@pytest.mark.parametrize(
    "query",
    [
        {"view": "languages", "tab": "nope", "text": "<img src=x onerror=alert(1)>", "compare": "gpt2"},
        {"view": "<script>alert(1)</script>", "method": "rm -rf", "seed": "NaN", "branch": "9,9,9", "lang": "xx"},
        {"view": "tree", "num_beams": "99999999999999999999", "max_new_tokens": "2", "model": "../../etc/passwd"},
        {"compare": "," * 500, "show": "\u202e", "special": "\u0301" * 50, "ws": "\ud7ff"},
    ],
    ids=["languages-view", "script-view", "out-of-range", "junk-compare"],
)
def test_a_garbage_link_opens_the_page_as_usual(page, server_url: str, query: dict[str, str]) -> None:
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    _open(page, server_url, query)
    tree = query.get("view") == "tree"
    if tree:  # a known view whose values are all refused: its defaults stay, and the tree is drawn from them
        page.wait_for_selector("#rs-tree-view svg g.rs-node", timeout=240_000)
    else:
        page.wait_for_selector("#rs-view .rs-tok", timeout=120_000)  # the Tokenize tab works
    selected = page.locator("[role=tab][aria-selected=true]").first.inner_text()
    assert selected.strip() == ("Generate" if tree else "Tokenize")
    assert not alerts and not page.errors
    assert page.locator("img[src=x]").count() == 0
    # the page keeps working after the link: a plain tokenize
    page.get_by_role("tab", name="Tokenize").click()
    box = page.locator("#rs-text textarea").first
    box.fill("ok then")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rs-view .rs-tok')].map(e => e.textContent).join('').includes('then')",
        timeout=60_000,
    )
