"""Pure: several decoding methods' outputs for one prompt, compared — where they part, and how they read.

Per output: length, sequence log-probability and perplexity (under the raw model), distinct-1/2/3 (unique
n-grams over n-grams, on token ids) and the repeated n-gram rate (the share of 3-grams seen earlier in the same
output), and where it parts from the output closest to it (its divergence point).

>>> first_divergence([[1, 2, 3, 4], [1, 2, 5], [1, 6]])
[2, 2, 1]
>>> closest([[1, 2], [1, 2], [1, 2, 3], [4]])
[('same', 1), ('same', 0), ('parts', 0), ('parts', 0)]
>>> closest([[1, 2], [1, 2, 3]])
[('start', 1), ('parts', 0)]
>>> round(distinct([1, 2, 1, 2], 1), 2), round(distinct([1, 2, 1, 2], 2), 2)
(0.5, 0.67)
>>> round(repeated_ngrams([1, 2, 1, 2, 1], 2), 2)
0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ArenaRow", "arena_rows", "closest", "distinct", "first_divergence", "repeated_ngrams"]


def _ngrams(ids: Sequence[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]


def distinct(ids: Sequence[int], n: int) -> float:
    """Unique n-grams over all n-grams (1.0 for an output too short to have any)."""
    grams = _ngrams(ids, n)
    return len(set(grams)) / len(grams) if grams else 1.0


def repeated_ngrams(ids: Sequence[int], n: int = 3) -> float:
    """The share of n-grams that already appeared earlier in the same output."""
    seen: set[tuple[int, ...]] = set()
    repeats = 0
    grams = _ngrams(ids, n)
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0


def first_divergence(outputs: Sequence[Sequence[int]]) -> list[int]:
    """Per output, where it parts from the output closest to it: the longest start it shares with any other
    output (its length when another output is identical or continues it)."""
    result = []
    for k, ids in enumerate(outputs):
        shared = 0
        for j, other in enumerate(outputs):
            if j != k:
                common = next((i for i, (a, b) in enumerate(zip(ids, other)) if a != b), min(len(ids), len(other)))
                shared = max(shared, common)
        result.append(shared)
    return result


def closest(outputs: Sequence[Sequence[int]]) -> list[tuple[str, int]]:
    """Per output, how it stands to the output closest to it (the first such, in order): ``("same", j)`` when
    identical to output j, ``("start", j)`` when it is the start of output j (which goes on), else
    ``("parts", j)``: it parts from j at ``first_divergence``. A lone output is ``("parts", 0)`` to itself."""
    result = []
    for k, ids in enumerate(outputs):
        best, best_j = -1, 0
        for j, other in enumerate(outputs):
            if j != k:
                common = next((i for i, (a, b) in enumerate(zip(ids, other)) if a != b), min(len(ids), len(other)))
                if common > best:
                    best, best_j = common, j
        other = outputs[best_j] if best >= 0 else ids
        if best >= 0 and list(other) == list(ids):
            result.append(("same", best_j))
        elif best >= 0 and best == len(ids) < len(other):
            result.append(("start", best_j))
        else:
            result.append(("parts", best_j))
    return result


@dataclass(frozen=True, slots=True)
class ArenaRow:
    """One method's output in the arena (figures over its generated tokens)."""

    method: str
    length: int
    logprob: float | None
    perplexity: float | None
    distinct_1: float
    distinct_2: float
    distinct_3: float
    repeated_3: float
    diverges_at: int
    seconds: float
    same_as: str | None = None  # the first other method whose output is identical
    start_of: str | None = None  # the first other method whose output this one is the start of


def arena_rows(
    *,
    methods: Sequence[str],
    outputs: Sequence[Sequence[int]],
    logprobs: Sequence[float | None],
    perplexities: Sequence[float | None],
    seconds: Sequence[float],
) -> list[ArenaRow]:
    """The table: one row per method, in the order given."""
    points = first_divergence(outputs)
    near = closest(outputs)
    return [
        ArenaRow(
            m,
            len(ids),
            lp,
            ppl,
            distinct(ids, 1),
            distinct(ids, 2),
            distinct(ids, 3),
            repeated_ngrams(ids, 3),
            point,
            s,
            same_as=methods[j] if how == "same" and len(outputs) > 1 else None,
            start_of=methods[j] if how == "start" else None,
        )
        for m, ids, lp, ppl, s, point, (how, j) in zip(methods, outputs, logprobs, perplexities, seconds, points, near)
    ]
