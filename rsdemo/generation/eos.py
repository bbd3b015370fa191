"""Where a transformers run ends: the model's end-of-sequence ids, and a sequence cut at the first of them.

>>> trim_after_eos([5, 7, 2, 0, 0], {2})
[5, 7, 2]
>>> trim_after_eos([5, 7], {2})
[5, 7]
"""

from __future__ import annotations

from typing import Any

__all__ = ["eos_ids", "trim_after_eos"]


def eos_ids(tokenizer: Any, model: Any) -> set[int]:
    """Every id that ends a run: the generation config's ``eos_token_id`` (one or a list) and the tokenizer's."""
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def trim_after_eos(ids: list[int], eos: set[int]) -> list[int]:
    """A finished sequence ends at its first end-of-sequence token; what follows is batch padding."""
    for n, token in enumerate(ids):
        if token in eos:
            return ids[: n + 1]
    return ids
