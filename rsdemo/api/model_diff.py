"""Two models on one text as an API reply (``/model_diff``) and the CLI's ``diff-models --json``: the shapes and
their one builder.

The TypedDicts live here rather than in ``rsdemo.api_schema`` (at its size limit); they are what Gradio's API page
shows for the endpoint. Log-probabilities are natural logs, bits ``-logprob / ln 2``; ``delta_bits`` is A's bits
minus B's over a segment (positive: A more surprised); ``a_surprised``/``b_surprised`` index ``segments``.

>>> from rsdemo.insight.model_diff import TokenSpan, compare
>>> from rsdemo.insight.model_diff_pass import ModelDiffResult, ScoredText
>>> a = ScoredText("m1", "transformers", (0,), (7, 8), ("a", "b"), (TokenSpan(0, 1, -2.0), TokenSpan(1, 2, -1.0)), 0.1)
>>> b = ScoredText("m2", "transformers", (), (9,), ("ab",), (TokenSpan(0, 2, -0.5),), 0.1)
>>> reply = model_diff_reply(ModelDiffResult("ab", a, b, compare("ab", a.spans, b.spans)))
>>> [t["segment"] for t in reply["a"]["tokens"]], reply["segments"][0]["delta_bits"], reply["a_surprised"]
([0, 0], 3.606738, [0])
"""

from __future__ import annotations

from typing import TypedDict

from ..insight.model_diff import Segment
from ..insight.model_diff_pass import ModelDiffResult, ScoredText

__all__ = ["ModelDiffReply", "ModelDiffSegmentReply", "ModelDiffSideReply", "ModelDiffTokenReply", "model_diff_reply"]

NOTE = (
    "Log-probabilities are natural logs of each token given all the text before it (and the model's "
    "start-of-document token, listed as context); bits are -logprob / ln 2. Segments run between the places both "
    "models end a token; delta_bits is A's bits minus B's there (positive: A more surprised). A segment with a "
    "token that could not be scored (no context) has null numbers and is left out of the totals."
)


class ModelDiffTokenReply(TypedDict):
    """One token of one model: its id, the characters ``[start, end)`` it covers and its log-probability."""

    id: int
    text: str  # the characters it covers ("" for a token holding only the first bytes of a character)
    piece: str  # the token's own text, as the token views show it
    start: int
    end: int
    logprob: float | None  # None: not scored (no context before it)
    segment: int


class ModelDiffSideReply(TypedDict):
    """One model on one engine: what it read before the text, its tokens, and its totals over the compared text."""

    model: str
    engine: str
    context: list[int]
    tokens: list[ModelDiffTokenReply]
    bits: float
    bits_per_char: float | None
    seconds: float


class ModelDiffSegmentReply(TypedDict):
    """Characters ``[start, end)`` between two places both models end a token, with both models' numbers."""

    start: int
    end: int
    text: str
    logprob_a: float | None
    logprob_b: float | None
    delta_bits: float | None


class ModelDiffReply(TypedDict):
    """``/model_diff``: both sides, the shared segments, where each model is more surprised, and the totals."""

    text: str
    a: ModelDiffSideReply
    b: ModelDiffSideReply
    segments: list[ModelDiffSegmentReply]
    a_surprised: list[int]
    b_surprised: list[int]
    chars_compared: int
    unscored_chars: int
    note: str


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _side(
    result: ModelDiffResult, side: ScoredText, name: str, bits: float, per_char: float | None
) -> ModelDiffSideReply:
    where = {n: k for k, seg in enumerate(result.comparison.segments) for n in getattr(seg, f"tokens_{name}")}
    return {
        "model": side.model,
        "engine": side.engine,
        "context": [int(i) for i in side.context],
        "tokens": [
            {
                "id": int(i),
                "text": result.text[span.start : span.end],
                "piece": piece,
                "start": span.start,
                "end": span.end,
                "logprob": _round(span.logprob),
                "segment": where[n],
            }
            for n, (i, piece, span) in enumerate(zip(side.ids, side.pieces, side.spans))
        ],
        "bits": round(bits, 6),
        "bits_per_char": _round(per_char),
        "seconds": round(side.seconds, 4),
    }


def _segment(text: str, seg: Segment) -> ModelDiffSegmentReply:
    return {
        "start": seg.start,
        "end": seg.end,
        "text": text[seg.start : seg.end],
        "logprob_a": _round(seg.logprob_a),
        "logprob_b": _round(seg.logprob_b),
        "delta_bits": _round(seg.delta_bits),
    }


def model_diff_reply(result: ModelDiffResult) -> ModelDiffReply:
    """The reply for one ``model_diff`` result."""
    t = result.comparison.totals
    return {
        "text": result.text,
        "a": _side(result, result.a, "a", t.bits_a, t.bits_per_char_a),
        "b": _side(result, result.b, "b", t.bits_b, t.bits_per_char_b),
        "segments": [_segment(result.text, seg) for seg in result.comparison.segments],
        "a_surprised": list(result.comparison.a_surprised),
        "b_surprised": list(result.comparison.b_surprised),
        "chars_compared": t.chars,
        "unscored_chars": t.unscored_chars,
        "note": NOTE,
    }
