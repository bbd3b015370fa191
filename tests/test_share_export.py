"""Share links for every view (parsing, round trips, the length bound, a reopened run's tokens) and the exports
(HTML with no script even for hostile text, a valid PNG, the CLI's --html / --png)."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from PIL import Image

from rsdemo.cli import main
from rsdemo.decoding import COMMON_PARAMS, METHODS, SAMPLER_PARAMS
from rsdemo.render import render_stats, render_token_view
from rsdemo.render.export_html import CSP, export_html, page_css
from rsdemo.render.export_png import MAX_LINES, PALETTE_RGB, WIDTH, export_png, view_runs
from rsdemo.share import SHARE_LINK_CHARS, link_params, parse_share_query, share_link, view_params
from rsdemo.ui.endpoints import DEFAULT_PROMPT, INSIDE_PROMPT

HOSTILE = '<img src=x onerror=alert(1)> </style><script>alert(2)</script> " onmouseover="alert(3) javascript:x'
BASE = "https://example-rsdemo.hf.space/"


def _query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


def _max_values(view: str, method: str | None) -> dict[str, object]:
    """Every parameter of the view set, at the value with the most characters (the longest link)."""
    values: dict[str, object] = {}
    for p in view_params(view, method):
        if p.kind == "bool":
            values[p.name] = True
        elif p.kind == "int":
            values[p.name] = p.maximum
        elif p.kind == "text" or p in SAMPLER_PARAMS:  # rsdemo's own samplers: a default state sets none of them
            values[p.name] = p.default
        else:  # a float of many digits inside the range
            values[p.name] = float(p.minimum) + (float(p.maximum) - float(p.minimum)) / 3
    return values


def test_generate_link_round_trip() -> None:
    params = {"temperature": 0.7, "top_p": 0.85, "seed": 12345, "max_new_tokens": 17, "repetition_penalty": 1.1}
    written = link_params(view="generate", method="top_p", values=params)
    fields = {"view": "generate", "model": "smollm2-135m-instruct", "method": "top_p", "engine": "transformers"}
    fields |= {
        "chat": True,
        "stop": "\n\n",
        "dist": "raw",
        "branch": "0,3,11",
        **written,
        "prompt": "Héllo 東京 👩‍👩‍👧",
    }
    link, kept, total = share_link(base=BASE, fields=fields)
    assert kept == total and len(link) <= SHARE_LINK_CHARS
    state = parse_share_query(_query(link), engines={"transformers", "llamacpp"})
    assert state.tab == "generate" and state.view == "generate"
    assert (state.model, state.method, state.engine, state.chat, state.stop, state.dist) == (
        "smollm2-135m-instruct",
        "top_p",
        "transformers",
        True,
        "\n\n",
        "raw",
    )
    assert state.params == params
    assert state.prompt == "Héllo 東京 👩‍👩‍👧"
    assert state.branch == (0, 3, "11")


def test_views_round_trip_and_lang() -> None:
    arena = parse_share_query(
        {"view": "arena", "methods": "greedy,top_p,nope,beam,top_k,sample", "engines": "transformers,evil"},
        engines={"transformers"},
    )
    assert arena.tab == "generate" and arena.methods == ("greedy", "top_p", "beam", "top_k")
    assert arena.engines == ("transformers",)
    tree = parse_share_query({"view": "tree", "num_beams": "3", "temperature": "0.5", "lang": "zh"})
    assert tree.params == {"num_beams": 3} and tree.lang == "zh"  # the tree takes beam search's parameters only
    inside = parse_share_query({"view": "inside", "method": "top_k", "top_k": "7", "position": "4", "probes": "a\nb"})
    assert (inside.tab, inside.position, inside.probes, inside.params) == ("inside", 4, "a\nb", {"top_k": 7})
    assert parse_share_query({"lang": "fr"}).lang is None and parse_share_query({"lang": "en"}).lang == "en"


@pytest.mark.parametrize(
    "query",
    [
        {
            "view": "generate",
            "top_p": "7",
            "seed": "1.5",
            "max_new_tokens": "-3",
            "temperature": "x",
        },
        {"view": "generate", "method": "<script>", "model": "<img src=x onerror=alert(1)>", "engine": "rm -rf"},
        {"view": "nope", "position": "1e9", "branch": "x,y", "dist": "evil"},
        {"view": "inside", "position": "-1", "branch": "0,0,5", "chat": "perhaps"},
        {"view": "generate", "seed": "99999999999999999999", "no_repeat_ngram_size": "11"},
    ],
)
def test_bad_values_are_ignored(query: dict[str, str]) -> None:
    state = parse_share_query(query, engines={"transformers"})  # never raises
    assert state.params == {}
    assert state.method is None and state.model is None and state.engine is None
    assert state.position is None and state.branch is None and state.dist is None and state.chat is None


def test_every_parameter_is_checked_by_its_param() -> None:
    for key, method in METHODS.items():
        for p in (*method.params, *COMMON_PARAMS):
            good = parse_share_query({"view": "generate", "method": key, p.name: str(p.default)}).params
            assert p.name in good, (key, p.name)
            if p.maximum is not None:
                bad = parse_share_query({"view": "generate", "method": key, p.name: str(p.maximum * 2 + 1)})
                assert p.name not in bad.params, (key, p.name)


def test_long_prompt_is_cut_at_a_whole_character() -> None:
    prompt = "👩‍👩‍👧 東京 " * 3000
    link, kept, total = share_link(base=BASE, fields={"view": "generate", "seed": 1, "prompt": prompt})
    assert len(link) <= SHARE_LINK_CHARS and 0 < kept < total == len(prompt)
    assert parse_share_query(_query(link)).prompt == prompt[:kept]
    again = share_link(base=BASE, fields={"view": "generate", "seed": 1, "prompt": prompt[: kept + 1]})
    assert again[1:] == (kept, kept + 1)  # one more character does not fit: the cut keeps as much as fits


def test_longest_default_links() -> None:
    """The longest link a default-size state makes for each view (the default prompts, every parameter set)."""
    lengths = {}
    for method in METHODS:
        fields = {"view": "generate", "model": "HuggingFaceTB/SmolLM2-360M-Instruct", "method": method}
        fields |= {"engine": "transformers", "chat": True, "stop": "\n\nUser:", "dist": "filtered"}
        fields |= {
            "branch": "12,64,151643",
            **link_params(view="generate", method=method, values=_max_values("generate", method)),
            "prompt": DEFAULT_PROMPT,
        }
        lengths[f"generate/{method}"] = len(share_link(base=BASE, fields=fields)[0])
    arena = {
        "view": "arena",
        "model": "smollm2-135m-instruct",
        "chat": True,
        "methods": "contrastive,diverse_beam,beam_sample,epsilon",
        "engines": "transformers,llamacpp",
        "prompt": DEFAULT_PROMPT,
    }
    lengths["arena"] = len(
        share_link(base=BASE, fields=arena | link_params(view="arena", method=None, values=_max_values("arena", None)))[
            0
        ]
    )
    tree = {"view": "tree", "model": "smollm2-135m-instruct", "chat": True, "prompt": DEFAULT_PROMPT}
    tree |= link_params(view="tree", method=None, values=_max_values("tree", None))
    lengths["tree"] = len(share_link(base=BASE, fields=tree)[0])
    inside = {
        "view": "inside",
        "model": "smollm2-135m-instruct",
        "chat": True,
        "method": "diverse_beam",
        "position": 99,
        "probes": "Paris\nLondon",
        "prompt": INSIDE_PROMPT,
    }
    inside |= link_params(view="inside", method="diverse_beam", values=_max_values("inside", "diverse_beam"))
    lengths["inside"] = len(share_link(base=BASE, fields=inside)[0])
    print("\nlongest default-size links:", lengths)
    assert max(lengths.values()) < 600  # far inside SHARE_LINK_CHARS: only a long prompt is ever cut


def test_reopened_link_gives_the_same_tokens(backend) -> None:
    """A greedy and a seeded run, written as links and read back, generate the same tokens (the parsing level)."""
    for method, values in (
        ("greedy", {"max_new_tokens": 6}),
        ("top_p", {"top_p": 0.8, "seed": 4, "max_new_tokens": 6}),
    ):
        fields = {"view": "generate", "model": "smollm2-135m-instruct", "method": method, "chat": True}
        link = share_link(
            base=BASE,
            fields={**fields, **link_params(view="generate", method=method, values=values), "prompt": DEFAULT_PROMPT},
        )[0]
        state = parse_share_query(_query(link))

        def run(model: str, method: str, params: dict, chat: bool, prompt: str) -> list[int]:
            final = None
            for final in backend.generate(model=model, prompt=prompt, method=method, params=params, chat=chat):  # noqa: B007
                pass
            return [t.id for t in final.tokens]

        first = run("smollm2-135m-instruct", method, values, True, DEFAULT_PROMPT)
        again = run(state.model, state.method, dict(state.params), state.chat, state.prompt)
        assert first == again and len(first) == 6


def _tokens_html(backend, text: str) -> str:
    result = backend.tokenize(text=text, tokenizer="gpt2", add_special_tokens=False)
    stats = render_stats(result.stats.as_dict(), title=HOSTILE)
    return stats + render_token_view(result.segments, tokens=result.tokens, show_whitespace=True)


class _Elements(HTMLParser):
    """Every element and attribute of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


def assert_inert(page: str) -> None:
    """No script, no event handler, nothing fetched, no javascript: link; the CSP meta present."""
    seen = _Elements()
    seen.feed(page)
    assert not {"script", "img", "iframe", "object", "embed", "link", "base", "form"} & set(seen.tags)
    assert not [k for k, _ in seen.attrs if k.startswith("on") or k in ("src", "href", "action", "srcdoc")]
    assert not [v for _, v in seen.attrs if "javascript:" in v.lower() and "title" != v]
    assert seen.tags.count("style") == 1 and page.count("</style>") == 1  # the text's </style> is escaped
    assert ("content", CSP) in seen.attrs and "<script" not in page.lower()


def test_html_export_has_no_script_even_for_hostile_text(backend) -> None:
    page = export_html(title=HOSTILE, lines=(HOSTILE,), body=_tokens_html(backend, HOSTILE) + HOSTILE)
    assert_inert(page)
    assert "data-d=" not in page and "title=" in page  # details on hover, not in a script's data
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the text is shown, as text
    assert ".rs-c0" in page_css()


def test_png_export_is_a_readable_image(backend) -> None:
    body = _tokens_html(backend, "Hello world! naïve café, 東京タワー, 👩 and 🇫🇷. " + HOSTILE)
    runs = view_runs(body)
    assert any("東" in r.text for r in runs) and {r.fill for r in runs} & set(PALETTE_RGB)
    image = Image.open(io.BytesIO(export_png(title="gpt2", lines=("a line",), body=body)))
    assert image.format == "PNG" and image.width == WIDTH and 150 < image.height < 1000
    assert len(image.getcolors(1_000_000) or []) > 20  # drawn: boxes in several colours and text
    huge = export_png(title="t", body='<span class="rs-tok rs-c0">' + "word\n" * (MAX_LINES * 2) + "</span>")
    assert Image.open(io.BytesIO(huge)).height < 64 * MAX_LINES  # a long view is cut


def test_palette_matches_the_page_css() -> None:
    css = page_css()
    for n, rgb in enumerate(PALETTE_RGB):
        assert f".rs-c{n} {{ background: #{''.join(f'{c:02x}' for c in rgb)}; }}" in css


def test_cli_html_and_png(tmp_path, capsys) -> None:
    html_file, png_file = tmp_path / "t.html", tmp_path / "t.png"
    assert main(["tokenize", "-t", "gpt2", "--html", str(html_file), "--png", str(png_file), HOSTILE]) == 0
    page = html_file.read_text(encoding="utf-8")
    assert_inert(page)
    assert "error" in page and "alert" in page and "GPT-2" in page  # the hostile text, as text (in tokens)
    assert Image.open(png_file).width == WIDTH
    run_png = tmp_path / "run.png"
    assert (
        main(["generate", "--max-new-tokens", "4", "--png", str(run_png), "--html", str(tmp_path / "r.html"), "Hi"])
        == 0
    )
    assert Image.open(run_png).height > 100 and "p = " in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert main(["tokenize", "--png", str(tmp_path / "no" / "such" / "dir.png"), "x"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_cli_png_names_missing_fonts(tmp_path, capsys, monkeypatch) -> None:
    from rsdemo.render import export_png

    monkeypatch.setitem(export_png._FONTS, "emoji", (str(tmp_path / "no-such-font.ttf"), 0))
    export_png._font.cache_clear()
    try:
        assert export_png.missing_fonts() == ["emoji"]
        assert main(["tokenize", "-t", "gpt2", "--png", str(tmp_path / "t.png"), "Hi 👋"]) == 0
        assert "fonts not found here: emoji" in capsys.readouterr().err
        assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        monkeypatch.undo()
        export_png._font.cache_clear()
    assert export_png.missing_fonts() == []  # setup.sh --dev installs them all
    assert main(["tokenize", "-t", "gpt2", "--png", str(tmp_path / "u.png"), "Hi"]) == 0
    assert "fonts not found" not in capsys.readouterr().err


def test_a_layers_link_is_read_back_and_ignores_what_it_cannot_use() -> None:
    from rsdemo.share import parse_share_query

    state = parse_share_query({"view": "layers", "model": "smollm2-135m-instruct", "prompt": "Hi", "probes": "Rome",
                               "position": "2", "layer": "7", "head": "5", "chat": "1"})  # fmt: skip
    assert (state.tab, state.model, state.prompt, state.probes) == ("layers", "smollm2-135m-instruct", "Hi", "Rome")
    assert (state.position, state.layer, state.head, state.chat) == (2, 7, 5, True)
    bad = parse_share_query({"view": "layers", "layer": "-3", "head": "x", "model": "<b>"})
    assert (bad.layer, bad.head, bad.model) == (None, None, None)
