"""Pure: how surprising each token of a text is to a model, from its teacher-forced logits.

Token ``k``'s log-probability is the log-softmax of the logits after ``ids[:k]`` at ``ids[k]``. The first
token has no prefix, so it has no score. Perplexity is ``exp(-mean log-probability)`` over the scored tokens.

>>> import numpy as np
>>> logits = np.log(np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
>>> s = surprisal_from_logits(ids=[0, 0, 1], logits=logits)
>>> [None if v is None else round(v, 3) for v in s.logprobs], round(s.perplexity, 3)
([None, -0.693, -2.303], 4.472)
>>> s.most_surprising
(2, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Surprisal", "surprisal_from_logits", "surprisal_from_logprobs"]


@dataclass(frozen=True, slots=True)
class Surprisal:
    """Per-token log-probabilities (natural log; None for the first token), their mean and the perplexity.

    ``most_surprising`` lists token positions, lowest log-probability first (at most 10).
    """

    ids: tuple[int, ...]
    logprobs: tuple[float | None, ...]
    mean_logprob: float | None
    perplexity: float | None
    most_surprising: tuple[int, ...]


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    top = rows.max(axis=-1, keepdims=True)
    return rows - top - np.log(np.exp(rows - top).sum(axis=-1, keepdims=True))


def surprisal_from_logits(*, ids: Sequence[int], logits: np.ndarray) -> Surprisal:
    """Score ``ids`` from ``logits`` (``(len(ids), vocab)``: row ``k`` is the model's output after ``ids[:k+1]``)."""
    ids = tuple(int(i) for i in ids)
    if len(ids) < 2:
        return Surprisal(ids, (None,) * len(ids), None, None, ())
    logp = _log_softmax(np.asarray(logits)[: len(ids) - 1])
    return surprisal_from_logprobs(ids=ids, logprobs=logp[np.arange(len(ids) - 1), np.asarray(ids[1:])])


def surprisal_from_logprobs(*, ids: Sequence[int], logprobs: np.ndarray) -> Surprisal:
    """The same from the log-probabilities of ``ids[1:]`` (``len(ids) - 1`` values)."""
    ids = tuple(int(i) for i in ids)
    scored = np.asarray(logprobs, dtype=np.float64)
    if len(ids) < 2 or scored.size == 0:
        return Surprisal(ids, (None,) * len(ids), None, None, ())
    mean = float(scored.mean())
    order = np.argsort(scored, kind="stable")[:10] + 1
    return Surprisal(ids, (None, *(float(v) for v in scored)), mean, math.exp(-mean), tuple(int(i) for i in order))
