"""Pure view-model: tokens with char offsets -> display segments that tile the input text.

A segment is the smallest run of text whose tokens do not share characters with any other run.
Under byte-level BPE several tokens can share one character (an emoji split into three tokens),
so one segment may carry several ids; it is never shown as U+FFFD or as duplicated text.
Text that no token covers (the spaces BERT drops) becomes a ``gap`` segment without ids, and a
special token the tokenizer inserted (``[CLS]``, ``<s>``) becomes a ``special`` segment without text.

Three invariants hold for every input (tests/test_segments.py checks them with Hypothesis):
``"".join(s.text for s in segs) == text``, the ids in order equal the encoded ids, and the
token indices in order equal ``range(len(ids))``.

The work is vectorised (numpy over the token arrays) into a columnar :class:`SegmentTable`;
``Segment`` objects are made only when something reads them. ``tests/reference_segments.py`` keeps a
plain-Python loop as the slow reference the fast version is checked against.

>>> segs = build_segments("a🙂", ids=[64, 9468, 247, 224], offsets=[(0, 1), (1, 2), (1, 2), (1, 2)])
>>> [(s.text, s.ids) for s in segs]
[('a', (64,)), ('🙂', (9468, 247, 224))]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Segment", "SegmentKind", "SegmentTable", "build_segments", "segment_table"]

SegmentKind = Literal["token", "special", "gap"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the token view.

    Attributes:
        text: the exact slice of the input this segment covers ('' for an inserted special token).
        ids: the token ids in this segment, in order (empty for a gap).
        start: char offset of ``text`` in the input.
        first: index of the segment's first token in the full id list (-1 for a gap).
        kind: ``token``, ``special`` (a special token) or ``gap`` (text no token covers).
    """

    text: str
    ids: tuple[int, ...]
    start: int
    first: int
    kind: SegmentKind

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_KINDS: tuple[SegmentKind, ...] = ("token", "special", "gap")
TOKEN, SPECIAL, GAP = 0, 1, 2


@dataclass(frozen=True, slots=True)
class SegmentTable:
    """Segments as parallel arrays (one entry per segment); ``segments()`` makes the objects.

    Attributes:
        text: the input text.
        ids: every token id (the table covers the first ``shown`` of them).
        start, end: char span of each segment in ``text``.
        first: index of each segment's first token (-1 for a gap).
        count: how many tokens each segment carries (0 for a gap).
        kind: 0 token, 1 special, 2 gap.
    """

    text: str
    ids: Sequence[int] | np.ndarray
    start: np.ndarray
    end: np.ndarray
    first: np.ndarray
    count: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def segments(self) -> list[Segment]:
        """The segments as objects, in text order."""
        text, ids = self.text, self.ids
        if isinstance(ids, np.ndarray):  # plain ints in the objects, for the window only
            ids = ids[: int((self.first + self.count).max(initial=0))].tolist()
        return [
            Segment(text[s:e], tuple(ids[f : f + c]) if c else (), s, f, _KINDS[k])
            for s, e, f, c, k in zip(
                self.start.tolist(), self.end.tolist(), self.first.tolist(), self.count.tolist(), self.kind.tolist()
            )
        ]


def segment_table(
    text: str,
    *,
    ids: Sequence[int] | np.ndarray,
    offsets: np.ndarray | Sequence[tuple[int, int]],
    special_ids: Collection[int] | np.ndarray = (),
    limit: int | None = None,
    tail_gap: bool = True,
) -> SegmentTable:
    """Group tokens into segments that tile ``text`` (vectorised; see :func:`build_segments` for the rules).

    ``special_ids`` may be a boolean lookup array indexed by id (what the backend passes: it is faster).
    """
    n = len(ids) if limit is None else min(limit, len(ids))
    offs = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)[:n]
    n = min(n, len(offs))
    length = len(text)
    if n == 0:
        if tail_gap and length and n == len(ids):
            one = np.array([0], dtype=np.int64)
            return SegmentTable(
                text, ids, one, np.array([length]), np.array([-1]), np.zeros(1, np.int64), np.array([GAP])
            )
        empty = np.zeros(0, dtype=np.int64)
        return SegmentTable(text, ids, empty, empty, empty, empty, empty)
    id_arr = np.asarray(ids[:n], dtype=np.int64)
    st = offs[:, 0]
    en = np.maximum(offs[:, 1], st)
    spec = _special_mask(id_arr, special_ids)
    zero = st == en
    has_zero = bool(zero.any())
    real = ~zero
    covered = np.maximum.accumulate(np.where(real, en, 0) if has_zero else en)
    cursor = np.empty(n, dtype=np.int64)
    cursor[0] = 0
    cursor[1:] = covered[:-1]
    heads = np.flatnonzero(_group_starts(st, cursor, zero, spec) if has_zero else _plain_starts(st, cursor))
    counts = np.empty_like(heads)
    counts[:-1] = heads[1:] - heads[:-1]
    counts[-1] = n - heads[-1]
    g_lo = np.minimum.reduceat(np.where(real, st, length + 1) if has_zero else st, heads)
    g_hi = np.maximum.reduceat(np.where(real, en, -1) if has_zero else en, heads)
    g_cursor = cursor[heads]
    has_text = g_hi >= 0
    g_start = np.where(has_text, np.maximum(g_lo, g_cursor), g_cursor)
    g_end = np.where(has_text, np.maximum(g_hi, g_start), g_start)
    if spec.any():
        g_kind = np.where(np.logical_and.reduceat(spec, heads), SPECIAL, TOKEN)
    else:
        g_kind = np.zeros(len(heads), dtype=np.int64)
    has_gap = has_text & (g_start > g_cursor)
    final = int(covered[-1])
    add_tail = tail_gap and n == len(ids) and final < length
    text_groups = np.flatnonzero(has_text)
    tail_after = int(text_groups[-1]) if (add_tail and len(text_groups)) else len(heads) - 1
    if add_tail:  # groups after the tail gap (closing specials like [SEP]) sit at the end of the text
        late = np.arange(len(heads)) > tail_after
        g_start = np.where(late, length, g_start)
        g_end = np.where(late, length, g_end)
    if not has_gap.any() and not add_tail:  # nothing to interleave: the groups are the segments
        return SegmentTable(text, ids, g_start, g_end, heads, counts, g_kind)
    groups = (g_start, g_end, heads, counts, g_kind, g_cursor)
    return _with_gaps(text, ids, groups, has_gap=has_gap, tail_after=tail_after if add_tail else None, final=final)


def _special_mask(id_arr: np.ndarray, special_ids: Collection[int] | np.ndarray) -> np.ndarray:
    """Which tokens are special, from a set of ids or a boolean lookup array indexed by id."""
    if isinstance(special_ids, np.ndarray):  # a lookup table: is_special[id]
        return special_ids[id_arr]
    if special_ids:
        return np.isin(id_arr, np.fromiter(special_ids, dtype=np.int64))
    return np.zeros(len(id_arr), dtype=bool)


def _plain_starts(st: np.ndarray, cursor: np.ndarray) -> np.ndarray:
    """Which tokens open a segment when every token covers text (the common case): those past the covered text."""
    new = np.empty(len(st), dtype=bool)
    new[0] = True
    np.greater_equal(st[1:], cursor[1:], out=new[1:])
    return new


def _group_starts(st: np.ndarray, cursor: np.ndarray, zero: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """Which tokens open a segment when some tokens are zero-width (``zero``): byte-fallback lead bytes, specials.

    A run of zero-width tokens from the first non-special one on joins the next token (byte-fallback lead
    bytes); a zero-width special before that (an inserted [CLS]) is a segment of its own.
    """
    n = len(st)
    real = ~zero
    new = np.empty(n, dtype=bool)
    new[0] = True
    index = np.arange(n)
    run_head = np.maximum.accumulate(np.where(zero & np.concatenate(([True], real[:-1])), index, -1))
    last_lead = np.maximum.accumulate(np.where(zero & ~spec, index, -1))
    pend = zero & (last_lead >= run_head)
    zsp = zero & ~pend
    # the token each pending run joins: the next one that is not pending (n: none)
    joins = np.minimum.accumulate(np.where(pend, n, index)[::-1])[::-1]
    target = np.minimum(joins, n - 1)
    starts_fresh = (joins == n) | (st[target] >= cursor)  # for a pending head: does its token open a group?
    new[1:] = ~pend[:-1] & (zsp[1:] | zsp[:-1] | np.where(pend[1:], starts_fresh[1:], st[1:] >= cursor[1:]))
    return new


def _with_gaps(
    text: str,
    ids: Sequence[int] | np.ndarray,
    groups: tuple[np.ndarray, ...],
    *,
    has_gap: np.ndarray,
    tail_after: int | None,
    final: int,
) -> SegmentTable:
    """The groups interleaved with gaps: each group after the gap before it, the tail gap (``final`` to the end of
    the text) after group ``tail_after`` (None: no tail gap)."""
    g_start, g_end, heads, counts, g_kind, g_cursor = groups
    # output positions: each group after its gap; the tail gap after group `tail_after`
    pos = np.arange(len(heads)) + np.cumsum(has_gap)
    if tail_after is not None:
        pos = pos + (np.arange(len(heads)) > tail_after)
    total = len(heads) + int(has_gap.sum()) + int(tail_after is not None)
    start = np.empty(total, dtype=np.int64)
    end = np.empty(total, dtype=np.int64)
    first = np.full(total, -1, dtype=np.int64)
    count = np.zeros(total, dtype=np.int64)
    kind = np.full(total, GAP, dtype=np.int64)
    start[pos], end[pos], first[pos], count[pos], kind[pos] = g_start, g_end, heads, counts, g_kind
    gap_pos = pos[has_gap] - 1
    start[gap_pos], end[gap_pos] = g_cursor[has_gap], g_start[has_gap]
    if tail_after is not None:
        tail_pos = int(pos[tail_after]) + 1
        start[tail_pos], end[tail_pos] = final, len(text)
    return SegmentTable(text, ids, start, end, first, count, kind)


def build_segments(
    text: str,
    *,
    ids: Sequence[int],
    offsets: np.ndarray | Sequence[tuple[int, int]],
    special_ids: Collection[int] = (),
    limit: int | None = None,
    tail_gap: bool = True,
) -> list[Segment]:
    """Group tokens into segments that tile ``text``.

    Rules: a token that shares characters with the open segment joins it; a zero-width token that is
    not special (a byte-fallback lead byte) joins the token after it; a zero-width special token (an
    inserted ``[CLS]``) is a segment of its own; text no token covers is a ``gap``; special tokens
    inserted after the last text (``[SEP]``) come after the trailing gap.

    Args:
        text: the input text.
        ids: the token ids, in order.
        offsets: one ``(start, end)`` char span per id (at least the first ``limit``).
        special_ids: ids shown as special tokens.
        limit: stop after this many tokens (the display window); None for all.
        tail_gap: add the uncovered text after the last token as a gap (off when ``limit`` cut the tokens).

    >>> [(s.text, s.kind) for s in build_segments("a b", ids=[1, 7, 2], offsets=[(0, 0), (0, 1), (2, 3)],
    ...                                          special_ids={1})]
    [('', 'special'), ('a', 'token'), (' ', 'gap'), ('b', 'token')]
    """
    return segment_table(
        text, ids=ids, offsets=offsets, special_ids=special_ids, limit=limit, tail_gap=tail_gap
    ).segments()
