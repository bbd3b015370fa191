"""Pre-tokenisation, replayed: the chunks each library cuts a text into before its model runs, with char offsets.

A chunk is ``(start, end, text, special)``: ``[start, end)`` is its char span in the (normalised) text (``text``
may be longer: Hugging Face's byte-level pre-tokenizer writes each byte as a character), ``special`` marks a
special or added token matched whole before any splitting. The libraries' own objects come from the adapters'
public attributes (``encoding``, ``processor``, ``tokenizer``, ``inner``); the private tables inside them (tiktoken's
ranks and pattern) are read here only (``Library`` below).

>>> list(sentencepiece_chunks("▁Hello▁▁world"))
[(0, 6, '▁Hello', False), (6, 13, '▁▁world', False)]
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..adapters import HFAdapter, NFCAdapter, SentencePieceAdapter, TiktokenAdapter, TokenizerAdapter

__all__ = ["Chunk", "Library", "hf_chunks", "library_of", "sentencepiece_chunks", "tiktoken_chunks"]

Chunk = tuple[int, int, str, bool]


@dataclass(frozen=True)
class Library:
    """What a replay needs from one adapter: its library's object and the tables built from it once.

    ``kind``: tiktoken, sp-bpe, sp-unigram, hf-bpe, hf-wordpiece, char, byte or other; ``nfc``: the text is
    NFC-normalised first (Qwen).
    """

    kind: str
    engine: Any
    nfc: bool
    tables: dict[str, Any]


_LIBRARIES: weakref.WeakKeyDictionary[Any, Library] = weakref.WeakKeyDictionary()


def library_of(adapter: TokenizerAdapter) -> Library:
    """The adapter's library and tables (built on first use, kept as long as the adapter lives)."""
    known = _LIBRARIES.get(adapter)
    if known is None:
        known = _LIBRARIES[adapter] = _library(adapter)
    return known


def _library(adapter: TokenizerAdapter) -> Library:
    nfc = isinstance(adapter, NFCAdapter)
    inner = adapter.inner if isinstance(adapter, NFCAdapter) else adapter
    if isinstance(inner, TiktokenAdapter):
        enc = inner.encoding
        specials = sorted(enc._special_tokens, key=len, reverse=True)
        tables = {
            "ranks": enc._mergeable_ranks,
            "specials": enc._special_tokens,
            "special_re": re.compile("|".join(map(re.escape, specials))) if specials else None,
            "pattern": _compile(enc._pat_str),
        }
        return Library("tiktoken", enc, nfc, tables)
    if isinstance(inner, SentencePieceAdapter):
        return _sentencepiece(inner.processor, nfc)
    if isinstance(inner, HFAdapter):
        return _hf(inner.tokenizer, nfc)
    name = type(inner).__name__
    return Library({"CharAdapter": "char", "ByteAdapter": "byte"}.get(name, "other"), inner, nfc, {})


def _compile(pattern: str) -> Any:
    import regex  # tiktoken's own dependency; its patterns need \p{..} and possessive quantifiers

    return regex.compile(pattern)


def _sentencepiece(sp: Any, nfc: bool) -> Library:
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(sp.serialized_model_proto())
    size = sp.get_piece_size()
    normal = {sp.id_to_piece(i): i for i in range(size) if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i))}
    tables = {
        "ids": normal,
        "scores": [sp.get_score(i) for i in range(size)],
        "bytes": {int(sp.id_to_piece(i)[3:5], 16): i for i in range(size) if sp.is_byte(i)},
        "dummy_prefix": model.normalizer_spec.add_dummy_prefix,
        "identity": model.normalizer_spec.name == "identity" and not model.normalizer_spec.remove_extra_whitespaces,
    }
    kind = {1: "sp-unigram", 2: "sp-bpe"}.get(model.trainer_spec.model_type, "other")
    return Library(kind, sp, nfc, tables)


_SPACES = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}  # tokenizers' JSON of " " -> "▁"


def _hf(tok: Any, nfc: bool) -> Library:
    import json

    data = json.loads(tok.to_str())
    model = data.get("model") or {}
    added = sorted((t.content for t in tok.get_added_tokens_decoder().values()), key=len, reverse=True)
    tables: dict[str, Any] = {
        "vocab": model.get("vocab") or {},
        "added_re": re.compile("|".join(map(re.escape, added))) if added else None,
        "model": model,
    }
    kind = "other"
    pre = json.dumps(data.get("pre_tokenizer"))
    byte_level = '"ByteLevel"' in pre and data.get("normalizer") is None
    # SentencePiece-style BPE read by tokenizers (Gemma 3): spaces become ▁ one for one, so offsets stay the input's
    spaces = data.get("normalizer") == _SPACES and model.get("byte_fallback") and not model.get("ignore_merges")
    if model.get("type") == "BPE" and (byte_level or spaces):
        merges = model.get("merges") or []
        pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
        tables["merges"] = {pair: rank for rank, pair in enumerate(pairs)}
        tables["byte_fallback"] = bool(model.get("byte_fallback"))
        kind = "hf-bpe"
    elif model.get("type") == "WordPiece":
        kind = "hf-wordpiece"
    elif model.get("type") == "WordLevel":
        kind = "hf-wordlevel"
    return Library(kind, tok, nfc, tables)


def _split_specials(text: str, special_re: Any) -> Iterator[tuple[int, str, bool]]:
    """``text`` cut at the special strings (leftmost match first, the longest at one place)."""
    at = 0
    if special_re is not None:
        for m in special_re.finditer(text):
            if m.start() > at:
                yield at, text[at : m.start()], False
            yield m.start(), m.group(), True
            at = m.end()
    if at < len(text):
        yield at, text[at:], False


def tiktoken_chunks(text: str, library: Library) -> Iterator[Chunk]:
    """tiktoken: special strings first, then its regex over each stretch between them.

    >>> from rsdemo.loading import load_tokenizer
    >>> [c for _, _, c, _ in tiktoken_chunks("Hi there!", library_of(load_tokenizer(key="gpt2")))]
    ['Hi', ' there', '!']
    """
    pattern = library.tables["pattern"]
    for start, part, special in _split_specials(text, library.tables["special_re"]):
        if special:
            yield start, start + len(part), part, True
            continue
        for m in pattern.finditer(part):
            yield start + m.start(), start + m.end(), m.group(), False


def hf_chunks(text: str, library: Library) -> Iterator[Chunk]:
    """A Hugging Face tokenizer: added tokens first, then the normaliser and pre-tokenizer on each stretch.

    Offsets are into the stretch as normalised (the same as the input where there is no normaliser).
    """
    tok = library.engine
    for start, part, special in _split_specials(text, library.tables["added_re"]):
        if special:
            yield start, start + len(part), part, True
            continue
        normalised = tok.normalizer.normalize_str(part) if tok.normalizer is not None else part
        if tok.pre_tokenizer is None:
            yield start, start + len(normalised), normalised, False
            continue
        for piece, (s, e) in tok.pre_tokenizer.pre_tokenize_str(normalised):
            yield start + s, start + e, piece, False


def sentencepiece_normalise(text: str, library: Library) -> str:
    """SentencePiece's identity normaliser: spaces as ``▁``, one ``▁`` in front (``add_dummy_prefix``)."""
    return ("\u2581" if library.tables["dummy_prefix"] else "") + text.replace(" ", "\u2581")


def sentencepiece_chunks(normalised: str) -> Iterator[Chunk]:
    """A normalised SentencePiece text cut before each ``▁`` that follows another character: a run of ``▁`` goes
    with the word after it (pieces never hold ``▁`` after another character: ``split_by_whitespace``)."""
    start = 0
    for i in range(1, len(normalised)):
        if normalised[i] == "\u2581" and normalised[i - 1] != "\u2581":
            yield start, i, normalised[start:i], False
            start = i
    if start < len(normalised):
        yield start, len(normalised), normalised[start:], False
