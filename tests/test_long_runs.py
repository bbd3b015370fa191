"""Long whitespace runs through the tiktoken-format tokenizers: tiktoken's own ids, never a regex crash.

tiktoken itself raises "Max stack size exceeded for backtracking" on a run of about a million spaces.
``rsdemo.tokenization.long_runs`` splits such texts at safe cuts and splits the parts around the runs with Python's
``regex``. These tests prove the ids equal tiktoken's (1) with the threshold forced down to a few
characters, over hand-picked and generated texts, (2) on runs of 60,000 and 300,000 characters that
tiktoken still handles, and (3) on runs of a million characters that tiktoken cannot split, against an
independent implementation: the same vocabulary converted to a Hugging Face ``tokenizers`` BPE.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rsdemo.backend import Backend
from rsdemo.catalog import TOKENIZERS
from rsdemo.tokenization.long_runs import encode_long_runs, has_long_run

TIKTOKEN_KEYS = [k for k, s in TOKENIZERS.items() if s.adapter == "tiktoken"]
RUNS = {
    "spaces": " ",
    "tabs": "\t",
    "newlines": "\n",
    "crlf": "\r\n",
    "mixed": " \t\n",
    "spaces-newline": "    \n",
    "ideographic": "\u3000",
    "nbsp": "\u00a0",
    "vt-ff": "\x0b\x0c",
}
# what stands around a run: letters, punctuation, digits, special tokens, text ends, non-ASCII letters
CONTEXTS = [
    ("a", "b"),
    ("x!", "7"),
    ("", ""),
    ("<|endoftext|>", " word"),
    ("end.", "<|endoftext|>"),
    ("東京", "タワー"),
    ("it's", "'s ok"),
    ("word\n", "\nword"),
]


def _tiktoken(backend: Backend, key: str):
    engine = backend.adapter(key)
    return getattr(engine, "inner", engine).encoding


def _reference(enc, text: str) -> list[int]:
    return enc.encode(text, allowed_special="all")


@pytest.mark.parametrize("key", TIKTOKEN_KEYS)
def test_forced_long_path_equals_tiktoken_on_every_run_kind(backend: Backend, key: str) -> None:
    enc = _tiktoken(backend, key)
    checked = 0
    for unit in RUNS.values():
        for before, after in CONTEXTS:
            for n in (1, 2, 3, 9, 40, 257):
                text = f"Some words {before}{unit * n}{after} and more words"
                assert encode_long_runs(enc, text, long_run=3).tolist() == _reference(enc, text), (key, text)
                checked += 1
    assert checked == len(RUNS) * len(CONTEXTS) * 6


@pytest.mark.parametrize("key", TIKTOKEN_KEYS)
def test_forced_long_path_with_several_runs_and_no_safe_cuts(backend: Backend, key: str) -> None:
    enc = _tiktoken(backend, key)
    texts = [
        " " * 50,  # whitespace only
        "東京" + " " * 30 + "タワー" + "\n" * 30 + "。",  # no ASCII letters: one region for the whole text
        ("abc " * 5 + "\t" * 20 + "def\n" + " " * 7) * 4,
        "<|endoftext|>" + " " * 20 + "<|endoftext|>" + "\n" * 20,
        "x" + " " * 12 + "y" + " " * 12 + "z" + "\u3000" * 12,
    ]
    for text in texts:
        assert encode_long_runs(enc, text, long_run=5).tolist() == _reference(enc, text), text


_ALPHABET = st.sampled_from(
    [
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\u3000",
        "\u00a0",
        "a",
        "Zq",
        "7",
        "42",
        "!",
        "'s",
        "é",
        "東",
        "🙂",
        ".\n",
        "<|endoftext|>",
    ]
)


@pytest.mark.parametrize("key", ["gpt2", "cl100k_base", "o200k_base"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_ALPHABET, max_size=60), threshold=st.integers(min_value=1, max_value=6))
def test_generated_texts_equal_tiktoken(backend: Backend, key: str, parts: list[str], threshold: int) -> None:
    enc = _tiktoken(backend, key)
    text = "".join(parts)
    assert encode_long_runs(enc, text, long_run=threshold).tolist() == _reference(enc, text)


@pytest.mark.slow
@pytest.mark.parametrize("key", TIKTOKEN_KEYS)
def test_real_long_runs_equal_tiktoken_where_it_still_works(backend: Backend, key: str) -> None:
    enc = _tiktoken(backend, key)
    for name, unit in RUNS.items():
        text = "Start " + unit * (60_000 // len(unit)) + "end."
        assert has_long_run(text)
        ids = backend.tokenize(text=text, tokenizer=key).ids
        assert ids == _reference(enc, unicodedata.normalize("NFC", text)), name
    text = "a" + " " * 300_000 + "b"
    assert backend.tokenize(text=text, tokenizer=key).ids == _reference(enc, text)


def _converted(key: str, backend: Backend):
    """The same vocabulary and pattern as a ``tokenizers`` BPE (Oniguruma regex, its own merge loop)."""
    import gzip

    from transformers.convert_slow_tokenizer import TikTokenConverter

    from rsdemo.loading.files import _source_path

    spec = TOKENIZERS[key]
    path = _source_path(spec)
    if spec.gz:  # the converter reads a plain rank file
        plain = Path(backend.settings.cache_dir) / f"{key}.tiktoken"
        plain.write_bytes(gzip.decompress(path.read_bytes()))
        path = plain
    # the tokenizers regex reads possessive quantifiers differently (ASSETS.md): use the plain forms
    pattern = (spec.pattern or "").replace("++", "+").replace("?+", "?").replace("{1,3}+", "{1,3}")
    return TikTokenConverter(
        vocab_file=str(path), pattern=pattern, extra_special_tokens=list(spec.special_tokens)
    ).converted()


@pytest.mark.slow
@pytest.mark.parametrize("key", ["gpt2", "cl100k_base", "llama3"])
def test_million_character_runs_equal_an_independent_implementation(backend: Backend, key: str) -> None:
    enc = _tiktoken(backend, key)
    with pytest.raises(ValueError, match="backtracking"):  # what tiktoken alone does
        enc.encode("a" + " " * 1_000_000 + "b")
    converted = _converted(key, backend)
    for unit in (" ", "\t", "\u3000", " \t\n"):
        shape = "x!{}7 words".format
        text = shape(unit * (1_000_000 // len(unit)))
        try:
            expected = _reference(enc, text)  # tiktoken splits runs that newlines break up (cl100k, Llama 3)
        except ValueError:
            # the converted tokenizer is a fair reference for this shape if it agrees with tiktoken where
            # tiktoken works
            short = shape(unit * (300_000 // len(unit)))
            assert converted.encode(short, add_special_tokens=False).ids == _reference(enc, short), repr(unit)
            expected = converted.encode(text, add_special_tokens=False).ids
        ours = backend.tokenize(text=text, tokenizer=key)
        assert ours.ids == expected, repr(unit)
        assert enc.decode(ours.ids) == text


def test_texts_without_long_runs_take_tiktoken_unchanged(backend: Backend) -> None:
    enc = _tiktoken(backend, "cl100k_base")
    text = "Hello world,    plenty of spaces\n\n\n but no long run." * 100
    assert not has_long_run(text)
    ids = encode_long_runs(enc, text)
    assert isinstance(ids, np.ndarray) and ids.tolist() == _reference(enc, text)
