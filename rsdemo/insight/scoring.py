"""The model side of the insight views: one teacher-forced forward pass, kept small.

``score`` runs the transformers model once over a sequence and keeps, per position, the log-probability of
the token that follows, the top alternatives and (for the last position) the whole logits row: never the
``(tokens, vocabulary)`` matrix a long prompt would make. ``tests/test_insight.py`` checks the numbers
against the model's own loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Scored", "score"]

_CHUNK = 256  # positions turned into log-probabilities at a time


@dataclass(frozen=True, slots=True)
class Scored:
    """What one forward pass over ``ids`` keeps.

    Attributes:
        ids: the sequence.
        logprobs: ``logprobs[k]`` is log p(ids[k+1] | ids[:k+1]) (natural log), ``len(ids) - 1`` values.
        top_ids, top_probs: per position ``k``, the most probable next tokens after ``ids[:k+1]`` (``(len(ids), k)``).
        last_logits: the raw next-token logits after the whole sequence (``(vocab,)`` float32).
    """

    ids: tuple[int, ...]
    logprobs: np.ndarray
    top_ids: np.ndarray
    top_probs: np.ndarray
    last_logits: np.ndarray


def score(*, model: Any, ids: Sequence[int], top: int = 10) -> Scored:
    """One forward pass of a transformers causal LM over ``ids`` (its device, no gradients)."""
    import torch

    device = next(model.parameters()).device
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits[0]
        logprobs, top_ids, top_probs = [], [], []
        targets = input_ids[0, 1:]
        for start in range(0, logits.shape[0], _CHUNK):
            rows = torch.log_softmax(logits[start : start + _CHUNK].float(), dim=-1)
            values, indices = torch.topk(rows, min(top, rows.shape[-1]), dim=-1)
            top_ids.append(indices.cpu())
            top_probs.append(values.exp().cpu())
            upto = min(start + _CHUNK, targets.shape[0])
            if upto > start:
                logprobs.append(rows[: upto - start].gather(-1, targets[start:upto, None])[:, 0].cpu())
        last = logits[-1].float().cpu().numpy().copy()
    empty = torch.zeros(0)
    return Scored(
        tuple(int(i) for i in ids),
        torch.cat(logprobs).double().numpy() if logprobs else empty.numpy(),
        torch.cat(top_ids).numpy(),
        torch.cat(top_probs).float().numpy(),
        last,
    )
