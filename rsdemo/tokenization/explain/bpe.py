"""Byte-pair merging, replayed with a log: a heap and a linked list, so a chunk of n symbols costs O(n log n).

Every BPE library here merges the same way: the adjacent pair with the best priority merges first, the leftmost on
a tie, until no pair can merge. Only the priority differs: tiktoken ranks the merged token, Hugging Face ranks the
pair (its merges list), SentencePiece scores the merged piece (highest first; pass ``-score``).

>>> ranks = {b"ab": 0, b"abc": 1}
>>> run = merge(symbols=[b"a", b"b", b"c"], priority=lambda left, right: ranks.get(left + right))
>>> run.parts, [(m.left, m.start, m.end) for m in run.log]
([b'abc'], [(0, 0, 2), (0, 0, 3)])
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Merge", "MergeRun", "merge", "steps_within"]


@dataclass(frozen=True, slots=True)
class Merge:
    """One merge: the parts starting at symbols ``left`` and ``right`` joined; the result covers ``[start, end)``."""

    priority: float
    left: int
    right: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MergeRun:
    """The final parts, where each starts (symbol index), and every merge in the order it ran."""

    parts: list[Any]
    starts: list[int]
    log: list[Merge]


def merge(*, symbols: Sequence[Any], priority: Callable[[Any, Any], float | None]) -> MergeRun:
    """Merge ``symbols`` (bytes or str, anything ``+`` joins) by ``priority`` (None: the pair cannot merge).

    >>> merge(symbols=["a", "b"], priority=lambda left, right: None).parts
    ['a', 'b']
    """
    n = len(symbols)
    parts: list[Any] = list(symbols)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    version = [0] * n
    heap: list[tuple[float, int, int, int, int]] = []

    def push(i: int) -> None:
        j = nxt[i]
        if j < n:
            p = priority(parts[i], parts[j])
            if p is not None:
                heapq.heappush(heap, (p, i, j, version[i], version[j]))

    for i in range(n - 1):
        push(i)
    log: list[Merge] = []
    while heap:
        p, i, j, vi, vj = heapq.heappop(heap)
        if version[i] != vi or version[j] != vj or nxt[i] != j:
            continue  # a stale pair: one side merged since it was pushed
        parts[i] = parts[i] + parts[j]
        version[i] += 1
        version[j] = -1
        nxt[i] = nxt[j]
        if nxt[j] < n:
            prv[nxt[j]] = i
        log.append(Merge(p, i, j, i, nxt[i]))
        if prv[i] >= 0:
            push(prv[i])
        push(i)
    starts = []
    i = 0
    while i < n:
        starts.append(i)
        i = nxt[i]
    return MergeRun([parts[s] for s in starts], starts, log)


def steps_within(
    run: MergeRun, symbols: Sequence[Hashable], *, start: int, end: int
) -> list[tuple[Merge, list[Any], Any, Any]]:
    """The merges inside ``[start, end)`` (one final part), each with the part's pieces after it, and its two sides.

    >>> ranks = {b"ab": 0, b"abc": 1}
    >>> run = merge(symbols=[b"a", b"b", b"c"], priority=lambda left, right: ranks.get(left + right))
    >>> [(parts, left, right) for _, parts, left, right in steps_within(run, [b"a", b"b", b"c"], start=0, end=3)]
    [([b'ab', b'c'], b'a', b'b'), ([b'abc'], b'ab', b'c')]
    """
    pieces: dict[int, Any] = {i: symbols[i] for i in range(start, end)}
    out = []
    for m in run.log:
        if m.start < start or m.end > end:
            continue
        left, right = pieces[m.left], pieces.pop(m.right)
        pieces[m.left] = left + right
        out.append((m, [pieces[k] for k in sorted(pieces)], left, right))
    return out
