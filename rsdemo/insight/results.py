"""What the backend's insight calls return: plain data the views and the API read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..generation.results import GeneratedToken, GenerationResult, PromptInfo
from .arena import ArenaRow
from .beam_tree import BeamTree
from .stages import StageView
from .surprisal import Surprisal

__all__ = ["ArenaResult", "BeamTreeResult", "NextTokenResult", "SurprisalResult"]


@dataclass(frozen=True, slots=True)
class SurprisalResult:
    """A prompt scored by a model, token by token.

    Attributes:
        model: the model key.
        prompt: the text and ids the model saw (chat template applied when asked).
        tokens: every prompt token; ``raw_prob`` is its probability given what precedes it (NaN for the first),
            ``raw_top`` what the model expected there instead.
        surprisal: the log-probabilities, their mean, the perplexity and the most surprising positions.
    """

    model: str
    prompt: PromptInfo
    tokens: tuple[GeneratedToken, ...]
    surprisal: Surprisal

    def as_dict(self) -> dict[str, Any]:
        s = self.surprisal
        return {
            "model": self.model,
            "prompt": self.prompt.text,
            "tokens": [{"id": t.id, "text": t.text, "logprob": lp} for t, lp in zip(self.tokens, s.logprobs)],
            "mean_logprob": s.mean_logprob,
            "perplexity": s.perplexity,
            "most_surprising": [
                {"position": k, "text": self.tokens[k].text, "logprob": s.logprobs[k]} for k in s.most_surprising
            ],
        }


@dataclass(frozen=True, slots=True)
class NextTokenResult:
    """The next-token distribution after a prompt, through each stage of a method's pipeline.

    Attributes:
        model, method: what was asked.
        prompt: the text and ids the model saw.
        view: the rows, raw first (``rsdemo.insight.stages``).
        pieces: the text of every token id the view mentions.
        probes: ``(what was typed, token id)`` for each probe.
        order: the stage names in the order they apply.
    """

    model: str
    method: str
    prompt: PromptInfo
    view: StageView
    pieces: dict[int, str]
    probes: tuple[tuple[str, int], ...] = ()
    order: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "samples": self.view.samples,
            "stages": [
                {
                    "name": row.name,
                    "survivors": row.survivors,
                    "entropy_bits": row.entropy_bits,
                    "top": [{"id": i, "text": self.pieces.get(i, ""), "prob": p} for i, p in row.top],
                    "probes": [
                        {
                            "typed": typed,
                            "id": i,
                            "prob": row.probes.get(i, (0.0, None))[0],
                            "rank": row.probes.get(i, (0.0, None))[1],
                        }
                        for typed, i in self.probes
                    ],
                    "note": row.note,
                }
                for row in self.view.rows
            ],
        }


@dataclass(frozen=True, slots=True)
class ArenaResult:
    """Several methods on one prompt, model and seed; ``done`` once every method has run.

    Attributes:
        runs: each method's final ``GenerationResult``, in the order asked.
        rows: the comparison table (``rsdemo.insight.arena``), one row per finished run.
    """

    methods: tuple[str, ...]
    runs: tuple[GenerationResult, ...]
    rows: tuple[ArenaRow, ...]
    done: bool
    scored_by: str = "transformers"  # who gave every row's log-probability: one scorer, or "each run's engine"

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "scored_by": self.scored_by,
            "outputs": [
                {
                    "method": run.method,
                    "text": run.text,
                    "engine": run.engine,
                    "tokens": [t.id for t in run.tokens],
                    "length": row.length,
                    "logprob": row.logprob,
                    "perplexity": row.perplexity,
                    "distinct_1": row.distinct_1,
                    "distinct_2": row.distinct_2,
                    "distinct_3": row.distinct_3,
                    "repeated_3": row.repeated_3,
                    "diverges_at": row.diverges_at,
                    "same_as": row.same_as,
                    "start_of": row.start_of,
                    "seconds": row.seconds,
                }
                for run, row in zip(self.runs, self.rows)
            ],
        }


@dataclass(frozen=True, slots=True)
class BeamTreeResult:
    """A recorded beam search: the tree, the returned sequences' scores and texts (best first)."""

    model: str
    prompt: PromptInfo
    tree: BeamTree
    pieces: dict[int, str]
    scores: tuple[float, ...]
    texts: tuple[str, ...]
    length_penalty: float
    notes: tuple[str, ...] = ()  # what the tree shows of what was asked (a search of 32 steps for 64 asked)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "notes": list(self.notes),
            "beams": [
                {"text": t, "score": s, "tokens": list(r)}
                for t, s, r in zip(self.texts, self.scores, self.tree.returned)
            ],
            "nodes": [
                {
                    "path": list(n.path),
                    "token": n.token,
                    "text": self.pieces.get(n.token, ""),
                    "logprob": n.logprob,
                    "cumulative": n.cumulative,
                    "status": n.status,
                }
                for n in self.tree.nodes
            ],
        }
