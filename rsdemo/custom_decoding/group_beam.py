"""Diverse (group) beam search (Vijayakumar et al. 2016) as a ``custom_generate`` callable.

See ``rsdemo.custom_decoding`` for how ``generate`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers.generation import (
    GenerateBeamDecoderOnlyOutput,
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteriaList,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel
    from transformers.generation.streamers import BaseStreamer

from .common import _cache_of, _check_common, _first_set, _has_unfinished, _prefill, check_group_beam_params

__all__ = ["group_beam_search"]

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

    A port of transformers' beam-search loop (``GenerationMixin._beam_search``, run per group as in the Hub
    repository ``transformers-community/group-beam-search``), kept in one piece on purpose, over the usual
    function length limit, so that it can be diffed against upstream.

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
