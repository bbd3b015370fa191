"""Contrastive search (Su et al. 2022) as a ``custom_generate`` callable: see ``rsdemo.custom_decoding``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers.cache_utils import Cache
from transformers.generation import (
    GenerateDecoderOnlyOutput,
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteriaList,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel
    from transformers.generation.streamers import BaseStreamer

from .common import _cache_of, _check_common, _first_set, _has_unfinished, _prefill, check_contrastive_params

__all__ = ["contrastive_search"]

# Model inputs whose first dimension is the batch and which grow with the sequence: expanded for the
# contrastive candidates (see `_expand_for_candidates`).
_PER_ROW_KWARGS = ("attention_mask", "position_ids", "token_type_ids", "mm_token_type_ids")


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

    A port of transformers' contrastive-search loop (``_contrastive_search``, now in the Hub repository
    ``transformers-community/contrastive-search``), kept in one piece on purpose, over the usual function
    length limit, so that it can be diffed against upstream.

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
