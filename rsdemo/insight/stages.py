"""Pure: one next-token distribution through each stage of the decoding pipeline, from the raw logits.

The stages are transformers' own logits processors in transformers' order (``rsdemo.generation.processors``):
repetition penalty, no-repeat n-gram, then — when sampling — temperature, top-k, top-p, min-p, typical,
epsilon, eta: only the stages the method and its settings have (a top-p run shows no min-p stage). Each row
holds the renormalised distribution's top candidates, how many tokens survive, the entropy, and the probability
and rank of any tokens the user asked about ("probes"), even outside the top.
(llama.cpp's own sampler applies temperature last; rsdemo applies these stages to every engine's logits.)
rsdemo's own stages — presence/frequency penalties, DRY, top-nσ, dynamic temperature, XTC, Mirostat v2 — show
where ``sampler_order`` puts them (transformers', llama.cpp's, or a custom order).

>>> import numpy as np
>>> view = stage_view(logits=np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32)), context_ids=[],
...                   method="top_p", params={"top_p": 0.7}, top=3)
>>> [(row.name, row.survivors) for row in view.rows]
[('raw', 4), ('top-p', 2)]
>>> [round(p, 3) for _, p in view.rows[1].top]
[0.625, 0.375]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..decoding import generation_config, get_method, resolve_params
from ..generation.processors import stages

__all__ = ["StageRow", "StageView", "stage_view"]


@dataclass(frozen=True, slots=True)
class StageRow:
    """The distribution after one stage.

    Attributes:
        name: ``raw`` or the stage's name (``top-p``).
        top: ``(token id, probability)`` of the most probable candidates, highest first.
        survivors: how many tokens keep a probability above zero.
        entropy_bits: the distribution's entropy in bits.
        probes: ``token id -> (probability, rank)`` for the asked-about tokens (rank 1 = most probable;
            None when the stage removed the token).
        note: what a random or stateful stage did here (XTC's draw with the run's seed, Mirostat's bound), else "".
    """

    name: str
    top: tuple[tuple[int, float], ...]
    survivors: int
    entropy_bits: float
    probes: dict[int, tuple[float, int | None]] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, slots=True)
class StageView:
    """The rows, raw first, whether the method samples (greedy takes the top token of the last row), and the
    sampler order asked for (``transformers``, ``llama.cpp`` or a custom list of stage names)."""

    method: str
    samples: bool
    rows: tuple[StageRow, ...]
    order: str = "transformers"


def _note(processor: Any, before: Any) -> str:
    """What XTC or Mirostat v2 did to ``before`` (the scores it was given), in words; "" for other stages.

    XTC draws whether it fires from the run's seeded generator (the first draw of a run, as at its first token);
    the note gives its chance, whether it fired, and how many top tokens it removes when it fires. Mirostat v2
    keeps the tokens whose surprise is at most its bound mu, which starts at 2·tau (a run's first token).
    """
    import torch

    from ..generation.samplers import XTC, MirostatV2

    if isinstance(processor, XTC):
        above = int((torch.softmax(before[0].float(), -1) >= processor.threshold).sum())
        removes = above - 1 if above >= 2 and processor.threshold <= 0.5 else 0
        fired = "fired" if processor.fired and processor.fired[0] else "did not fire"
        return f"{fired} with this seed ({100 * processor.probability:g}% chance); when it fires, it removes {removes}"
    if isinstance(processor, MirostatV2):
        return f"keeps surprise up to mu = {processor.mu:.2f} bits"
    return ""


def _row(name: str, scores: Any, top: int, probes: Sequence[int], note: str = "") -> StageRow:
    import torch

    probs = torch.softmax(scores[0].float(), dim=-1)
    values, ids = torch.topk(probs, min(top, probs.numel()))
    alive = probs > 0
    p = probs[alive].double()
    entropy = float(-(p * torch.log2(p)).sum()) if p.numel() else 0.0
    probe_out: dict[int, tuple[float, int | None]] = {}
    for token in probes:
        if 0 <= token < probs.numel():
            value = float(probs[token])
            rank = int((probs > probs[token]).sum()) + 1 if value > 0 else None
            probe_out[token] = (value, rank)
    return StageRow(
        name,
        tuple((int(i), float(v)) for i, v in zip(ids, values) if float(v) > 0),
        int(alive.sum()),
        0.0 if math.isnan(entropy) else entropy,
        probe_out,
        note,
    )


def stage_view(
    *,
    logits: np.ndarray,
    context_ids: Sequence[int],
    method: str,
    params: dict[str, Any] | None = None,
    top: int = 10,
    probes: Sequence[int] = (),
    tokenizer: Any = None,
) -> StageView:
    """The next-token distribution from ``logits`` (one position, ``(vocab,)``) after each stage of ``method``.

    Args:
        logits: the model's raw next-token logits at one position.
        context_ids: the ids so far (the repetition penalty and the n-gram ban read them).
        method: a decoding method key; params: its parameters (checked as for generation).
        top: how many candidates each row lists.
        probes: token ids whose probability and rank every row reports.
        tokenizer: the model's (DRY reads its sequence breakers' tokens from it; none without it).

    rsdemo's own stages (DRY, XTC, Mirostat v2 ...) join when set, and the rows follow ``sampler_order``.

    Raises:
        InputError, UnknownKeyError: parameters out of range, an unknown method.
    """
    import torch

    config = generation_config(method=method, params=params)
    scores = torch.from_numpy(np.asarray(logits, dtype=np.float32).copy()).unsqueeze(0)
    ids = torch.tensor([list(context_ids) or [0]], dtype=torch.long)
    rows = [_row("raw", scores, top, probes)]
    values = resolve_params(method=method, params=params)
    for name, processor in stages(config, values, tokenizer=tokenizer):
        before, scores = scores, processor(ids, scores.clone())
        rows.append(_row(name, scores, top, probes, _note(processor, before)))
    return StageView(method, get_method(method).samples, tuple(rows), str(values.get("sampler_order", "transformers")))
