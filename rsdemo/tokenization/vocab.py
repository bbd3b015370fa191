"""A vocabulary browser: look up an id or a piece, search pieces by substring, the longest tokens, the specials.

Every entry carries its id, its piece as the vocabulary stores it (``Ġthe``, ``▁the``, ``##ing``, ``<0xE4>``) and
its bytes in hex. A search matches the piece or the text its bytes spell (so `` the`` finds ``Ġthe`` and ``▁the``),
case-sensitively, and returns at most ``limit`` entries (``MAX_RESULTS`` at most) with the total count.

>>> from rsdemo.loading import load_tokenizer
>>> found = browse_vocab(adapter=load_tokenizer(key="gpt2"), key="gpt2", mode="id", query="995")
>>> [(e.id, e.piece, e.bytes) for e in found.entries]
[(995, 'Ġworld', '20 77 6f 72 6c 64')]
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import EmptyInputError, InputError
from .adapters import TokenizerAdapter

__all__ = ["MAX_QUERY_CHARS", "MAX_RESULTS", "VOCAB_MODES", "VocabEntry", "VocabResult", "browse_vocab"]

VocabMode = Literal["search", "id", "piece", "longest", "special"]
VOCAB_MODES: tuple[VocabMode, ...] = ("search", "id", "piece", "longest", "special")
MAX_RESULTS = 500
MAX_QUERY_CHARS = 200
_TABLE_LIMIT = 400_000  # larger vocabularies (the character tokenizer's 1.1M code points) are not listed


@dataclass(frozen=True, slots=True)
class VocabEntry:
    """One vocabulary entry: ``bytes`` is hex (``special`` for a special token without bytes); ``text`` is what
    the bytes spell (U+FFFD for a partial UTF-8 character)."""

    id: int
    piece: str
    bytes: str
    special: bool
    text: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class VocabResult:
    """A browse: the entries shown, how many matched in all, and a sentence about it."""

    tokenizer: str
    mode: str
    query: str
    vocab_size: int
    entries: tuple[VocabEntry, ...]
    total: int
    note: str = ""

    @property
    def truncated(self) -> bool:
        return self.total > len(self.entries)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer,
            "mode": self.mode,
            "query": self.query,
            "vocab_size": self.vocab_size,
            "entries": [e.as_dict() for e in self.entries],
            "total": self.total,
            "truncated": self.truncated,
            "note": self.note,
        }


@dataclass(frozen=True)
class _Table:
    ids: list[int]
    pieces: list[str]
    texts: list[str]
    lengths: list[int]


_TABLES: weakref.WeakKeyDictionary[Any, _Table] = weakref.WeakKeyDictionary()


def _table(adapter: TokenizerAdapter) -> _Table | None:
    """Every id's piece, text and byte length (built once per adapter; None for a vocabulary too large to list)."""
    if adapter.vocab_size > _TABLE_LIMIT:
        return None
    known = _TABLES.get(adapter)
    if known is None:
        ids, pieces, texts, lengths = [], [], [], []
        for i in range(adapter.vocab_size):
            if not adapter.has_id(i):
                continue
            data = adapter.token_bytes(i)
            ids.append(i)
            pieces.append(adapter.piece(i))
            texts.append(data.decode("utf-8", errors="replace") if data is not None else "")
            lengths.append(len(data) if data is not None else 0)
        known = _TABLES[adapter] = _Table(ids, pieces, texts, lengths)
    return known


def _entry(adapter: TokenizerAdapter, token_id: int) -> VocabEntry:
    data = adapter.token_bytes(token_id)
    special = token_id in adapter.special_ids
    hexed = "special" if data is None else data.hex(" ")
    text = "" if data is None else data.decode("utf-8", errors="replace")
    return VocabEntry(token_id, adapter.piece(token_id), hexed, special, text)


def browse_vocab(*, adapter: TokenizerAdapter, key: str, mode: str, query: str = "", limit: int = 100) -> VocabResult:
    """Browse ``adapter``'s vocabulary (``mode``: search, id, piece, longest or special).

    Raises:
        EmptyInputError: search, id or piece without a query.
        InputError: an unknown mode, a query over ``MAX_QUERY_CHARS``, an id that is not a number, a page size
            (``limit``) that is not a number.
    """
    if mode not in VOCAB_MODES:
        raise InputError(f"Unknown mode {mode!r}: use one of {', '.join(VOCAB_MODES)}.", field="mode")
    query = query if isinstance(query, str) else str(query)
    if mode in ("search", "id", "piece") and not query.strip(" ") and not (mode == "search" and query):
        raise EmptyInputError("Type something to look up.", field="query")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"The query is {len(query):,} characters; at most {MAX_QUERY_CHARS} are looked up.",
                         field="query")  # fmt: skip
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit:
        raise InputError(f"The page size must be a whole number, got {str(limit)[:40]!r}.", field="limit")
    limit = int(max(1, min(limit, MAX_RESULTS)))  # a huge (or infinite) page size is MAX_RESULTS
    found: list[int]
    note = ""
    table = _table(adapter)
    if mode == "id":
        try:
            token_id = int(query.strip())
        except ValueError:
            raise InputError(f"{query.strip()!r} is not a token id (a whole number).", field="query") from None
        found = [token_id] if 0 <= token_id < 2**32 and adapter.has_id(token_id) else []  # ids are u32
        note = "" if found else f"No token has id {token_id}: ids run from 0 to {adapter.vocab_size - 1:,}."
    elif mode == "special":
        found = sorted(adapter.special_ids)
        note = "" if found else "This tokenizer has no special tokens."
    elif table is None:  # the character tokenizer: every code point is its own token
        found = [ord(c) for c in dict.fromkeys(query)] if mode in ("search", "piece") else []
        note = "Every Unicode code point is a token here (its id is the code point); each is one character long."
    elif mode == "longest":
        order = sorted(range(len(table.ids)), key=lambda n: (-table.lengths[n], table.ids[n]))
        found = [table.ids[n] for n in order[:limit]]
        note = f"The {min(limit, len(order)):,} longest tokens by bytes."
    elif mode == "piece":
        found = [i for i, p, t in zip(table.ids, table.pieces, table.texts) if query in (p, t)]
    else:
        found = [i for i, p, t in zip(table.ids, table.pieces, table.texts) if query in p or query in t]
    total = len(found) if mode != "longest" else len(table.ids) if table else 0
    entries = tuple(_entry(adapter, i) for i in found[:limit])
    if mode in ("search", "piece") and not entries and not note:
        note = f"No token contains {query!r}."
    return VocabResult(key, mode, query, adapter.vocab_size, entries, total if mode != "longest" else len(entries),
                       note)  # fmt: skip
