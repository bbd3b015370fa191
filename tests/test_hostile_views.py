"""Hostile input on the newer views: "Why this split" (``explain_token``), the vocabulary browser, language cost
with the visitor's own text, and the HTML / PNG exports. Each case gets a result or a typed ``InputError`` with a
clear message: never an untyped exception, a hang (``pytest-timeout`` guards each test) or executable text in an
export. The last test sends the worst of them through the running server, which keeps serving."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from test_share_export import HOSTILE, assert_inert

from rsdemo.backend import Backend
from rsdemo.core.errors import InputError, InputTooLargeError, InvalidTextError
from rsdemo.render import render_stats, render_token_view
from rsdemo.render.explain import render_explain, render_vocab
from rsdemo.render.export_html import export_html, sanitize_fragment
from rsdemo.render.export_png import MAX_CHARS, MAX_LINES, export_png, view_runs
from rsdemo.render.language_cost import render_language_cost
from rsdemo.tokenization.explain import explain_token
from rsdemo.tokenization.language_cost import MAX_OWN_TEXT_CHARS, measure
from rsdemo.tokenization.vocab import MAX_RESULTS, browse_vocab

pytestmark = pytest.mark.timeout(120)  # a hang guard: every case here takes seconds at most
MB = 1024 * 1024
TEXTS = {
    "1 MB of text": "The quick brown fox jumps. " * (MB // 27),
    "1,000,000 spaces": " " * 1_000_000,
    "a word of 100k letters": "a" * 100_000,
    "a word of 100k CJK": "中" * 100_000,
    "NUL and controls": "a\x00b\x01c\x1b[31m" * 1000,
    "RTL override": "abc\u202edef\u202c ghi " * 500,
    "combining-mark flood": "e" + "\u0301" * 100_000,
    "HTML and JS": HOSTILE * 50,
}
KEYS = ["gpt2", "cl100k_base", "mistral-v1", "shakespeare-unigram", "bert-base-uncased", "smollm2", "char", "byte"]


def _explain(backend: Backend, key: str, text: str, index: object):
    info = backend.info(key)
    return explain_token(adapter=backend.adapter(key), key=key, family=info.family, text=text, index=index)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(TEXTS))
@pytest.mark.parametrize("key", KEYS)
def test_explain_hostile_text_gives_a_result_or_a_clear_message(backend: Backend, key: str, name: str) -> None:
    text = TEXTS[name]
    n = len(backend.adapter(key).encode(text, add_special_tokens=False))
    for index in sorted({0, n // 2, max(0, n - 1)}):
        try:
            why = _explain(backend, key, text, index)
        except InputError as err:  # a chunk too long to replay, or no tokens at all (BERT drops whitespace)
            assert "bytes long" in str(err) or (n == 0 and "out of range" in str(err)), str(err)
            continue
        assert why.token_id == backend.adapter(key).encode(text, add_special_tokens=False)[index]
        shown = render_explain(why)
        assert "<script" not in shown and "<img" not in shown


@pytest.mark.parametrize("index", [-1, -(10**12), 10**12, 7, True, 1.5, "3", None])
def test_explain_out_of_range_or_malformed_index_is_an_input_error(backend: Backend, index: object) -> None:
    with pytest.raises(InputError, match=r"Token index .* is out of range: the text has 6 tokens \(0 to 5\)"):
        _explain(backend, "gpt2", "Hello there, how are you", index)


def test_explain_a_lone_surrogate_is_refused_by_the_text_check(backend: Backend) -> None:
    from rsdemo.ui.explain_panel import explain_for

    with pytest.raises(InvalidTextError, match="lone surrogate U\\+D800"):
        explain_for(backend, tokenizer="gpt2", text="ok \ud800 there", index=0)
    with pytest.raises(InputTooLargeError, match="the limit is"):
        explain_for(backend, tokenizer="byte", text="x" * (backend.settings.max_text_chars + 1), index=0)


REGEXES = ["(a+)+$", "[", ".*", "\\", "(?i)THE", "^ the$", "a{1,99999}", ")"]


@pytest.mark.parametrize("key", ["gpt2", "llama3", "mistral-v1", "bert-base-uncased", "char", "byte", "word"])
def test_vocab_search_is_a_substring_never_a_regex(backend: Backend, key: str) -> None:
    adapter = backend.adapter(key)
    for query in REGEXES:
        found = browse_vocab(adapter=adapter, key=key, mode="search", query=query, limit=10**9)
        assert len(found.entries) <= MAX_RESULTS and found.total >= len(found.entries)
        if key != "char":  # (the character tokenizer lists each character of the query)
            assert all(query in e.piece or query in e.text for e in found.entries), (key, query)
    brackets = browse_vocab(adapter=adapter, key=key, mode="search", query="[")
    if key in ("gpt2", "llama3", "bert-base-uncased"):
        assert brackets.total >= 1 and all("[" in e.piece or "[" in e.text for e in brackets.entries)
    dots = browse_vocab(adapter=adapter, key=key, mode="search", query=".*")
    assert all(".*" in e.piece or ".*" in e.text for e in dots.entries) or key == "char"


@pytest.mark.parametrize("key", ["gpt2", "llama3", "mistral-v1", "bert-base-uncased", "word", "char", "byte"])
@pytest.mark.parametrize("query", ["-1", "99999999999999999999", str(2**32), "4294967295", "0x10", "1e5", "٣"])
def test_vocab_out_of_range_ids_say_so(backend: Backend, key: str, query: str) -> None:
    adapter = backend.adapter(key)
    try:
        found = browse_vocab(adapter=adapter, key=key, mode="id", query=query)
    except InputError as err:
        assert "is not a token id (a whole number)" in str(err)
        assert query in ("0x10", "1e5")
        return
    if int(query) < 0 or int(query) >= adapter.vocab_size:
        assert found.entries == () and found.note.startswith(f"No token has id {int(query)}")
    else:
        assert [e.id for e in found.entries] == [int(query)]


@pytest.mark.parametrize("limit", ["5", "abc", None, float("nan"), [3], True])
def test_vocab_a_malformed_page_size_is_an_input_error(backend: Backend, limit: object) -> None:
    with pytest.raises(InputError, match="The page size must be a whole number"):
        browse_vocab(adapter=backend.adapter("gpt2"), key="gpt2", mode="search", query="a", limit=limit)  # type: ignore[arg-type]


def test_vocab_huge_or_negative_page_sizes_are_clamped(backend: Backend) -> None:
    adapter = backend.adapter("gpt2")
    for limit, shown in ((10**18, MAX_RESULTS), (float("inf"), MAX_RESULTS), (-5, 1), (0, 1), (2.9, 2)):
        assert len(browse_vocab(adapter=adapter, key="gpt2", mode="longest", limit=limit).entries) == shown


@pytest.mark.parametrize(
    "query", ["\ud800", "\x00", "\u202e", "\u0301" * 150, "<script>alert(1)</script>", '" onmouseover="x', "中"]
)
@pytest.mark.parametrize("key", ["gpt2", "char", "bert-base-uncased"])
def test_vocab_hostile_queries_render_as_text(backend: Backend, key: str, query: str) -> None:
    for mode in ("search", "piece"):
        try:
            found = browse_vocab(adapter=backend.adapter(key), key=key, mode=mode, query=query)
        except InputError as err:  # a lone surrogate cannot be looked up in the character tokenizer
            assert "surrogate" in str(err) or "Unicode" in str(err), str(err)
            continue
        shown = render_vocab(found)
        assert "<script" not in shown and 'onmouseover="' not in shown


OWN = {
    "20k spaces": " " * MAX_OWN_TEXT_CHARS,
    "20k CJK word": "中" * MAX_OWN_TEXT_CHARS,
    "20k letters": "a" * MAX_OWN_TEXT_CHARS,
    "NUL flood": "\x00" * MAX_OWN_TEXT_CHARS,
    "RTL overrides": "\u202e" * MAX_OWN_TEXT_CHARS,
    "combining marks": "e" + "\u0301" * (MAX_OWN_TEXT_CHARS - 1),
    "HTML and JS": HOSTILE,
}


def test_language_cost_hostile_own_text(backend: Backend) -> None:
    keys = ["gpt2", "llama3", "mistral-v1", "shakespeare-unigram", "bert-base-uncased", "word", "char", "byte"]
    for name, text in OWN.items():
        table = measure(service=backend.tokenization, tokenizers=keys, own_text=text)
        for key in keys:
            own = table.cost(key, "own")
            assert own.chars == len(text) and own.tokens == len(
                backend.adapter(key).encode(text, add_special_tokens=False)
            )
        shown = render_language_cost(table)
        assert "<script" not in shown and "<img" not in shown, name


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("x" * MB, InputTooLargeError, "the limit is 20,000"),
        (" " * 1_000_000, InputTooLargeError, "the limit is 20,000"),
        ("中" * 100_000, InputTooLargeError, "the limit is 20,000"),
        ("ok \ud800", InvalidTextError, "lone surrogate"),
        (b"bytes", InputError, "must be a string"),
    ],
)
def test_language_cost_refuses_what_it_cannot_count(backend: Backend, text, error, message) -> None:
    with pytest.raises(error, match=message):
        measure(service=backend.tokenization, tokenizers=["gpt2"], own_text=text)


def _view(backend: Backend, text: str) -> str:
    result = backend.tokenize(text=text, tokenizer="gpt2", add_special_tokens=False)
    return render_stats(result.stats.as_dict(), title=HOSTILE) + render_token_view(
        result.segments, tokens=result.tokens, show_whitespace=True
    )


@pytest.mark.parametrize("name", list(TEXTS))
def test_exports_of_hostile_views_are_inert_and_bounded(backend: Backend, name: str) -> None:
    text = TEXTS[name]
    body = _view(backend, text)
    page = export_html(title=HOSTILE + text[:300], lines=(text[:300], HOSTILE), body=body + HOSTILE)
    assert_inert(page)
    image = Image.open(io.BytesIO(export_png(title=text[:1000], lines=(text[:300],), body=body)))
    assert image.format == "PNG" and image.height < 64 * MAX_LINES


FRAGMENTS = {
    "unclosed tags": "<a " * 100_000,  # Python's HTMLParser alone: minutes (worse than quadratic)
    "one tag, 300k attributes": "<span" + " x=y" * 300_000 + ">a</span>",
    "unclosed quotes": '<span title="' * 100_000,
    "a million <": "<" * 1_000_000,
    "nested divs": "<div>" * 100_000,
    "scripts": "<script>" * 100_000 + "alert(1)",
    "an open comment": "<!--" + "x" * 1_000_000,
    "a lone surrogate": '<span class="rs-tok rs-c0">\ud800</span>',
}


@pytest.mark.parametrize("name", list(FRAGMENTS))
def test_exports_of_hostile_markup_are_bounded(name: str) -> None:
    """The view's HTML comes back from the browser with an export: any markup at all must be bounded work."""
    fragment = FRAGMENTS[name] + HOSTILE
    assert "<script" not in sanitize_fragment(fragment).lower()
    assert_inert(export_html(title="t", body=fragment))
    view_runs(fragment)
    assert Image.open(io.BytesIO(export_png(title="t", body=fragment))).format == "PNG"


@pytest.mark.parametrize("flood", ["\u200b", "\u0301", "\x00", "\u202e", "中", " "])
def test_png_of_a_million_characters_is_cut(flood: str) -> None:
    """Zero-width characters never fill a line: the image stops at ``MAX_CHARS`` characters, and says so."""
    png = export_png(title="t", body=f'<span class="rs-tok rs-c0">{flood * 1_000_000}</span>')
    image = Image.open(io.BytesIO(png))
    assert image.height < 64 * MAX_LINES and MAX_CHARS <= 1_000_000


@pytest.mark.slow
def test_the_server_keeps_serving_after_hostile_calls(server_url: str) -> None:
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    spaces = " " * 1_000_000
    with pytest.raises(Exception, match="bytes long"):
        client.predict(text=spaces, tokenizer="gpt2", index=500_000, api_name="/explain")
    with pytest.raises(Exception, match="out of range"):
        client.predict(text="Hi", tokenizer="gpt2", index=10**12, api_name="/explain")
    reply = client.predict(text="a" + spaces + "b", tokenizer="gpt2", index=1_000_000, api_name="/explain")
    assert reply["kind"] == "bpe"
    hits = client.predict(tokenizer="gpt2", query="(a+)+$", mode="search", api_name="/vocab")
    assert hits["total"] == 0 and "No token contains" in hits["note"]
    brackets = client.predict(tokenizer="gpt2", query="[", mode="search", api_name="/vocab")
    assert brackets["total"] >= 1 and all("[" in e["piece"] for e in brackets["entries"])
    for key in ("bert-base-uncased", "word"):  # ids past an unsigned 32-bit int were an OverflowError there
        none = client.predict(tokenizer=key, query="99999999999999999999", mode="id", api_name="/vocab")
        assert none["entries"] == [] and none["note"].startswith("No token has id")
        assert client.predict(tokenizer=key, query="-1", mode="id", api_name="/vocab")["entries"] == []
    with pytest.raises(Exception, match="the limit is 20,000"):
        client.predict(tokenizers=["gpt2"], text="x" * MB, api_name="/language_cost")
    own = client.predict(tokenizers=["gpt2", "char"], text="中" * 20_000, api_name="/language_cost")
    assert [r["tokens"] for r in own["rows"] if r["language"] == "own"][1] == 20_000
    assert client.predict("ok", "char", False, api_name="/tokenize")["ids"] == [111, 107]  # still serving
