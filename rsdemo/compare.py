"""Pure: where do several tokenizers' token boundaries disagree?

A boundary is where a token starts. Whitespace is skipped before comparing, so ``" world"``
(GPT-2 puts the space in front of the word) and ``"world"`` (BERT drops the space) start at the
same boundary. A segment *differs* when its start or its end is not a boundary of every tokenizer.

>>> from rsdemo.segments import build_segments
>>> a = build_segments("unhappy", ids=[1, 2], offsets=[(0, 2), (2, 7)])
>>> b = build_segments("unhappy", ids=[9], offsets=[(0, 7)])
>>> shared = shared_boundaries("unhappy", [a, b])
>>> [differs("unhappy", s, shared) for s in a], [differs("unhappy", s, shared) for s in b]
([True, True], [False])
"""

from __future__ import annotations

from collections.abc import Sequence

from .segments import Segment

__all__ = ["boundaries", "differs", "shared_boundaries"]


def _snap(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def boundaries(text: str, segments: Sequence[Segment]) -> set[int]:
    """The whitespace-snapped start of every token segment, without the text's two ends.

    >>> from rsdemo.segments import build_segments
    >>> sorted(boundaries("a bc", build_segments("a bc", ids=[1, 2, 3], offsets=[(0, 1), (1, 3), (3, 4)])))
    [2, 3]
    """
    cuts = {_snap(text, s.start) for s in segments if s.kind == "token" and s.text}
    cuts.discard(_snap(text, 0))
    cuts.discard(len(text))
    return cuts


def shared_boundaries(text: str, views: Sequence[Sequence[Segment]]) -> set[int]:
    """Boundaries every view has."""
    sets = [boundaries(text, segs) for segs in views]
    return set.intersection(*sets) if sets else set()


def differs(text: str, segment: Segment, shared: set[int]) -> bool:
    """Whether ``segment`` starts or ends at a boundary not every tokenizer has."""
    if segment.kind != "token" or not segment.text:
        return False
    ends = {_snap(text, 0), len(text)}
    start, end = _snap(text, segment.start), _snap(text, segment.end)
    return (start not in shared and start not in ends) or (end not in shared and end not in ends)
