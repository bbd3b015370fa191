"""Tokenizer engines: one small adapter per library, all with the same five methods.

An engine turns text into ids and char offsets, and ids back into pieces, bytes and text.
Offsets are char offsets into the input; a zero-width span marks a token that covers no text
of its own (a special token the tokenizer inserted, or a leading byte of a character that
SentencePiece split into ``<0xNN>`` byte pieces, which belongs with the pieces that follow it).

>>> eng = ByteEngine()
>>> eng.encode_with_offsets("né", add_special_tokens=False)
([110, 195, 169], [(0, 1), (1, 2), (1, 2)])
>>> eng.piece(195), eng.token_bytes(195)
('<0xC3>', b'\\xc3')
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import sentencepiece
    import tiktoken
    import tokenizers

__all__ = [
    "ByteEngine",
    "CharEngine",
    "HFEngine",
    "NFCEngine",
    "Offsets",
    "SentencePieceEngine",
    "TiktokenEngine",
    "TokenizerEngine",
    "byte_to_unicode",
    "char_offsets_from_byte_spans",
    "nfc_with_spans",
]

Offsets = list[tuple[int, int]]


class TokenizerEngine(Protocol):
    """What every engine offers. ``vocab_size`` counts every id, special tokens included."""

    vocab_size: int
    special_ids: frozenset[int]
    lossless: bool

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]: ...

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]: ...

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


def char_offsets_from_byte_spans(text: str, spans: Sequence[tuple[int, int]]) -> Offsets:
    """Map byte spans of ``text.encode()`` to char spans of ``text``.

    A span that starts or ends inside a multi-byte character is widened to the whole character,
    so several byte-level tokens of one emoji all point at that emoji.

    >>> char_offsets_from_byte_spans("a你", [(0, 1), (1, 3), (3, 4)])
    [(0, 1), (1, 2), (1, 2)]
    """
    if not spans:
        return []
    data = text.encode("utf-8")
    if len(data) == len(text):  # ASCII: bytes are chars
        return [(int(s), int(e)) for s, e in spans]
    last = max(e for _, e in spans)
    arr = np.frombuffer(data[: last + 1], dtype=np.uint8)
    char_of_byte = np.cumsum((arr & 0xC0) != 0x80) - 1  # char index of the char each byte is in
    n_chars = len(text)
    out: Offsets = []
    for s, e in spans:
        cs = int(char_of_byte[s]) if s < len(data) else n_chars
        ce = int(char_of_byte[e - 1]) + 1 if e > s else cs
        out.append((cs, ce))
    return out


class TiktokenEngine:
    """A tiktoken ``Encoding`` built from a local rank file (gpt2, cl100k_base, o200k_base, llama3, qwen).

    Special-token strings in the text are read as special tokens (``allowed_special="all"``), as the
    models' own chat code does. ``bos`` is prepended when special tokens are added.
    """

    lossless = True

    def __init__(self, encoding: tiktoken.Encoding, *, bos_id: int | None = None) -> None:
        self._enc = encoding
        self._bos = bos_id
        self.special_ids = frozenset(encoding._special_tokens.values())
        self._special_by_id = {i: s for s, i in encoding._special_tokens.items()}
        self.vocab_size = encoding.n_vocab

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        ids = self._enc.encode(text, allowed_special="all")
        if add_special_tokens and self._bos is not None:
            ids.insert(0, self._bos)
        return ids

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]:
        ids = self._enc.encode(text, allowed_special="all")
        spans: list[tuple[int, int]] = []
        pos = 0
        for length in map(len, self._enc.decode_tokens_bytes(ids)):
            spans.append((pos, pos + length))
            pos += length
        offsets = char_offsets_from_byte_spans(text, spans)
        if add_special_tokens and self._bos is not None:
            ids.insert(0, self._bos)
            offsets.insert(0, (0, 0))
        return ids, offsets

    def piece(self, token_id: int) -> str:
        if token_id in self._special_by_id:
            return self._special_by_id[token_id]
        table = byte_to_unicode()
        return "".join(table[b] for b in self._enc.decode_single_token_bytes(token_id))

    def token_bytes(self, token_id: int) -> bytes | None:
        if token_id in self.special_ids:
            return None
        return self._enc.decode_single_token_bytes(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        return self._enc.decode(list(ids), errors="replace")

    def has_id(self, token_id: int) -> bool:
        """Whether ``token_id`` is in the vocabulary (cl100k_base has unused ids)."""
        if token_id in self.special_ids:
            return True
        try:
            self._enc.decode_single_token_bytes(token_id)
        except (KeyError, ValueError, OverflowError):
            return False
        return True


class SentencePieceEngine:
    """A ``sentencepiece`` model, called directly so the view is exactly what the library does."""

    def __init__(self, processor: sentencepiece.SentencePieceProcessor, *, add_bos: bool, lossless: bool) -> None:
        self._sp = processor
        self._add_bos = add_bos and processor.bos_id() >= 0
        self.vocab_size = processor.get_piece_size()
        self.special_ids = frozenset(i for i in range(self.vocab_size) if processor.is_control(i))
        self.lossless = lossless

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self._sp.encode(text, add_bos=add_special_tokens and self._add_bos)

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]:
        # the proto API refuses add_bos, so the BOS is put in front here, covering no text
        pieces = self._sp.encode(text, return_type="proto").pieces
        ids = [p.id for p in pieces]
        offsets = char_offsets_from_byte_spans(text, [(p.begin, p.end) for p in pieces])
        if add_special_tokens and self._add_bos:
            ids.insert(0, self._sp.bos_id())
            offsets.insert(0, (0, 0))
        return ids, offsets

    def piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        sp = self._sp
        if sp.is_control(token_id) or sp.is_unknown(token_id):
            return None
        piece = sp.id_to_piece(token_id)
        if sp.is_byte(token_id):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode(list(ids))

    def has_id(self, token_id: int) -> bool:
        return 0 <= token_id < self.vocab_size


class HFEngine:
    """A Hugging Face ``tokenizers.Tokenizer`` (tokenizer.json): WordPiece, BPE, WordLevel, Hub tokenizers."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, *, lossless: bool) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tok = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        added = tokenizer.get_added_tokens_decoder()
        self.special_ids = frozenset(i for i, t in added.items() if t.special)
        self.lossless = lossless
        config = tokenizer.to_str()
        self._byte_level = '"ByteLevel"' in config
        self._wordpiece = '"WordPiece"' in config

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]:
        enc = self._tok.encode(text, add_special_tokens=add_special_tokens)
        return enc.ids, enc.offsets

    def piece(self, token_id: int) -> str:
        return self._tok.id_to_token(token_id) or ""

    def token_bytes(self, token_id: int) -> bytes | None:
        if token_id in self.special_ids:
            return None
        piece = self._tok.id_to_token(token_id)
        if piece is None:
            return None
        if self._byte_level:
            table = _unicode_to_byte()
            if all(c in table for c in piece):
                return bytes(table[c] for c in piece)
        if self._wordpiece and piece.startswith("##"):
            piece = piece[2:]
        return piece.replace("\u2581", " ").encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def has_id(self, token_id: int) -> bool:
        return self._tok.id_to_token(token_id) is not None


class CharEngine:
    """One token per Unicode code point; the id is the code point."""

    vocab_size = 0x110000
    special_ids: frozenset[int] = frozenset()
    lossless = True

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).tolist()

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]:
        return self.encode(text, add_special_tokens=False), [(i, i + 1) for i in range(len(text))]

    def piece(self, token_id: int) -> str:
        return chr(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        return chr(token_id).encode("utf-8", errors="surrogatepass")

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(map(chr, ids))

    def has_id(self, token_id: int) -> bool:
        return 0 <= token_id < 0x110000 and not 0xD800 <= token_id <= 0xDFFF


class ByteEngine:
    """One token per UTF-8 byte; the id is the byte value."""

    vocab_size = 256
    special_ids: frozenset[int] = frozenset()
    lossless = True

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return list(text.encode("utf-8"))

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]:
        ids = list(text.encode("utf-8"))
        return ids, char_offsets_from_byte_spans(text, [(i, i + 1) for i in range(len(ids))])

    def piece(self, token_id: int) -> str:
        return f"<0x{token_id:02X}>"

    def token_bytes(self, token_id: int) -> bytes | None:
        return bytes([token_id])

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")

    def has_id(self, token_id: int) -> bool:
        return 0 <= token_id < 256


def special_names(engine: TokenizerEngine) -> Mapping[int, str]:
    """Special-token ids and their pieces (for legends and docs)."""
    return {i: engine.piece(i) for i in sorted(engine.special_ids)}


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


class NFCEngine:
    """Wraps an engine whose tokenizer normalises to NFC first (Qwen's does), keeping offsets on the input."""

    def __init__(self, inner: TokenizerEngine) -> None:
        self._inner = inner
        self.vocab_size = inner.vocab_size
        self.special_ids = inner.special_ids
        self.lossless = False  # "e\u0301" comes back as "é"

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return self._inner.encode(unicodedata.normalize("NFC", text), add_special_tokens=add_special_tokens)

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool) -> tuple[list[int], Offsets]:
        normalised, spans = nfc_with_spans(text)
        ids, offsets = self._inner.encode_with_offsets(normalised, add_special_tokens=add_special_tokens)
        if spans is None:
            return ids, offsets
        mapped: Offsets = []
        for s, e in offsets:
            if s == e:
                pos = spans[s][0] if s < len(spans) else len(text)
                mapped.append((pos, pos))
            else:
                mapped.append((spans[s][0], spans[e - 1][1]))
        return ids, mapped

    def piece(self, token_id: int) -> str:
        return self._inner.piece(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        return self._inner.token_bytes(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        return self._inner.decode(ids)

    def has_id(self, token_id: int) -> bool:
        return self._inner.has_id(token_id)
