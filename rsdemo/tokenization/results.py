"""What tokenising, comparing and decoding return: plain dataclasses of lists, strings and numbers.

``rsdemo.backend`` (and ``rsdemo`` itself) re-export them: ``from rsdemo import TokenizeResult`` keeps working.

>>> TokenInfo(104, "h", b"h", False).as_dict()
{'id': 104, 'piece': 'h', 'bytes': '68', 'special': False}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .segments import Segment, SegmentTable
from .stats import Stats

__all__ = ["CompareResult", "DecodeResult", "TokenInfo", "TokenizeResult", "TokenizerInfo"]


@dataclass(frozen=True, slots=True)
class TokenizerInfo:
    """What the UI shows about a tokenizer."""

    key: str
    label: str
    family: str
    notes: str
    lossless: bool
    vocab_size: int


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One vocabulary entry: id, piece as stored, bytes (None for special tokens) and text."""

    id: int
    piece: str
    bytes: bytes | None
    special: bool

    @property
    def bytes_hex(self) -> str:
        return "special" if self.bytes is None else self.bytes.hex(" ")

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "piece": self.piece, "bytes": self.bytes_hex, "special": self.special}


class TokenizeResult:
    """A tokenised text: every id and stats over the whole text; display segments for the first tokens.

    Attributes:
        info: the tokenizer.
        text: the input.
        id_array: every token id of the whole text (``ids`` gives them as a list).
        table: the display segments of the first ``shown_tokens`` tokens, as arrays.
        shown_tokens: how many tokens the segments cover.
        stats: counts over the whole text.
        add_special_tokens: whether BOS / CLS / SEP were added.

    ``segments`` (objects) and ``tokens`` (vocabulary details of the shown ids) are made on first use.
    """

    def __init__(
        self,
        *,
        info: TokenizerInfo,
        text: str,
        id_array: np.ndarray,
        table: SegmentTable,
        shown_tokens: int,
        stats: Stats,
        add_special_tokens: bool,
        describe: Callable[[int], TokenInfo],
    ) -> None:
        self.info = info
        self.text = text
        self.id_array = id_array
        self.table = table
        self.shown_tokens = shown_tokens
        self.stats = stats
        self.add_special_tokens = add_special_tokens
        self._describe = describe

    @property
    def truncated(self) -> bool:
        return self.shown_tokens < len(self.id_array)

    @cached_property
    def ids(self) -> list[int]:
        """Every token id, as plain ints."""
        return self.id_array.tolist()

    @cached_property
    def segments(self) -> list[Segment]:
        return self.table.segments()

    @cached_property
    def tokens(self) -> dict[int, TokenInfo]:
        """Vocabulary details for every id the segments show."""
        return {i: self._describe(i) for i in dict.fromkeys(self.id_array[: self.shown_tokens].tolist())}

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``ids``, ``segments`` (text, ids, start, kind) and ``stats``."""
        return {
            "tokenizer": self.info.key,
            "ids": self.ids,
            "segments": [{"text": s.text, "ids": list(s.ids), "start": s.start, "kind": s.kind} for s in self.segments],
            "truncated": self.truncated,
            "stats": self.stats.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class CompareResult:
    """The same text through several tokenizers, with the boundaries they do not all share.

    Attributes:
        text: the input.
        results: one ``TokenizeResult`` per tokenizer (display window and whole-text stats).
        marks: per result, one flag per displayed segment: it starts or ends on a boundary not every
            tokenizer has (boundaries compared over the whole text). Empty while the comparison streams.
        differing: per result, how many segments of the whole text are so marked.
        done: False for the partial results ``Backend.compare_steps`` yields before the last tokenizer.
    """

    text: str
    results: list[TokenizeResult]
    marks: list[list[bool]]
    differing: list[int]
    done: bool = True


@dataclass(frozen=True, slots=True)
class DecodeResult:
    text: str
    tokens: list[TokenInfo]
