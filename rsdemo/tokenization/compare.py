"""Pure: where do several tokenizers' token boundaries disagree? Vectorised, linear in the text.

A boundary is where a token segment starts, moved past any whitespace (``snap``), so ``" world"`` (GPT-2
puts the space in front of the word) and ``"world"`` (BERT drops the space) start at the same boundary.
The text's two ends are boundaries of every tokenizer. A segment *differs* when its start or its end is
not a boundary of every tokenizer. Spans mapped to an unknown token (``[UNK]``) and text a tokenizer
drops are boundaries like any token. Boundaries are computed over the whole text, whatever part of it a
view shows.

Everything is a numpy array over character positions, made once per text (``snap``) and once per
tokenizer (``boundary_mask``): no per-segment scan of the text, so a run of a million spaces costs
what a million letters cost.

>>> from rsdemo.tokenization.segments import segment_table
>>> a = segment_table("unhappy", ids=[1, 2], offsets=[(0, 2), (2, 7)])
>>> b = segment_table("unhappy", ids=[9], offsets=[(0, 7)])
>>> snap = snap_table("unhappy")
>>> shared = shared_mask(snap, [boundary_mask(snap, a), boundary_mask(snap, b)])
>>> differs_mask(snap, a, shared).tolist(), differs_mask(snap, b, shared).tolist()
([True, True], [False])
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from .segments import GAP, SegmentTable

__all__ = ["boundary_mask", "differs_mask", "shared_mask", "snap_table"]


@cache
def _space_table() -> np.ndarray:
    """``is_space[code point]`` for every code point up to U+3000 (``str.isspace`` is False above it)."""
    return np.array([chr(c).isspace() for c in range(0x3001)], dtype=bool)


def snap_table(text: str) -> np.ndarray:
    """``snap[i]``: the first position at or after ``i`` that is not whitespace (``len(text)`` if none).

    Has ``len(text) + 1`` entries, so a segment's end can be snapped too.

    >>> snap_table("a  b ").tolist()
    [0, 3, 3, 3, 5, 5]
    """
    n = len(text)
    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.uint32)
    else:
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    table = _space_table()
    space = (codes < len(table)) & table[np.minimum(codes, len(table) - 1)]
    snap = np.empty(n + 1, dtype=np.int64)
    snap[n] = n
    if n:
        positions = np.where(space, n, np.arange(n, dtype=np.int64))
        snap[:n] = np.minimum.accumulate(positions[::-1])[::-1]
    return snap


def _token_segments(table: SegmentTable) -> np.ndarray:
    """Segments that are tokens covering text: ordinary tokens and special tokens with a span (``[UNK]``)."""
    return (table.kind != GAP) & (table.end > table.start)


def boundary_mask(snap: np.ndarray, table: SegmentTable) -> np.ndarray:
    """``mask[p]``: a segment of ``table`` that covers text starts at snapped position ``p``.

    Every segment with text counts: a token, a span mapped to ``[UNK]``, and text the tokenizer dropped
    (a gap) — the tokenizer splits there all the same. The text's ends always count.
    """
    mask = np.zeros(len(snap), dtype=bool)
    mask[snap[table.start[table.end > table.start]]] = True
    mask[snap[0]] = True
    mask[-1] = True
    return mask


def shared_mask(snap: np.ndarray, masks: Sequence[np.ndarray]) -> np.ndarray:
    """Boundaries every tokenizer has."""
    if not masks:
        return np.ones(len(snap), dtype=bool)
    return np.logical_and.reduce(list(masks))


def differs_mask(snap: np.ndarray, table: SegmentTable, shared: np.ndarray) -> np.ndarray:
    """Per segment of ``table``: a token segment whose start or end is not a boundary of every tokenizer."""
    starts = shared[snap[table.start]]
    ends = shared[snap[np.minimum(table.end, len(snap) - 1)]]
    return _token_segments(table) & ~(starts & ends)
