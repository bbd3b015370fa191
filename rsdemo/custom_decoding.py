"""Contrastive search and diverse (group) beam search, offline, as ``custom_generate`` callables.

transformers 5 moved both methods out of its core into Hub repositories
(``transformers-community/contrastive-search`` and ``transformers-community/group-beam-search``), so a
machine without the Hub cannot run them. This module implements them from the published algorithms as
local decoding loops that ``model.generate`` runs after its usual preparation (logits processors,
stopping criteria, cache, attention mask, input expansion)::

    model.generate(input_ids, custom_generate=contrastive_search, penalty_alpha=0.6, top_k=4,
                   do_sample=False, max_new_tokens=32)
    model.generate(input_ids, custom_generate=group_beam_search, num_beams=6, num_beam_groups=3,
                   diversity_penalty=1.0, do_sample=False, num_return_sequences=3, max_new_tokens=32)

What transformers 5.24 does with these settings (checked against the installed version, offline):

- ``GenerationConfig(penalty_alpha=..., top_k=...)`` and ``GenerationConfig(num_beams=...,
  num_beam_groups=..., diversity_penalty=...)`` are still accepted: the fields exist, marked
  "deprecated (moved to the Hub)", and ``get_generation_mode()`` still answers ``CONTRASTIVE_SEARCH``
  (needs ``penalty_alpha > 0`` and ``top_k > 1`` and ``do_sample`` not true) and ``GROUP_BEAM_SEARCH``
  (needs ``num_beam_groups > 1``). Their values are no longer validated: ``penalty_alpha=1.5`` passes,
  and so does ``num_beams=4, num_beam_groups=3`` even under ``validate(strict=True)``. Both functions
  here check their own parameters and raise ``ValueError`` (see :func:`check_contrastive_params` and
  :func:`check_group_beam_params`).
- ``validate(strict=True)`` rejects ``top_k != 50`` together with ``do_sample=False`` ("only used in
  sample-based generation modes"); the non-strict validation inside ``generate`` only logs it. Passing
  ``top_k`` as a keyword of ``generate`` avoids both (see below).
- Without ``custom_generate`` those modes fail offline: ``generate`` raises ``ValueError`` ("requires
  ``trust_remote_code=True``"), and with ``trust_remote_code=True`` an ``OSError`` (no
  ``custom_generate/generate.py`` can be fetched). With a callable ``custom_generate`` the Hub lookup is skipped
  and the callable is called as
  ``fn(model, input_ids, logits_processor=..., stopping_criteria=..., generation_config=...,
  **extra_kwargs, **model_kwargs)``; ``input_ids`` is already expanded to ``batch * max(num_beams,
  num_return_sequences)`` rows, the stopping criteria hold ``MaxLengthCriteria`` (from
  ``max_new_tokens``) and, when an eos token is set, ``EosTokenCriteria``, and ``generation_config`` carries
  ``_pad_token_tensor`` and ``_eos_token_tensor``.
- ``generate`` forwards to the callable every keyword argument that names a parameter of the callable's
  own signature that ``GenerationMixin._sample`` does not have (``_extract_generation_mode_kwargs``).
  So ``penalty_alpha``, ``top_k``, ``num_beam_groups`` and ``diversity_penalty`` are declared here as
  keyword-only parameters: given to ``generate`` as keywords they reach the function directly (and never
  touch the deprecated config fields, so they keep working once transformers deletes them); left out,
  the function reads them from ``generation_config``. A keyword wins over the config.
- That same helper *replaces* the usual mode kwargs by the callable's own ones, so a callable never gets
  ``streamer``, ``tokenizer`` or ``synced_gpus`` from ``generate``: ``generate(streamer=s)`` still puts the
  prompt into ``s`` but the callable sees ``streamer=None`` (and nobody calls ``s.end()``, so a
  ``TextIteratorStreamer`` would wait until its timeout). Stream contrastive search with
  ``generate(..., token_streamer=s)`` instead (and no ``streamer=``): the function puts the prompt, each
  new token and ``end()``, exactly like ``_sample``. Likewise ``stop_strings`` cannot be used (the
  tokenizer is dropped before the stopping criteria are built, so ``generate`` raises "could not locate a
  tokenizer"); pass ``stopping_criteria=StoppingCriteriaList([StopStringCriteria(tokenizer,
  stop_strings)])`` instead, which works.
- ``generate`` refuses ``streamer=`` with plain beam search, but not with a callable (the streamer is
  dropped first). :func:`group_beam_search` raises ``ValueError`` when it is handed a streamer.

Where each setting goes: ``num_beams`` (``generate`` expands the inputs by it), ``length_penalty``,
``early_stopping``, ``num_return_sequences``, ``max_new_tokens``, ``eos_token_id``/``pad_token_id``,
``do_sample=False`` and the ``output_*`` flags stay ordinary ``generate`` keywords or ``GenerationConfig``
fields; ``penalty_alpha``, ``top_k``, ``num_beam_groups``, ``diversity_penalty`` can be either, and
``token_streamer`` is a keyword only.

Both functions also run when called directly with the same arguments (``synced_gpus`` and ``streamer``
included), which is how transformers' own ``_sample`` and ``_beam_search`` are called.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers.cache_utils import Cache
from transformers.generation import (
    GenerateBeamDecoderOnlyOutput,
    GenerateDecoderOnlyOutput,
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteriaList,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel
    from transformers.generation.streamers import BaseStreamer

__all__ = [
    "CUSTOM_METHODS",
    "check_contrastive_params",
    "check_group_beam_params",
    "contrastive_search",
    "group_beam_search",
]

# Model inputs whose first dimension is the batch and which grow with the sequence: expanded for the
# contrastive candidates (see `_expand_for_candidates`).
_PER_ROW_KWARGS = ("attention_mask", "position_ids", "token_type_ids", "mm_token_type_ids")


# ---------------------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# contrastive search
# ---------------------------------------------------------------------------------------------------------


def _degeneration_penalty(
    context_hidden: torch.Tensor, context_mask: torch.Tensor, candidate_hidden: torch.Tensor
) -> torch.Tensor:
    """``max_j cos(h_v, h_j)`` for every candidate ``v``.

    Args:
        context_hidden: ``(batch, seq, hidden)`` last-layer hidden states of the tokens so far.
        context_mask: ``(batch, seq)``, 1 for real tokens and 0 for left padding (ignored).
        candidate_hidden: ``(batch, k, hidden)`` last-layer hidden state of each candidate.

    Returns:
        ``(batch, k)`` maximum cosine similarity of each candidate to the context.
    """
    context = nn.functional.normalize(context_hidden, dim=-1)
    candidates = nn.functional.normalize(candidate_hidden, dim=-1)
    cosine = torch.einsum("bkh,bsh->bks", candidates, context)
    cosine = cosine.masked_fill(~context_mask.bool()[:, None, :], float("-inf"))
    return cosine.max(dim=-1).values


def _expand_for_candidates(model_kwargs: dict[str, Any], batch_size: int, k: int) -> dict[str, Any]:
    """A copy of ``model_kwargs`` for ``batch * k`` candidate rows (row ``b * k + i`` is candidate i of row b).

    The cache is expanded in place (``batch_repeat_interleave``); the caller selects the chosen rows back.
    """
    expanded = dict(model_kwargs)
    for key in _PER_ROW_KWARGS:
        value = expanded.get(key)
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch_size:
            expanded[key] = value.repeat_interleave(k, dim=0)
    cache = _cache_of(expanded)
    if cache is not None:
        cache.batch_repeat_interleave(k)
    return expanded


def _check_cache_for_contrastive(cache: Any) -> None:
    if cache is None:
        return
    if not isinstance(cache, Cache):
        raise ValueError(f"contrastive_search needs a transformers `Cache`; got {type(cache).__name__}.")
    if cache.is_compileable or any(getattr(cache, "is_linear", [])):
        raise ValueError(
            "contrastive_search expands and selects cache rows, which a static or linear-attention cache "
            f"({type(cache).__name__}) cannot do: pass `cache_implementation='dynamic'` or `use_cache=False`."
        )


def contrastive_search(
    model: PreTrainedModel,
    input_ids: torch.LongTensor,
    logits_processor: LogitsProcessorList,
    stopping_criteria: StoppingCriteriaList,
    generation_config: GenerationConfig,
    synced_gpus: bool = False,
    streamer: BaseStreamer | None = None,
    *,
    penalty_alpha: float | None = None,
    top_k: int | None = None,
    token_streamer: BaseStreamer | None = None,
    **model_kwargs: Any,
) -> GenerateDecoderOnlyOutput | torch.LongTensor:
    """Contrastive search (Su et al. 2022, "A Contrastive Framework for Neural Text Generation").

    At each step, with ``p`` the softmax of the processed next-token logits, ``V`` the ``top_k`` most
    likely tokens, ``h_v`` the last-layer hidden state the model gives candidate ``v`` when it is appended,
    and ``h_j`` the last-layer hidden states of every token so far (prompt and generated)::

        x_t = argmax_{v in V} (1 - alpha) * p(v) - alpha * max_j cos(h_v, h_j)

    Worked example, ``alpha = 0.6``, ``top_k = 2``: candidates ``"the"`` with ``p = 0.5`` and max cosine
    ``0.9`` (it repeats the context) and ``"a"`` with ``p = 0.3`` and max cosine ``0.2``.
    Scores: ``0.4 * 0.5 - 0.6 * 0.9 = -0.34`` and ``0.4 * 0.3 - 0.6 * 0.2 = 0.0``, so ``"a"`` wins where
    greedy decoding (``alpha = 0``) would pick ``"the"``.

    The ``k`` candidates of every row run as one batch of ``batch * k`` rows on top of the cache (one
    forward pass per step); that pass gives both ``h_v`` and the next step's logits for the chosen token.
    ``alpha = 0`` reproduces greedy decoding. Rows that finished (eos) get the pad token, as in ``_sample``;
    left padding is masked out of the ``max_j``.

    Call it through ``generate``::

        model.generate(ids, custom_generate=contrastive_search, penalty_alpha=0.6, top_k=4,
                       do_sample=False, max_new_tokens=64, token_streamer=streamer)

    Args:
        model: a decoder-only transformers model (``GenerationMixin``).
        input_ids: ``(batch, prompt_len)`` prompt ids, as prepared by ``generate``.
        logits_processor: applied to the next-token logits before the softmax.
        stopping_criteria: per-row stop tests (max length, eos, stop strings, ...).
        generation_config: the prepared config; gives ``penalty_alpha``/``top_k`` when the keywords are
            not used, the pad token, and the ``output_scores``/``output_logits``/``return_dict_in_generate``
            flags.
        synced_gpus: keep running forward passes after this rank finished (FSDP / ZeRO-3).
        streamer: receives each new token (``put``) and ``end()``; the prompt is assumed already put (as
            ``generate`` does). transformers 5.24 does not pass ``generate``'s streamer to a callable, so
            use ``token_streamer`` when calling through ``generate``.
        penalty_alpha: degeneration penalty ``alpha`` in ``[0, 1]``; overrides ``generation_config``.
        top_k: number of candidates ``k >= 1``; overrides ``generation_config.top_k``.
        token_streamer: like ``streamer`` but this function also puts the prompt first.
        **model_kwargs: ``attention_mask``, ``position_ids``, ``cache``, ``use_cache``, ... from ``generate``.

    Returns:
        ``torch.LongTensor`` ``(batch, prompt_len + generated)``, or, with ``return_dict_in_generate``, a
        ``GenerateDecoderOnlyOutput`` whose ``scores`` (processed logits, with ``output_scores``) and
        ``logits`` (raw logits, with ``output_logits``) are tuples with one ``(batch, vocab)`` tensor per
        step. ``attentions``, ``hidden_states`` and ``cache`` are ``None``.

    Raises:
        ValueError: bad ``penalty_alpha``/``top_k``, ``do_sample=True``, an encoder-decoder model, two
            different streamers, eos stopping without a pad token, or a cache that cannot be expanded
            (static / linear attention).
    """
    alpha, k = check_contrastive_params(
        penalty_alpha=_first_set(penalty_alpha, generation_config, "penalty_alpha"),
        top_k=_first_set(top_k, generation_config, "top_k"),
    )
    _check_common(model, generation_config, "contrastive_search")
    if streamer is not None and token_streamer is not None and streamer is not token_streamer:
        raise ValueError("pass one streamer: `streamer` or `token_streamer`, not both.")
    if token_streamer is not None and streamer is None:
        token_streamer.put(input_ids.cpu())
        streamer = token_streamer

    pad_token_id = generation_config._pad_token_tensor
    has_eos_stopping_criteria = any(hasattr(criteria, "eos_token_id") for criteria in stopping_criteria)
    if has_eos_stopping_criteria and pad_token_id is None:
        raise ValueError("stopping on eos needs a pad token for the finished rows: set `pad_token_id`.")
    if pad_token_id is not None:
        pad_token_id = pad_token_id.to(input_ids.device)
    return_dict_in_generate = bool(generation_config.return_dict_in_generate)
    scores: tuple[torch.Tensor, ...] | None = (
        () if (return_dict_in_generate and generation_config.output_scores) else None
    )
    raw_logits: tuple[torch.Tensor, ...] | None = (
        () if (return_dict_in_generate and generation_config.output_logits) else None
    )

    model_kwargs = dict(model_kwargs)
    use_cache = bool(model_kwargs.get("use_cache", True))
    if not use_cache:
        model_kwargs.pop("cache", None)
    _check_cache_for_contrastive(_cache_of(model_kwargs))
    model_kwargs["output_hidden_states"] = True

    batch_size = input_ids.shape[0]
    device = input_ids.device
    context_mask = model_kwargs.get("attention_mask")
    if context_mask is None:
        context_mask = torch.ones_like(input_ids)

    outputs = _prefill(model, input_ids, generation_config, model_kwargs)
    model_kwargs = model._update_model_kwargs_for_generation(outputs, model_kwargs, is_encoder_decoder=False)
    if not use_cache:
        model_kwargs.pop("cache", None)
    context_hidden = outputs.hidden_states[-1].to(device=device, dtype=torch.float32)
    # a cache passed in by the caller may already hold part of the prompt: only the new positions have states
    context_mask = context_mask[:, -context_hidden.shape[1] :]
    next_logits = outputs.logits[:, -1, :].to(copy=True, dtype=torch.float32, device=device)
    del outputs
    k = min(k, next_logits.shape[-1])  # top_k larger than the vocabulary means every token

    unfinished_sequences = torch.ones(batch_size, dtype=torch.long, device=device)
    this_peer_finished = False
    rows = torch.arange(batch_size, device=device) * k
    while _has_unfinished(model, this_peer_finished, synced_gpus, device):
        next_scores = logits_processor(input_ids, next_logits)
        if not (synced_gpus and this_peer_finished):
            if scores is not None:
                scores += (next_scores,)
            if raw_logits is not None:
                raw_logits += (next_logits,)

        top_k_probs, top_k_ids = torch.topk(nn.functional.softmax(next_scores, dim=-1), k=k, dim=-1)
        candidate_ids = torch.cat([input_ids.repeat_interleave(k, dim=0), top_k_ids.reshape(-1, 1)], dim=-1)
        candidate_kwargs = _expand_for_candidates(model_kwargs, batch_size, k)
        model_inputs = model.prepare_inputs_for_generation(
            candidate_ids, next_sequence_length=1 if use_cache else None, **candidate_kwargs
        )
        candidate_outputs = model(**model_inputs, return_dict=True)
        candidate_hidden = candidate_outputs.hidden_states[-1][:, -1, :].to(device=device, dtype=torch.float32)
        candidate_hidden = candidate_hidden.reshape(batch_size, k, -1)

        penalty = _degeneration_penalty(context_hidden, context_mask, candidate_hidden)
        contrastive_score = (1.0 - alpha) * top_k_probs - alpha * penalty
        selected = contrastive_score.argmax(dim=-1)
        chosen_rows = rows + selected

        model_kwargs = model._update_model_kwargs_for_generation(
            candidate_outputs, model_kwargs, is_encoder_decoder=False
        )
        if use_cache and _cache_of(model_kwargs) is not None:
            _cache_of(model_kwargs).batch_select_indices(chosen_rows)
        else:
            model_kwargs.pop("cache", None)
        next_logits = candidate_outputs.logits[chosen_rows, -1, :].to(copy=True, dtype=torch.float32, device=device)
        context_hidden = torch.cat([context_hidden, candidate_hidden[torch.arange(batch_size), selected][:, None]], 1)
        context_mask = torch.cat([context_mask, context_mask.new_ones((batch_size, 1))], dim=-1)
        del candidate_outputs
        if synced_gpus and this_peer_finished:
            continue

        next_tokens = top_k_ids.gather(1, selected[:, None]).squeeze(1)
        if has_eos_stopping_criteria:
            next_tokens = next_tokens * unfinished_sequences + pad_token_id * (1 - unfinished_sequences)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
        unfinished_sequences = unfinished_sequences & ~stopping_criteria(input_ids, scores)
        if streamer is not None:
            streamer.put(next_tokens.cpu())
        this_peer_finished = bool(unfinished_sequences.max() == 0)

    if streamer is not None:
        streamer.end()
    if return_dict_in_generate:
        return GenerateDecoderOnlyOutput(sequences=input_ids, scores=scores, logits=raw_logits)
    return input_ids


# ---------------------------------------------------------------------------------------------------------
# diverse (group) beam search
# ---------------------------------------------------------------------------------------------------------
# Each group runs transformers 5's vectorised beam search (`GenerationMixin._beam_search`) on its own
# `group_size` beams; the helpers below are that method's helpers with the group's offset in the flat
# beam index added, so that one group reproduces `_beam_search` to the bit.


class _Group:
    """The running and finished beams of one group, shaped like `_beam_search`'s state with `group_size` beams."""

    def __init__(self, prompt: torch.Tensor, fill_value: int, max_length: int, generated: int) -> None:
        batch_size, group_size, cur_len = prompt.shape
        device = prompt.device
        self.running_sequences = torch.full(
            (batch_size, group_size, max_length), fill_value=fill_value, dtype=torch.int64, device=device
        )
        self.running_sequences[:, :, :cur_len] = prompt
        self.sequences = self.running_sequences.detach().clone()
        self.running_beam_scores = torch.zeros((batch_size, group_size), dtype=torch.float, device=device)
        self.running_beam_scores[:, 1:] = -1e9
        self.beam_scores = torch.full((batch_size, group_size), fill_value=-1e9, dtype=torch.float, device=device)
        self.is_sent_finished = torch.zeros((batch_size, group_size), dtype=torch.bool, device=device)
        self.is_early_stop_heuristic_unsatisfied = torch.ones((batch_size, 1), dtype=torch.bool, device=device)
        self.next_token_hits_stopping_criteria = torch.zeros((batch_size, group_size), dtype=torch.bool, device=device)
        self.running_beam_indices = torch.full(
            (batch_size, group_size, generated), fill_value=-1, dtype=torch.int32, device=device
        )
        self.beam_indices = self.running_beam_indices.detach().clone()


def _gather_beams(tensor: torch.Tensor, beam_indices: torch.Tensor) -> torch.Tensor:
    while len(beam_indices.shape) < len(tensor.shape):
        beam_indices = beam_indices.unsqueeze(-1)
    return torch.take_along_dim(input=tensor, indices=beam_indices, dim=1)


def _flatten(tensor: torch.Tensor) -> torch.Tensor:
    shape = list(tensor.shape)
    return torch.reshape(tensor, [shape[0] * shape[1]] + shape[2:])


def _beam_step(
    group: _Group,
    log_probs: torch.Tensor,
    *,
    beam_offset: torch.Tensor,
    stopping: Callable[[torch.Tensor], torch.Tensor],
    top_num_beam_mask: torch.Tensor,
    beams_to_keep: int,
    cur_len: int,
    decoder_prompt_len: int,
    length_penalty: float,
    early_stopping: bool | str,
) -> torch.Tensor:
    """One beam-search step of one group: `_beam_search`'s steps b (accumulate) to f (finished beams).

    Args:
        group: the group's state, updated in place.
        log_probs: ``(batch, group_size, vocab)`` processed (and diversity-penalised) log-probabilities.
        beam_offset: ``(batch, 1)`` flat index of the group's first beam for each batch row.
        stopping: the stopping criteria on ``(rows, cur_len + 1)`` sequences, one bool per row.
        top_num_beam_mask, beams_to_keep, cur_len, decoder_prompt_len, length_penalty, early_stopping: as in
            ``_beam_search``.

    Returns:
        ``(batch, group_size)`` the tokens the group chose at this step: its ``group_size`` best
        continuations, whether they go on running or just finished. These are what the Hamming diversity
        of the later groups counts.
    """
    batch_size, group_size, vocab_size = log_probs.shape
    accumulated = (log_probs + group.running_beam_scores[:, :, None]).reshape(batch_size, -1)

    # c. top-K continuations (`_get_top_k_continuations`, greedy)
    topk_log_probs, topk_indices = torch.topk(accumulated, k=beams_to_keep)
    topk_current_beam_indices = topk_indices // vocab_size
    topk_running_beam_indices = _gather_beams(group.running_beam_indices, topk_current_beam_indices)
    topk_running_sequences = _gather_beams(group.running_sequences, topk_current_beam_indices)
    topk_running_sequences[:, :, cur_len] = topk_indices % vocab_size
    topk_running_beam_indices[:, :, cur_len - decoder_prompt_len] = topk_current_beam_indices + beam_offset

    # d. which continuations hit a stopping criterion
    hits = stopping(_flatten(topk_running_sequences[:, :, : cur_len + 1])).reshape(batch_size, beams_to_keep)

    # e. running beams for the next step (`_get_running_beams_for_next_iteration`)
    topk_running_log_probs = topk_log_probs + hits.to(torch.float32) * -1.0e9
    next_topk_indices = torch.topk(topk_running_log_probs, k=group_size)[1]
    group.running_sequences = _gather_beams(topk_running_sequences, next_topk_indices)
    group.running_beam_scores = _gather_beams(topk_running_log_probs, next_topk_indices)
    group.running_beam_indices = _gather_beams(topk_running_beam_indices, next_topk_indices)

    # f. finished hypotheses (`_update_finished_beams`): score = sum_logprob / generated_len ** length_penalty
    did_top_beams_just_finish = hits & top_num_beam_mask[None, :]
    finished_scores = topk_log_probs / ((cur_len + 1 - decoder_prompt_len) ** length_penalty)
    beams_in_batch_are_full = torch.all(group.is_sent_finished, axis=-1, keepdims=True) & (early_stopping is True)
    finished_scores += beams_in_batch_are_full.to(torch.float32) * -1.0e9
    finished_scores += (~group.is_early_stop_heuristic_unsatisfied).to(torch.float32) * -1.0e9
    finished_scores += (~did_top_beams_just_finish) * -1.0e9
    merged_sequences = torch.cat((group.sequences, topk_running_sequences), dim=1)
    merged_scores = torch.cat((group.beam_scores, finished_scores), dim=1)
    merged_beam_indices = torch.cat((group.beam_indices, topk_running_beam_indices), dim=1)
    merged_is_sent_finished = torch.cat((group.is_sent_finished, did_top_beams_just_finish), dim=1)
    topk_merged_indices = torch.topk(merged_scores, k=group_size)[1]
    group.sequences = _gather_beams(merged_sequences, topk_merged_indices)
    group.beam_scores = _gather_beams(merged_scores, topk_merged_indices)
    group.beam_indices = _gather_beams(merged_beam_indices, topk_merged_indices)
    group.is_sent_finished = _gather_beams(merged_is_sent_finished, topk_merged_indices)
    group.next_token_hits_stopping_criteria = hits
    return topk_indices[:, :group_size] % vocab_size


def _early_stop_heuristic(
    group: _Group,
    *,
    cur_len: int,
    max_length: int,
    decoder_prompt_len: int,
    early_stopping: bool | str,
    length_penalty: float,
) -> torch.Tensor:
    """`_check_early_stop_heuristic`: can the best running beam still beat the worst finished one?"""
    if early_stopping == "never" and length_penalty > 0.0:
        best_hypothetical_length = max_length - decoder_prompt_len
    else:
        best_hypothetical_length = cur_len - decoder_prompt_len
    best_possible_running_score = group.running_beam_scores[:, :1] / (best_hypothetical_length**length_penalty)
    worst_finished_score = torch.where(
        group.is_sent_finished, torch.min(group.beam_scores, dim=1, keepdim=True)[0], -1.0e9
    )
    return group.is_early_stop_heuristic_unsatisfied & torch.any(
        best_possible_running_score > worst_finished_score, dim=-1, keepdim=True
    )


def _group_has_unfinished(group: _Group, early_stopping: bool | str) -> bool:
    """`_beam_search_has_unfinished_sequences` for one group."""
    improvement_possible = torch.any(group.is_early_stop_heuristic_unsatisfied)
    exists_open_beam = ~(torch.all(group.is_sent_finished) & (early_stopping is True))
    valid_continuations = ~torch.all(group.next_token_hits_stopping_criteria)
    return bool(improvement_possible & exists_open_beam & valid_continuations)


def group_beam_search(
    model: PreTrainedModel,
    input_ids: torch.LongTensor,
    logits_processor: LogitsProcessorList,
    stopping_criteria: StoppingCriteriaList,
    generation_config: GenerationConfig,
    synced_gpus: bool = False,
    streamer: BaseStreamer | None = None,
    *,
    num_beam_groups: int | None = None,
    diversity_penalty: float | None = None,
    **model_kwargs: Any,
) -> GenerateBeamDecoderOnlyOutput | torch.LongTensor:
    """Diverse beam search (Vijayakumar et al. 2016) with Hamming diversity.

    The ``num_beams`` beams are split into ``G = num_beam_groups`` groups of ``num_beams // G``. At every
    step one forward pass scores all beams; then the groups are expanded in order, and group ``g`` sees::

        log p'(v) = log p(v) - diversity_penalty * count_{g' < g}(v)

    where ``count`` is how many beams of groups ``0..g-1`` chose token ``v`` at this step, for the same
    input row (a group "chooses" its ``group_size`` best continuations of the step, whether they go on
    running or just finished on eos / at ``max_length``: the group's beam set at time t in the paper).
    Inside a group it is transformers 5's beam search with ``group_size`` beams: the top
    ``max(2, 1 + n_eos) * group_size`` continuations, eos (or any stopping criterion) moves a continuation
    to the group's finished hypotheses with score ``sum_logprob / generated_len ** length_penalty``,
    ``early_stopping`` as in ``_beam_search``. The penalty is part of the accumulated scores (as in the
    original transformers implementation). At the end the finished hypotheses of all groups are sorted
    by score and the best ``num_return_sequences`` are returned for each input row. With one group this
    is exactly ``model.generate(num_beams=N, do_sample=False)``.

    Worked example, 2 groups of 1 beam, ``diversity_penalty = 1.0``, first step with log-probs
    ``{"the": -0.5, "a": -1.2, ...}``: group 0 takes ``"the"``; group 1 sees ``"the": -1.5, "a": -1.2`` and
    takes ``"a"``. With ``diversity_penalty = 0`` both groups would start with ``"the"``.

    Call it through ``generate``::

        model.generate(ids, custom_generate=group_beam_search, num_beams=6, num_beam_groups=3,
                       diversity_penalty=1.0, do_sample=False, num_return_sequences=3,
                       return_dict_in_generate=True, output_scores=True)

    Args:
        model: a decoder-only transformers model (``GenerationMixin``).
        input_ids: ``(batch * num_beams, prompt_len)``, already expanded by ``generate``.
        logits_processor: applied to the log-softmax of all beams' logits before the diversity penalty.
        stopping_criteria: per-row stop tests (max length, eos, ...).
        generation_config: gives ``num_beams``, ``length_penalty``, ``early_stopping``,
            ``num_return_sequences``, pad/eos tokens, the output flags, and ``num_beam_groups`` /
            ``diversity_penalty`` when the keywords are not used.
        synced_gpus: keep running forward passes after this rank finished (FSDP / ZeRO-3).
        streamer: must be ``None``: beam search cannot stream (transformers refuses it too).
        num_beam_groups: number of groups ``G >= 1`` dividing ``num_beams``; overrides the config.
        diversity_penalty: Hamming penalty ``>= 0``; overrides the config.
        **model_kwargs: ``attention_mask``, ``position_ids``, ``cache``, ``use_cache``, ... from ``generate``.

    Returns:
        ``torch.LongTensor`` ``(batch * num_return_sequences, length)`` best first for each input row, or,
        with ``return_dict_in_generate``, a ``GenerateBeamDecoderOnlyOutput`` with ``sequences``,
        ``sequences_scores`` (with ``output_scores``), ``scores`` (per step ``(batch * num_beams, vocab)``
        penalised log-probs, with ``output_scores``), ``logits`` (with ``output_logits``), ``beam_indices``
        (flat beam index per generated token) and the ``cache``.

    Raises:
        ValueError: bad ``num_beams``/``num_beam_groups``/``diversity_penalty``, ``do_sample=True``, a
            streamer, an encoder-decoder model, or a model cache that cannot be reordered.
    """
    num_beams, num_groups, penalty = check_group_beam_params(
        num_beams=generation_config.num_beams,
        num_beam_groups=_first_set(num_beam_groups, generation_config, "num_beam_groups"),
        diversity_penalty=_first_set(diversity_penalty, generation_config, "diversity_penalty"),
    )
    _check_common(model, generation_config, "group_beam_search")
    if streamer is not None:
        raise ValueError("`streamer` cannot be used with (group) beam search: set `num_beams=1` to stream.")

    pad_token_id = generation_config._pad_token_tensor
    eos_token_id = generation_config._eos_token_tensor
    return_dict_in_generate = bool(generation_config.return_dict_in_generate)
    output_scores = bool(generation_config.output_scores)
    early_stopping = generation_config.early_stopping
    length_penalty = generation_config.length_penalty
    max_length = generation_config.max_length
    num_return_sequences = generation_config.num_return_sequences or 1
    if num_return_sequences > num_beams:
        raise ValueError(f"`num_return_sequences` ({num_return_sequences}) must be <= `num_beams` ({num_beams}).")

    batch_size = input_ids.shape[0] // num_beams
    cur_len = input_ids.shape[1]
    decoder_prompt_len = cur_len
    group_size = num_beams // num_groups
    device = input_ids.device
    this_peer_finished = False

    n_eos_tokens = eos_token_id.shape[0] if eos_token_id is not None else 0
    beams_to_keep = max(2, 1 + n_eos_tokens) * group_size
    top_num_beam_mask = torch.cat(
        (torch.ones((group_size), dtype=torch.bool), torch.zeros((beams_to_keep - group_size), dtype=torch.bool)),
        dim=0,
    ).to(device)

    all_scores: tuple[torch.Tensor, ...] | None = () if (return_dict_in_generate and output_scores) else None
    raw_logits: tuple[torch.Tensor, ...] | None = (
        () if (return_dict_in_generate and generation_config.output_logits) else None
    )

    output_fill_value = pad_token_id or eos_token_id[0] if eos_token_id is not None else -1
    prompt = input_ids.reshape(batch_size, num_beams, cur_len)
    groups = [
        _Group(
            prompt[:, g * group_size : (g + 1) * group_size],
            fill_value=int(output_fill_value),
            max_length=max_length,
            generated=max_length - cur_len,
        )
        for g in range(num_groups)
    ]
    # flat index (batch * num_beams + beam) of each group's first beam, per batch row
    batch_offset = torch.arange(batch_size, device=device).view(-1, 1) * num_beams
    offsets = [batch_offset + g * group_size for g in range(num_groups)]

    model_kwargs = dict(model_kwargs)
    use_cache = bool(model_kwargs.get("use_cache", True))
    flat_running_sequences = input_ids
    prefill_consumed = False
    model_outputs = _prefill(model, input_ids, generation_config, model_kwargs)

    while _has_unfinished(model, this_peer_finished, synced_gpus, device):
        if prefill_consumed:
            running = torch.cat([group.running_sequences for group in groups], dim=1)
            flat_running_sequences = _flatten(running[:, :, :cur_len])
            model_inputs = model.prepare_inputs_for_generation(
                flat_running_sequences, next_sequence_length=1 if use_cache else None, **model_kwargs
            )
            model_outputs = model(**model_inputs, return_dict=True)
        prefill_consumed = True
        model_kwargs = model._update_model_kwargs_for_generation(model_outputs, model_kwargs, is_encoder_decoder=False)
        if synced_gpus and this_peer_finished:
            continue

        logits = model_outputs.logits[:, -1, :].to(copy=True, dtype=torch.float32, device=device)
        del model_outputs
        log_probs = nn.functional.log_softmax(logits, dim=-1)
        log_probs = logits_processor(flat_running_sequences, log_probs)
        vocab_size = log_probs.shape[-1]
        # per-step scores: every group's penalised log-probs, in flat beam order (filled group by group)
        step_scores = log_probs.reshape(batch_size, num_beams, vocab_size).clone()
        token_counts = torch.zeros((batch_size, vocab_size), dtype=log_probs.dtype, device=device)

        for g, group in enumerate(groups):
            beams = slice(g * group_size, (g + 1) * group_size)
            group_log_probs = step_scores[:, beams, :]
            if g > 0 and penalty != 0.0:
                group_log_probs = group_log_probs - penalty * token_counts[:, None, :]
                step_scores[:, beams, :] = group_log_probs
            criteria_scores: tuple[torch.Tensor, ...] | None = None
            if all_scores is not None:  # what `_beam_search` hands its stopping criteria: this step included
                criteria_scores = all_scores + (step_scores.reshape(-1, vocab_size),)

            def stopping(sequences: torch.Tensor, _scores: Any = criteria_scores) -> torch.Tensor:
                return stopping_criteria(sequences, _scores)

            chosen = _beam_step(
                group,
                group_log_probs,
                beam_offset=offsets[g],
                stopping=stopping,
                top_num_beam_mask=top_num_beam_mask,
                beams_to_keep=beams_to_keep,
                cur_len=cur_len,
                decoder_prompt_len=decoder_prompt_len,
                length_penalty=length_penalty,
                early_stopping=early_stopping,
            )
            token_counts.scatter_add_(1, chosen, torch.ones_like(chosen, dtype=token_counts.dtype))

        if return_dict_in_generate:
            if raw_logits is not None:
                raw_logits += (logits.clone(),)
            if all_scores is not None:
                all_scores += (step_scores.reshape(-1, vocab_size),)

        cache = _cache_of(model_kwargs)
        if cache is not None:
            beam_idx = _flatten(
                torch.cat([group.running_beam_indices[..., cur_len - decoder_prompt_len] for group in groups], dim=1)
            )
            cache_key = "cache" if "cache" in model_kwargs else "past_key_values"
            if hasattr(model, "_reorder_cache"):
                model_kwargs[cache_key] = model._reorder_cache(cache, beam_idx)
            elif hasattr(cache, "reorder_cache"):
                cache.reorder_cache(beam_idx)
            else:
                raise ValueError(f"{type(model).__name__} cannot run beam search with a cache: it cannot be reordered.")

        cur_len = cur_len + 1
        for group in groups:
            group.is_early_stop_heuristic_unsatisfied = _early_stop_heuristic(
                group,
                cur_len=cur_len,
                max_length=max_length,
                decoder_prompt_len=decoder_prompt_len,
                early_stopping=early_stopping,
                length_penalty=length_penalty,
            )
        this_peer_finished = not any(_group_has_unfinished(group, early_stopping) for group in groups)

    # best hypotheses over all groups, best first (one group is already sorted: keep its order untouched)
    sequences = torch.cat([group.sequences for group in groups], dim=1)
    beam_scores = torch.cat([group.beam_scores for group in groups], dim=1)
    beam_indices = torch.cat([group.beam_indices for group in groups], dim=1)
    if num_groups > 1:
        order = torch.sort(beam_scores, dim=1, descending=True, stable=True).indices
        sequences = _gather_beams(sequences, order)
        beam_scores = _gather_beams(beam_scores, order)
        beam_indices = _gather_beams(beam_indices, order)
    sequences = _flatten(sequences[:, :num_return_sequences, :])
    beam_scores = _flatten(beam_scores[:, :num_return_sequences])
    beam_indices = _flatten(beam_indices[:, :num_return_sequences, :])

    max_generated_length = ((beam_indices + 1).bool()).sum(dim=1).max()
    sequences = sequences[:, : decoder_prompt_len + max_generated_length]
    beam_indices = beam_indices[:, :max_generated_length]

    if return_dict_in_generate:
        return GenerateBeamDecoderOnlyOutput(
            sequences=sequences,
            sequences_scores=beam_scores if output_scores else None,
            scores=all_scores,
            logits=raw_logits,
            beam_indices=beam_indices,
            cache=_cache_of(model_kwargs),
        )
    return sequences


CUSTOM_METHODS: Mapping[str, Callable[..., Any]] = {
    "contrastive": contrastive_search,
    "diverse_beam": group_beam_search,
}
"""The offline replacements for the decoding methods transformers 5 moved to the Hub, by rsdemo key."""
