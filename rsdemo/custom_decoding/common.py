"""Shared parts of the two decoding loops: parameter checks, the prefill pass and small state helpers.

>>> check_contrastive_params(penalty_alpha=0.6, top_k=4)
(0.6, 4)
>>> check_group_beam_params(num_beams=6, num_beam_groups=3, diversity_penalty=None)
(6, 3, 0.0)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from transformers.generation import (
    GenerationConfig,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = ["check_contrastive_params", "check_group_beam_params"]


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_contrastive_params(*, penalty_alpha: float | None, top_k: int | None) -> tuple[float, int]:
    """Validate the two contrastive-search parameters and return them as ``(alpha, k)``.

    Example: ``check_contrastive_params(penalty_alpha=0.6, top_k=4) == (0.6, 4)``;
    ``penalty_alpha=1.5`` or ``top_k=0`` raise.

    Args:
        penalty_alpha: weight of the degeneration penalty, in ``[0, 1]``; ``0`` is greedy decoding.
        top_k: number of candidate tokens re-ranked at each step, an integer ``>= 1``.

    Returns:
        ``(float(penalty_alpha), int(top_k))``.

    Raises:
        ValueError: ``penalty_alpha`` missing, not a number or outside ``[0, 1]``; ``top_k`` missing, not an
            integer or smaller than 1.
    """
    if penalty_alpha is None:
        raise ValueError("contrastive search needs `penalty_alpha` (a number in [0, 1]); got None.")
    if not _is_real(penalty_alpha) or not 0.0 <= float(penalty_alpha) <= 1.0:
        raise ValueError(f"`penalty_alpha` must be a number in [0, 1] for contrastive search; got {penalty_alpha!r}.")
    if top_k is None:
        raise ValueError("contrastive search needs `top_k` (an integer >= 1); got None.")
    if not _is_int(top_k) or int(top_k) < 1:
        raise ValueError(f"`top_k` must be an integer >= 1 for contrastive search; got {top_k!r}.")
    return float(penalty_alpha), int(top_k)


def check_group_beam_params(
    *, num_beams: int | None, num_beam_groups: int | None, diversity_penalty: float | None
) -> tuple[int, int, float]:
    """Validate the diverse-beam-search parameters and return ``(num_beams, num_beam_groups, diversity_penalty)``.

    Example: ``check_group_beam_params(num_beams=6, num_beam_groups=3, diversity_penalty=1.0) == (6, 3, 1.0)``
    (three groups of two beams); ``num_beams=4, num_beam_groups=3`` raises because 4 beams do not split
    into 3 equal groups. ``None`` for the last two means one group and no penalty.

    Args:
        num_beams: total number of beams, an integer ``>= 1``.
        num_beam_groups: number of groups, an integer ``>= 1`` that divides ``num_beams``.
        diversity_penalty: Hamming diversity strength, a number ``>= 0``.

    Returns:
        The three values as ``(int, int, float)``.

    Raises:
        ValueError: a value of the wrong type, ``num_beams < 1``, ``num_beam_groups < 1``, ``num_beams`` not
            divisible by ``num_beam_groups``, or ``diversity_penalty < 0``.
    """
    if not _is_int(num_beams) or int(num_beams) < 1:  # type: ignore[arg-type]
        raise ValueError(f"`num_beams` must be an integer >= 1; got {num_beams!r}.")
    beams = int(num_beams)  # type: ignore[arg-type]
    groups = 1 if num_beam_groups is None else num_beam_groups
    if not _is_int(groups) or int(groups) < 1:
        raise ValueError(f"`num_beam_groups` must be an integer >= 1; got {num_beam_groups!r}.")
    if beams % int(groups) != 0:
        raise ValueError(
            f"`num_beams` ({beams}) must be divisible by `num_beam_groups` ({groups}): "
            "every group gets num_beams // num_beam_groups beams."
        )
    penalty = 0.0 if diversity_penalty is None else diversity_penalty
    if not _is_real(penalty) or float(penalty) < 0.0:
        raise ValueError(f"`diversity_penalty` must be a number >= 0; got {diversity_penalty!r}.")
    return beams, int(groups), float(penalty)


def _first_set(keyword: Any, config: GenerationConfig, field: str) -> Any:
    """The keyword value if given, else the (possibly deprecated, possibly removed) config field."""
    return keyword if keyword is not None else getattr(config, field, None)


def _check_common(model: PreTrainedModel, generation_config: GenerationConfig, method: str) -> None:
    if getattr(model.config, "is_encoder_decoder", False):
        raise ValueError(f"{method} supports decoder-only models; {type(model).__name__} is an encoder-decoder.")
    if generation_config.do_sample is True:
        raise ValueError(
            f"{method} is deterministic: set `do_sample=False` (the model's generation config or the call "
            "has `do_sample=True`)."
        )


def _prefill(
    model: PreTrainedModel, input_ids: torch.LongTensor, generation_config: GenerationConfig, model_kwargs: dict
) -> Any:
    """The first forward pass over the prompt, done the way `generate`'s own loops do it."""
    prefill = getattr(model, "_prefill", None)
    if prefill is not None:
        return prefill(input_ids, generation_config, model_kwargs, is_first_iteration=True)
    model_inputs = model.prepare_inputs_for_generation(input_ids, is_first_iteration=True, **model_kwargs)
    return model(**model_inputs, return_dict=True)


def _has_unfinished(model: PreTrainedModel, this_peer_finished: bool, synced_gpus: bool, device: torch.device) -> bool:
    return bool(model._has_unfinished_sequences(this_peer_finished, synced_gpus, device=device))


def _cache_of(model_kwargs: Mapping[str, Any]) -> Any:
    return model_kwargs.get("cache", model_kwargs.get("past_key_values"))
