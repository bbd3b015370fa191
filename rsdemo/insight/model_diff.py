"""Pure: two models' log-probabilities of one text, aligned by characters (each model keeps its own tokens).

Each model reads the text with its own tokenizer; a token is a span of the text's characters ``[start, end)`` with
its log-probability given everything before it (natural log, as ``rsdemo.insight.scoring.score`` gives it). Two
tokenizers cut the text in different places, so their numbers are compared over **segments**: the stretches
between the character positions where *both* have a token boundary. A segment's log-probability under a model is
the sum over that model's tokens in it, which is the log-probability of that stretch of text given all the text
before it (the chain rule), so the two numbers mean the same thing whatever the tokens.

Conventions:

* Character spans come from the tokens' bytes (``char_spans``). A character whose bytes two byte-level tokens share
  (an emoji split in two) belongs to the token that completes it; the token holding only its first bytes is
  zero-width (``start == end``) and counts with the segment of the character it begins.
* A token with no context before it cannot be scored (``logprob`` None): the text's first token, for a model with
  no start-of-document token. A model that has one (``<|endoftext|>``, ``<bos>``) reads it as context first, so
  its first token is scored; the context tokens are not spans. A segment holding an unscored token is left out
  of the comparison and of the totals, for both models.
* Per-character surprisal (``char_bits_a``/``_b``, bits) spreads a token's ``-logprob`` evenly over its
  characters (a zero-width token's over the next token's), so any stretch's bits add up; NaN where unscored.
* ``delta_bits = bits_a - bits_b``: positive where A is more surprised than B.

Worked example: "unhappy cat", A cuts ``un|happy| cat``, B cuts ``unh|appy| c|at``; both have a boundary at 0, 7
and 11, so there are two segments, "unhappy" and " cat".

>>> a = [TokenSpan(0, 2, -3.0), TokenSpan(2, 7, -1.0), TokenSpan(7, 11, -0.5)]
>>> b = [TokenSpan(0, 3, -2.0), TokenSpan(3, 7, -0.5), TokenSpan(7, 9, -4.0), TokenSpan(9, 11, -0.1)]
>>> diff = compare("unhappy cat", a, b)
>>> [(s.start, s.end, s.logprob_a, s.logprob_b, round(s.delta_bits, 2)) for s in diff.segments]
[(0, 7, -4.0, -2.5, 2.16), (7, 11, -0.5, -4.1, -5.19)]
>>> diff.a_surprised, diff.b_surprised    # segment indices: "unhappy" surprises A more, " cat" B
((0,), (1,))
>>> t = diff.totals
>>> t.chars, round(t.bits_a, 2), round(t.bits_b, 2), round(t.bits_per_char_a, 3), t.unscored_chars
(11, 6.49, 9.52, 0.59, 0)
>>> round(float(diff.char_bits_a[:2].sum()), 3) == round(3.0 / LN2, 3)    # "un" carries A's first token
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LN2",
    "TOP_SEGMENTS",
    "Comparison",
    "Segment",
    "TokenSpan",
    "Totals",
    "char_spans",
    "compare",
    "spans_from_ends",
]

LN2 = math.log(2.0)
TOP_SEGMENTS = 10  # segments listed where one model is more surprised than the other


def _bits(logprob: float | None) -> float | None:
    return None if logprob is None else -logprob / LN2


@dataclass(frozen=True, slots=True)
class TokenSpan:
    """One token of a model over the text: characters ``[start, end)`` and its log-probability (None: unscored)."""

    start: int
    end: int
    logprob: float | None

    @property
    def bits(self) -> float | None:
        """Its surprisal in bits (``-logprob / ln 2``)."""
        return _bits(self.logprob)


@dataclass(frozen=True, slots=True)
class Segment:
    """Characters ``[start, end)`` between two positions where both models have a token boundary.

    ``tokens_a``/``tokens_b``: the indices of each model's tokens in it; ``logprob_a``/``_b``: their sums (None
    when one of them is unscored).
    """

    start: int
    end: int
    tokens_a: tuple[int, ...]
    tokens_b: tuple[int, ...]
    logprob_a: float | None
    logprob_b: float | None

    @property
    def bits_a(self) -> float | None:
        return _bits(self.logprob_a)

    @property
    def bits_b(self) -> float | None:
        return _bits(self.logprob_b)

    @property
    def delta_bits(self) -> float | None:
        """A's surprisal minus B's, in bits (positive: A more surprised); None unless both are scored."""
        if self.logprob_a is None or self.logprob_b is None:
            return None
        return (self.logprob_b - self.logprob_a) / LN2


@dataclass(frozen=True, slots=True)
class Totals:
    """Both models over the characters both score (``chars``; the rest is ``unscored_chars``), in bits."""

    chars: int
    unscored_chars: int
    bits_a: float
    bits_b: float

    @property
    def bits_per_char_a(self) -> float | None:
        return self.bits_a / self.chars if self.chars else None

    @property
    def bits_per_char_b(self) -> float | None:
        return self.bits_b / self.chars if self.chars else None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two models on one text: their tokens, the shared segments, per-character surprisal, the largest
    differences either way (segment indices, largest first, at most ``TOP_SEGMENTS``) and the totals."""

    text: str
    spans_a: tuple[TokenSpan, ...]
    spans_b: tuple[TokenSpan, ...]
    segments: tuple[Segment, ...]
    char_bits_a: np.ndarray
    char_bits_b: np.ndarray
    a_surprised: tuple[int, ...]
    b_surprised: tuple[int, ...]
    totals: Totals


def char_spans(text: str, token_bytes: Sequence[bytes]) -> tuple[tuple[int, int], ...] | None:
    """Each token's character span, from the tokens' bytes; None unless they spell ``text``'s UTF-8 exactly.

    A character split between tokens belongs to the token that completes it (the others are zero-width):

    >>> char_spans("né!", [b"n", b"\\xc3", b"\\xa9!"])
    ((0, 1), (1, 1), (1, 3))
    >>> char_spans("né", [b"n", b"e"]) is None
    True
    """
    data = text.encode("utf-8")
    if b"".join(token_bytes) != data:
        return None
    arr = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum((arr & 0xC0) != 0x80)])  # characters begun before each byte
    continuation = np.concatenate([(arr & 0xC0) == 0x80, [False]])
    spans, done, at = [], 0, 0
    for piece in token_bytes:
        at += len(piece)
        end = int(starts[at]) - int(continuation[at])  # characters complete after this token's bytes
        spans.append((done, max(done, end)))
        done = max(done, end)
    return tuple(spans)


def spans_from_ends(length: int, ends: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Contiguous spans from each token's end offset (a tokenizer's offsets, the fallback when bytes do not spell
    the text): each token starts where the one before ended; ends never go back; the last ends the text.

    >>> spans_from_ends(5, [2, 2, 1, 4])
    ((0, 2), (2, 2), (2, 2), (2, 5))
    """
    spans, done = [], 0
    for n, end in enumerate(ends):
        end = length if n == len(ends) - 1 else max(done, min(length, int(end)))
        spans.append((done, end))
        done = end
    return tuple(spans)


def _check(text: str, spans: Sequence[TokenSpan], name: str) -> None:
    at = 0
    for span in spans:
        if span.start != at or span.end < span.start:
            raise ValueError(f"model {name}'s spans must cover the text in order (at {at}: {span})")
        at = span.end
    if at != len(text):
        raise ValueError(f"model {name}'s spans end at {at}, not at the text's end ({len(text)})")


def _char_bits(length: int, spans: Sequence[TokenSpan]) -> np.ndarray:
    """Each character's share of its token's surprisal (bits); a zero-width token's goes to the next token."""
    out = np.full(length, np.nan)
    pending: float | None = 0.0
    for span in spans:
        bits = None if pending is None or span.bits is None else pending + span.bits
        if span.end == span.start:
            pending = bits
            continue
        if bits is not None:
            out[span.start : span.end] = bits / (span.end - span.start)
        pending = 0.0
    if pending and length and spans:  # zero-width tokens at the very end: onto the last character
        out[length - 1] += pending
    return out


def _members(spans: Sequence[TokenSpan], cuts: Sequence[int]) -> list[list[int]]:
    """The token indices in each segment ``[cuts[k], cuts[k+1])`` (a token is where its first character is)."""
    where = np.searchsorted(np.asarray(cuts[1:-1], dtype=np.int64), [s.start for s in spans], side="right")
    members: list[list[int]] = [[] for _ in range(len(cuts) - 1)]
    for n, k in enumerate(where.tolist()):
        members[min(k, len(members) - 1)].append(n)
    return members


def _sum(spans: Sequence[TokenSpan], members: Sequence[int]) -> float | None:
    values = [spans[n].logprob for n in members]
    return None if any(v is None for v in values) else float(sum(values))  # type: ignore[misc]


def compare(
    text: str, spans_a: Sequence[TokenSpan], spans_b: Sequence[TokenSpan], *, top: int = TOP_SEGMENTS
) -> Comparison:
    """The char-aligned comparison of two models' tokens over ``text`` (see the module docstring).

    Raises:
        ValueError: spans that do not cover the text in order, each starting where the one before ended.
    """
    spans_a, spans_b = tuple(spans_a), tuple(spans_b)
    _check(text, spans_a, "A")
    _check(text, spans_b, "B")
    cuts = sorted({0, len(text)} | ({s.end for s in spans_a} & {s.end for s in spans_b}))
    if len(cuts) < 2:  # an empty text: no segment
        cuts = []
    in_a, in_b = (_members(spans, cuts) if cuts else [] for spans in (spans_a, spans_b))
    segments = tuple(
        Segment(start, end, tuple(ma), tuple(mb), _sum(spans_a, ma), _sum(spans_b, mb))
        for start, end, ma, mb in zip(cuts, cuts[1:], in_a, in_b)
    )
    scored = [(n, s) for n, s in enumerate(segments) if s.delta_bits is not None]
    ahead = sorted((n for n, s in scored if s.delta_bits > 0), key=lambda n: -segments[n].delta_bits)  # type: ignore[operator]
    behind = sorted((n for n, s in scored if s.delta_bits < 0), key=lambda n: segments[n].delta_bits)  # type: ignore[arg-type,return-value]
    chars = sum(s.end - s.start for _, s in scored)
    totals = Totals(
        chars,
        len(text) - chars,
        float(sum(s.bits_a for _, s in scored)),  # type: ignore[misc]
        float(sum(s.bits_b for _, s in scored)),  # type: ignore[misc]
    )
    return Comparison(
        text,
        spans_a,
        spans_b,
        segments,
        _char_bits(len(text), spans_a),
        _char_bits(len(text), spans_b),
        tuple(ahead[:top]),
        tuple(behind[:top]),
        totals,
    )
