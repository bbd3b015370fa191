"""Tokenizer adapters: one per library, all with the same five methods.

An adapter turns text into ids and char offsets, and ids back into pieces, bytes and text.
Offsets are char offsets into the input, as an ``(n, 2)`` integer array; a zero-width span marks a
token that covers no text of its own (a special token the tokenizer inserted, or a leading byte of a
character that SentencePiece split into ``<0xNN>`` byte pieces, which belongs with the pieces after it).
``encode_with_offsets(..., limit=n)`` returns every id (as a numpy array) but offsets for the first
``n`` tokens only: the token view shows a window, and most adapters derive offsets from the ids in
O(window). ``encode`` returns a plain list, for callers that want one.

>>> eng = ByteAdapter()
>>> ids, offsets = eng.encode_with_offsets("né", add_special_tokens=False)
>>> ids.tolist(), offsets.tolist()
([110, 195, 169], [[0, 1], [1, 2], [1, 2]])
>>> eng.piece(195), eng.token_bytes(195)
('<0xC3>', b'\\xc3')
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .long_runs import LONG_RUN, encode_long_runs

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import sentencepiece
    import tiktoken
    import tokenizers

_BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")  # a byte-fallback piece (SentencePiece BPE read by HF tokenizers)

__all__ = [
    "ByteAdapter",
    "CharAdapter",
    "HFAdapter",
    "NFCAdapter",
    "Offsets",
    "SentencePieceAdapter",
    "TiktokenAdapter",
    "TokenizerAdapter",
    "byte_to_unicode",
    "char_offsets_from_byte_spans",
    "nfc_with_spans",
]

Offsets = np.ndarray  # shape (n, 2), int64: char (start, end) per token


class TokenizerAdapter(Protocol):
    """What every adapter offers. ``vocab_size`` counts every id, special tokens included."""

    vocab_size: int
    special_ids: frozenset[int]
    lossless: bool

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]: ...

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]: ...

    def piece(self, token_id: int) -> str: ...

    def token_bytes(self, token_id: int) -> bytes | None: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def has_id(self, token_id: int) -> bool: ...


@cache
def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (``0x20`` -> ``'Ġ'``).

    >>> byte_to_unicode()[0x20], byte_to_unicode()[ord("a")]
    ('Ġ', 'a')
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@cache
def _unicode_to_byte() -> dict[str, int]:
    return {c: b for b, c in byte_to_unicode().items()}


def char_offsets_from_byte_spans(text: str, starts: np.ndarray, ends: np.ndarray) -> Offsets:
    """Map byte spans of ``text.encode()`` to char spans of ``text`` (vectorised).

    A span that starts or ends inside a multi-byte character is widened to the whole character,
    so several byte-level tokens of one emoji all point at that emoji. Zero-width spans stay zero-width.

    >>> char_offsets_from_byte_spans("a你", np.array([0, 1, 3]), np.array([1, 3, 4])).tolist()
    [[0, 1], [1, 2], [1, 2]]
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if len(starts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if text.isascii():  # bytes are chars (O(1) check in CPython)
        return np.stack([starts, ends], axis=1)
    last = int(ends.max())
    data = text.encode("utf-8", errors="surrogatepass")[:last]
    arr = np.frombuffer(data, dtype=np.uint8)
    # char index of the character each byte belongs to, plus one entry for "past the end"
    char_of_byte = np.empty(len(arr) + 1, dtype=np.int64)
    char_of_byte[:-1] = np.cumsum((arr & 0xC0) != 0x80) - 1
    char_of_byte[-1] = char_of_byte[-2] + 1 if len(arr) else 0
    cs = char_of_byte[np.minimum(starts, len(arr))]
    ce = np.where(ends > starts, char_of_byte[np.maximum(ends - 1, 0)] + 1, cs)
    return np.stack([cs, ce], axis=1)


def _offsets_from_lengths(text: str, lengths: np.ndarray) -> Offsets:
    """Char offsets of consecutive tokens whose byte lengths are ``lengths`` (a lossless byte-level split)."""
    ends = np.cumsum(lengths, dtype=np.int64)
    return char_offsets_from_byte_spans(text, ends - lengths, ends)


def _with_bos(ids: np.ndarray, offsets: Offsets, bos_id: int) -> tuple[np.ndarray, Offsets]:
    ids = np.concatenate([np.array([bos_id], dtype=np.int64), ids.astype(np.int64, copy=False)])
    return ids, np.concatenate([np.zeros((1, 2), dtype=np.int64), offsets])


class TiktokenAdapter:
    """A tiktoken ``Encoding`` built from a local rank file (gpt2, cl100k_base, o200k_base, llama3, qwen).

    Special-token strings in the text are read as special tokens (``allowed_special="all"``), as the
    models' own chat code does. ``bos`` is prepended when special tokens are added. Offsets come from a
    table of each token's byte length, so they cost O(window) after the encode. Whitespace runs of
    ``long_run`` characters or more, which tiktoken's regex cannot split, go through ``rsdemo.tokenization.long_runs``
    (same ids).
    """

    lossless = True

    def __init__(self, encoding: tiktoken.Encoding, *, bos_id: int | None = None, long_run: int = LONG_RUN) -> None:
        self.encoding = encoding
        self._bos = bos_id
        self.long_run = long_run
        specials = encoding._special_tokens
        self.special_ids = frozenset(specials.values())
        self._special_by_id = {i: s for s, i in specials.items()}
        self.vocab_size = encoding.n_vocab
        lengths = np.zeros(self.vocab_size, dtype=np.int64)
        for token, rank in encoding._mergeable_ranks.items():
            lengths[rank] = len(token)
        for token, rank in specials.items():
            lengths[rank] = len(token.encode("utf-8"))
        self._lengths = lengths

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        ids = encode_long_runs(self.encoding, text, long_run=self.long_run).tolist()
        if add_special_tokens and self._bos is not None:
            ids.insert(0, self._bos)
        return ids

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]:
        ids = encode_long_runs(self.encoding, text, long_run=self.long_run)
        window = ids if limit is None else ids[:limit]
        offsets = _offsets_from_lengths(text, self._lengths[window])
        if add_special_tokens and self._bos is not None:
            ids, offsets = _with_bos(ids, offsets, self._bos)
            offsets = offsets if limit is None else offsets[:limit]
        return ids, offsets

    def piece(self, token_id: int) -> str:
        if token_id in self._special_by_id:
            return self._special_by_id[token_id]
        table = byte_to_unicode()
        return "".join(table[b] for b in self.encoding.decode_single_token_bytes(token_id))

    def token_bytes(self, token_id: int) -> bytes | None:
        if token_id in self.special_ids:
            return None
        return self.encoding.decode_single_token_bytes(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        return self.encoding.decode(list(ids), errors="replace")

    def has_id(self, token_id: int) -> bool:
        """Whether ``token_id`` is in the vocabulary (cl100k_base has unused ids)."""
        if token_id in self.special_ids:
            return True
        try:
            self.encoding.decode_single_token_bytes(token_id)
        except (KeyError, ValueError, OverflowError):
            return False
        return True


class SentencePieceAdapter:
    """A ``sentencepiece`` model, called directly so the view is exactly what the library does.

    Offsets: for models with identity normalisation (Llama/Mistral style, and ours) every piece stands for
    a fixed number of input bytes (``▁`` = one space, ``<0xNN>`` = one byte), so offsets follow from the
    ids; the byte total is checked against the text and anything else (a literal ``▁``, an unknown piece,
    another normaliser) takes sentencepiece's own offset API.
    """

    def __init__(self, processor: sentencepiece.SentencePieceProcessor, *, add_bos: bool, lossless: bool) -> None:
        from sentencepiece import sentencepiece_model_pb2

        self.processor = processor
        self._add_bos = add_bos and processor.bos_id() >= 0
        self.vocab_size = processor.get_piece_size()
        self.special_ids = frozenset(i for i in range(self.vocab_size) if processor.is_control(i))
        self.lossless = lossless
        model = sentencepiece_model_pb2.ModelProto()
        model.ParseFromString(processor.serialized_model_proto())
        norm = model.normalizer_spec
        self._dummy_prefix = norm.add_dummy_prefix
        self._fixed_lengths = norm.name == "identity" and not norm.remove_extra_whitespaces and norm.escape_whitespaces
        lengths = np.zeros(self.vocab_size, dtype=np.int64)
        for i in range(self.vocab_size):
            if processor.is_byte(i):
                lengths[i] = 1
            elif not (processor.is_control(i) or processor.is_unknown(i)):
                lengths[i] = len(processor.id_to_piece(i).replace("\u2581", " ").encode("utf-8"))
        self._lengths = lengths
        self._unk = processor.unk_id()

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self.processor.encode(text, add_bos=add_special_tokens and self._add_bos)

    def _offsets_from_ids(self, text: str, ids: np.ndarray, limit: int | None) -> Offsets | None:
        if not self._fixed_lengths or "\u2581" in text:
            return None
        if self._unk >= 0 and bool((ids == self._unk).any()):
            return None
        lengths = self._lengths[ids]
        if self._dummy_prefix and len(lengths):
            lengths[0] -= 1  # the "▁" sentencepiece puts in front of the text
        if int(lengths.sum()) != len(text.encode("utf-8")) or (len(lengths) and lengths[0] < 0):
            return None
        window = lengths if limit is None else lengths[:limit]
        return _offsets_from_lengths(text, window)

    def _offsets_from_proto(self, text: str, ids: np.ndarray, limit: int | None) -> Offsets:
        """sentencepiece's own offsets; for a window, from a prefix of the text checked against the full ids.

        Encoding a prefix gives the same first pieces as the whole text except near the cut, so the prefix
        grows until its first ``limit`` ids equal the real ones (the whole text at worst).
        """
        n = len(ids) if limit is None else min(limit, len(ids))
        length = len(text) if limit is None else int(len(text) * (n + 64) / max(len(ids), 1) * 1.5) + 256
        while True:
            pieces = self.processor.encode(text[:length], return_type="proto").pieces
            whole = length >= len(text)
            if whole or (len(pieces) > n + 16 and [p.id for p in pieces[:n]] == ids[:n].tolist()):
                window = pieces[:n]
                starts = np.array([p.begin for p in window], dtype=np.int64)
                ends = np.array([p.end for p in window], dtype=np.int64)
                return char_offsets_from_byte_spans(text, starts, ends)
            length *= 2

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]:
        # the proto API refuses add_bos, so the BOS is put in front here, covering no text
        ids = self.processor.encode(text, return_type="numpy")
        offsets = self._offsets_from_ids(text, ids, limit)
        if offsets is None:
            offsets = self._offsets_from_proto(text, ids, limit)
        if add_special_tokens and self._add_bos:
            ids, offsets = _with_bos(ids, offsets, self.processor.bos_id())
            offsets = offsets if limit is None else offsets[:limit]
        return ids, offsets

    def piece(self, token_id: int) -> str:
        return self.processor.id_to_piece(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        sp = self.processor
        if sp.is_control(token_id) or sp.is_unknown(token_id):
            return None
        piece = sp.id_to_piece(token_id)
        if sp.is_byte(token_id):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        return self.processor.decode(list(ids))

    def has_id(self, token_id: int) -> bool:
        return 0 <= token_id < self.vocab_size


class HFAdapter:
    """A Hugging Face ``tokenizers.Tokenizer`` (tokenizer.json): WordPiece, BPE, WordLevel, Hub tokenizers."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, *, lossless: bool) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        added = tokenizer.get_added_tokens_decoder()
        self.special_ids = frozenset(i for i, t in added.items() if t.special)
        self.lossless = lossless
        # the component reprs name their types; cheaper than serialising a large tokenizer.json
        parts = f"{tokenizer.pre_tokenizer!r} {tokenizer.decoder!r}"
        self._byte_level = "ByteLevel" in parts
        self._wordpiece = type(tokenizer.model).__name__ == "WordPiece"
        self._byte_fallback = bool(getattr(tokenizer.model, "byte_fallback", False))  # <0xNN> pieces (Gemma 3)

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]:
        enc = self.tokenizer.encode(text, add_special_tokens=add_special_tokens)
        ids = enc.ids
        offsets = enc.offsets if limit is None else enc.offsets[:limit]
        flat = np.fromiter(itertools.chain.from_iterable(offsets), dtype=np.int64, count=2 * len(offsets))
        return np.fromiter(ids, dtype=np.int64, count=len(ids)), flat.reshape(-1, 2)

    def piece(self, token_id: int) -> str:
        return self.tokenizer.id_to_token(token_id) or ""

    def token_bytes(self, token_id: int) -> bytes | None:
        if token_id in self.special_ids:
            return None
        piece = self.tokenizer.id_to_token(token_id)
        if piece is None:
            return None
        if self._byte_level:
            table = _unicode_to_byte()
            if all(c in table for c in piece):
                return bytes(table[c] for c in piece)
        if self._wordpiece and piece.startswith("##"):
            piece = piece[2:]
        if self._byte_fallback and _BYTE_PIECE.fullmatch(piece):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def has_id(self, token_id: int) -> bool:
        return self.tokenizer.id_to_token(token_id) is not None


class CharAdapter:
    """One token per Unicode code point; the id is the code point."""

    vocab_size = 0x110000
    special_ids: frozenset[int] = frozenset()
    lossless = True

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return list(map(ord, text))

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]:
        n = len(text) if limit is None else min(limit, len(text))
        starts = np.arange(n, dtype=np.int64)
        ids = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return ids, np.stack([starts, starts + 1], axis=1)

    def piece(self, token_id: int) -> str:
        return chr(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        return chr(token_id).encode("utf-8", errors="surrogatepass")

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(map(chr, ids))

    def has_id(self, token_id: int) -> bool:
        return 0 <= token_id < 0x110000 and not 0xD800 <= token_id <= 0xDFFF


class ByteAdapter:
    """One token per UTF-8 byte; the id is the byte value."""

    vocab_size = 256
    special_ids: frozenset[int] = frozenset()
    lossless = True

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return list(text.encode("utf-8"))

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]:
        ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        n = len(ids) if limit is None else min(limit, len(ids))
        return ids, _offsets_from_lengths(text, np.ones(n, dtype=np.int64))

    def piece(self, token_id: int) -> str:
        return f"<0x{token_id:02X}>"

    def token_bytes(self, token_id: int) -> bytes | None:
        return bytes([token_id])

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")

    def has_id(self, token_id: int) -> bool:
        return 0 <= token_id < 256


def special_names(adapter: TokenizerAdapter) -> Mapping[int, str]:
    """Special-token ids and their pieces (for legends and docs)."""
    return {i: adapter.piece(i) for i in sorted(adapter.special_ids)}


def nfc_with_spans(text: str) -> tuple[str, list[tuple[int, int]] | None]:
    """NFC-normalise ``text`` and map each normalised char back to the span of input it came from.

    Returns ``(text, None)`` when the text is already NFC (the common case). Otherwise the input is cut
    into runs that normalise independently (a run starts at a character that does not compose with
    the one before it); every char of a run's normalised form maps to the whole run.

    >>> nfc_with_spans("ae\\u0301!")
    ('aé!', [(0, 1), (1, 3), (3, 4)])
    """
    if unicodedata.is_normalized("NFC", text):
        return text, None
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(text)):
        ch = text[i]
        if unicodedata.combining(ch) == 0 and unicodedata.normalize("NFC", text[start : i + 1]) == (
            unicodedata.normalize("NFC", text[start:i]) + unicodedata.normalize("NFC", ch)
        ):
            runs.append((start, i))
            start = i
    runs.append((start, len(text)))
    pieces = [unicodedata.normalize("NFC", text[s:e]) for s, e in runs]
    normalised = "".join(pieces)
    if normalised != unicodedata.normalize("NFC", text):  # a composition across runs: one run for all
        return unicodedata.normalize("NFC", text), [(0, len(text))] * len(unicodedata.normalize("NFC", text))
    spans: list[tuple[int, int]] = []
    for (s, e), piece in zip(runs, pieces):
        spans.extend([(s, e)] * len(piece))
    return normalised, spans


class NFCAdapter:
    """Wraps an adapter whose tokenizer normalises to NFC first (Qwen's does), keeping offsets on the input."""

    def __init__(self, inner: TokenizerAdapter) -> None:
        self.inner = inner
        self.vocab_size = inner.vocab_size
        self.special_ids = inner.special_ids
        self.lossless = False  # "e\u0301" comes back as "é"

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self.inner.encode(unicodedata.normalize("NFC", text), add_special_tokens=add_special_tokens)

    def encode_with_offsets(
        self, text: str, *, add_special_tokens: bool, limit: int | None = None
    ) -> tuple[np.ndarray, Offsets]:
        normalised, spans = nfc_with_spans(text)
        ids, offsets = self.inner.encode_with_offsets(normalised, add_special_tokens=add_special_tokens, limit=limit)
        if spans is None:
            return ids, offsets
        # each normalised char maps to the input run it came from; one extra entry for "past the end"
        run_start = np.array([s for s, _ in spans] + [len(text)], dtype=np.int64)
        run_end = np.array([e for _, e in spans] + [len(text)], dtype=np.int64)
        starts, ends = offsets[:, 0], offsets[:, 1]
        mapped_start = run_start[starts]
        mapped_end = np.where(ends > starts, run_end[np.maximum(ends - 1, 0)], mapped_start)
        return ids, np.stack([mapped_start, mapped_end], axis=1)

    def piece(self, token_id: int) -> str:
        return self.inner.piece(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        return self.inner.token_bytes(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        return self.inner.decode(ids)

    def has_id(self, token_id: int) -> bool:
        return self.inner.has_id(token_id)
