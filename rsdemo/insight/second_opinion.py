"""Pure: transformers' view of a run another engine made, token by token, and where the two rank differently.

A fast engine (llama.cpp on the F16 or Q4_1 weights, a serving engine) computes the same model in other
arithmetic. Where two candidates are nearly tied, the engines can rank them the other way round, and a greedy run
then takes another path ("L'Étoile…" on llama.cpp's Q4_1 weights, "The capital of France is Paris." on
transformers, for the README's own question). ``opinions`` reads one teacher-forced forward pass of transformers
over the run's prompt and tokens (``rsdemo.insight.scoring.score``) and gives, per generated token, transformers'
probability of the token the run chose and the token transformers ranks first there; ``Opinion.differs`` marks
the tokens where that is not the token the run's engine ranked first.

>>> import numpy as np
>>> class T:  # a generated token: its id and the engine's own top candidates
...     def __init__(self, id, top): self.id, self.raw_top = id, [type("A", (), {"id": top})()]
>>> logprobs = np.log([0.5, 0.6, 0.9])          # p(ids[k+1] | ids[:k+1]) for a 1-token prompt and 3 tokens
>>> top_ids = np.array([[7, 8], [8, 7], [9, 2], [1, 2]]); top_probs = np.array([[.5, .3], [.6, .2], [.9, .1], [1, 0]])
>>> ops = opinions(tokens=[T(7, 7), T(2, 2), T(9, 9)], logprobs=logprobs, top_ids=top_ids, top_probs=top_probs,
...                start=1, text=str)
>>> [(o.index, round(o.prob, 2), o.top_id, o.differs) for o in ops]
[(0, 0.5, 7, False), (1, 0.6, 8, True), (2, 0.9, 9, False)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Opinion", "SecondOpinion", "opinions"]


@dataclass(frozen=True, slots=True)
class Opinion:
    """transformers at one generated token of a run.

    Attributes:
        index: the token's position among the run's generated tokens.
        prob: transformers' probability of the token the run chose.
        top_id, top_text, top_prob: the token transformers ranks first there, and its probability.
        engine_top_id: the token the run's engine ranked first (its raw distribution).
    """

    index: int
    prob: float
    top_id: int
    top_text: str
    top_prob: float
    engine_top_id: int

    @property
    def differs(self) -> bool:
        """transformers ranks another token first than the run's engine did."""
        return self.top_id != self.engine_top_id


@dataclass(frozen=True, slots=True)
class SecondOpinion:
    """transformers' view of every generated token of one run (``engine``'s)."""

    engine: str
    opinions: tuple[Opinion, ...]

    @property
    def differing(self) -> tuple[Opinion, ...]:
        return tuple(o for o in self.opinions if o.differs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "reference": "transformers",
            "positions": len(self.opinions),
            "agree": len(self.opinions) - len(self.differing),
            "tokens": [
                {
                    "index": o.index,
                    "prob": o.prob,
                    "top_id": o.top_id,
                    "top_text": o.top_text,
                    "top_prob": o.top_prob,
                    "engine_top_id": o.engine_top_id,
                    "differs": o.differs,
                }
                for o in self.opinions
            ],
        }


def opinions(
    *, tokens: Sequence[Any], logprobs: Any, top_ids: Any, top_probs: Any, start: int, text: Callable[[int], str]
) -> tuple[Opinion, ...]:
    """Per generated token, transformers' numbers at its position.

    Args:
        tokens: the run's ``GeneratedToken`` list (``id``, ``raw_top``: the engine's own candidates).
        logprobs, top_ids, top_probs: ``Scored`` fields of one forward pass over the prompt's ids and the tokens.
        start: how many prompt ids come before the first generated token.
        text: a token id's text.
    """
    result = []
    for k, token in enumerate(tokens):
        row = start + k - 1  # the distribution after everything before this token
        own = token.raw_top[0].id if getattr(token, "raw_top", None) else token.id
        top = int(top_ids[row][0])
        result.append(Opinion(k, math.exp(float(logprobs[row])), top, text(top), float(top_probs[row][0]), int(own)))
    return tuple(result)
