"""The logit lens and attention views' service functions, in the style of ``InsightService``.

Each takes ``service``: the ``InsightService`` (``Backend.insight``) or anything holding one as ``.insight`` (the
``Backend`` itself). The front functions (``logit_lens``, ``attention``) check the request before anything is
loaded, then run the model work (``lens_pass``, ``attention_pass``: a generation slot, the pooled model, one
forward pass). On ZeroGPU pass ``run=`` the model work wrapped in ``spaces.GPU`` (``gpu_entry_point``); elsewhere
it runs as is. Re-reading the kept numbers (a cell's top 10, a probe word) is ``lens_probe`` and the pure
functions of ``rsdemo.insight.lens`` / ``rsdemo.insight.attention``: no slot, no forward pass.

>>> _layer_labels(3)
('emb', '1', '2', '3')
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..arguments import whole
from ..catalog import MODELS
from ..core.errors import InputError
from ..generation import PromptInfo, build_prompt
from ..generation.results import make_token
from ..generation.transformers_engine import bundle_adapter
from .attention import MAX_ATTENTION_TOKENS, AttentionResult, attention_weights, check_attention_model
from .lens import LensProbe, LensResult, lens_arrays, probe
from .service import _document, _probe_ids

__all__ = ["attention", "attention_pass", "kept_lens", "lens_pass", "lens_probe", "logit_lens"]

KEPT_VIEWS = 8  # lens results kept per service: a cell or a probe on a kept prompt re-reads them

Progress = Callable[[str], None]


def _insight(service: Any) -> Any:
    return getattr(service, "insight", service)


def _checked(insight: Any, *, model: str, prompt: str, what: str) -> str:
    """The resolved model key, once the prompt and the model are known to be usable (nothing loaded yet)."""
    name = insight.usable_model(model=model, prompt=prompt, doing="to look inside", what=what)
    insight._precheck(name)  # an unusable Hub fails now, not after waiting for a slot
    return name


def logit_lens(
    *,
    service: Any,
    model: str,
    prompt: str,
    chat: bool = False,
    progress: Progress | None = None,
    run: Callable[..., LensResult] | None = None,
) -> LensResult:
    """The logit lens over a prompt of at most ``max_scored_tokens`` tokens (one forward pass).

    Raises:
        InputError: an empty prompt, one over ``max_scored_tokens`` tokens, a model only a server has.
        UnknownKeyError: an unknown model key; HubError, AssetMissingError, CapacityError: as for generation.
    """
    insight = _insight(service)
    name = _checked(insight, model=model, prompt=prompt, what="The logit lens")
    return (run or lens_pass)(service=insight, model=name, prompt=prompt, chat=chat, progress=progress)


def kept_lens(
    *,
    service: Any,
    model: str,
    prompt: str,
    chat: bool = False,
    progress: Progress | None = None,
    run: Callable[..., LensResult] | None = None,
) -> LensResult:
    """``logit_lens``, kept: the same model, prompt and chat setting again re-read the kept result (the last
    ``KEPT_VIEWS`` of them), with no forward pass. ``/lens_probe`` and the page's cell clicks use it."""
    insight = _insight(service)
    name = insight.choice.resolve_model(model)
    key = ("lens", name, prompt, bool(chat))
    kept = insight.kept_views
    found = kept.get(key)
    if found is not None:
        with contextlib.suppress(KeyError):  # another thread dropped it meanwhile: still the right result
            kept.move_to_end(key)
        return found
    result = logit_lens(service=insight, model=name, prompt=prompt, chat=chat, progress=progress, run=run)
    kept[key] = result
    while len(kept) > KEPT_VIEWS:
        with contextlib.suppress(KeyError):
            kept.popitem(last=False)
    return result


def lens_pass(*, service: Any, model: str, prompt: str, chat: bool, progress: Progress | None) -> LensResult:
    """The model work of ``logit_lens`` (``model`` already resolved): a slot, the model, one forward pass."""
    insight = _insight(service)
    with insight.admission.slot(), insight.models.in_use("transformers", model, progress) as bundle:
        info = _prompt(bundle, model=model, prompt=prompt, chat=chat, limit=insight.settings.max_scored_tokens)
        arrays = lens_arrays(model=bundle.model, ids=info.ids)
        pieces = _pieces(bundle, [*info.ids, *np.unique(arrays.top_ids).tolist()])
    return LensResult(
        model,
        info.ids,
        _layer_labels(arrays.top_ids.shape[1] - 1),
        arrays.top_ids,
        arrays.top_logprobs,
        arrays.final_ids,
        arrays.final_rank,
        arrays.final_logprob,
        arrays.last_logprobs,
        pieces,
    )


def lens_probe(
    *, service: Any, result: LensResult, probes: str | Iterable[str], position: int | None = None
) -> tuple[LensProbe, ...]:
    """Words or tokens (one per line, at most 8) through the lens' rows at a position, from the kept numbers.

    Each becomes its first token, as typed and (for a word with no leading space) with one: ``"Paris"`` is
    followed as ``Paris`` and as `` Paris``, which is what usually follows a prompt. At the last position (the
    default) every row is known; elsewhere only each cell's top 10 (see ``rsdemo.insight.lens.probe_curve``).
    The tokenizer comes from the pooled model (no forward pass).
    """
    insight = _insight(service)
    where = len(result.ids) - 1 if position in (None, -1) else whole(position, name="position", minimum=0)
    bundle = insight.generation.model(result.model)
    typed = _probe_ids(bundle.tokenizer, list(probes) if not isinstance(probes, str) else probes)
    adapter = bundle_adapter(bundle)
    return tuple(
        probe(result, text=text, token_id=i, piece=make_token(adapter, i, 0.0).text, position=where)
        for text, i in typed
    )


def attention(
    *,
    service: Any,
    model: str,
    prompt: str,
    layer: int | None = None,
    chat: bool = False,
    progress: Progress | None = None,
    run: Callable[..., AttentionResult] | None = None,
) -> AttentionResult:
    """Every query head's attention weights at every layer (or at ``layer``, numbered from 1) over a prompt of at
    most ``MAX_ATTENTION_TOKENS`` tokens.

    Raises:
        InputError: an empty prompt, one over ``MAX_ATTENTION_TOKENS`` tokens, a layer out of range, a model
            whose attention this view does not compute.
        UnknownKeyError: an unknown model key; HubError, AssetMissingError, CapacityError: as for generation.
    """
    insight = _insight(service)
    if layer is not None:
        layer = whole(layer, name="layer", minimum=1)
    name = _checked(insight, model=model, prompt=prompt, what="The attention view")
    return (run or attention_pass)(service=insight, model=name, prompt=prompt, layer=layer, chat=chat,
                                   progress=progress)  # fmt: skip


def attention_pass(
    *, service: Any, model: str, prompt: str, layer: int | None, chat: bool, progress: Progress | None
) -> AttentionResult:
    """The model work of ``attention`` (``model`` already resolved): a slot, the model, one forward pass."""
    insight = _insight(service)
    with insight.admission.slot(), insight.models.in_use("transformers", model, progress) as bundle:
        check_attention_model(bundle.model)
        count = len(bundle.model.base_model.layers)
        if layer is not None and not 1 <= layer <= count:
            raise InputError(f"Pick a layer from 1 to {count} (got {layer}).", field="params")
        info = _prompt(bundle, model=model, prompt=prompt, chat=chat, limit=MAX_ATTENTION_TOKENS)
        weights, kv_head = attention_weights(
            model=bundle.model, ids=info.ids, layers=None if layer is None else [layer]
        )
        pieces = _pieces(bundle, info.ids)
        kv_heads = int(bundle.model.config.num_key_value_heads)
    layers = tuple(range(1, count + 1)) if layer is None else (layer,)
    return AttentionResult(model, info.ids, layers, weights, kv_head, kv_heads, pieces)


def _prompt(bundle: Any, *, model: str, prompt: str, chat: bool, limit: int) -> PromptInfo:
    """The ids the model reads (as the Inside tab builds them), at most ``limit`` of them."""
    info = _document(
        build_prompt(tokenizer=bundle.tokenizer, prompt=prompt, chat=bool(chat)),
        tokenizer=bundle.tokenizer,
        spec=MODELS.get(model, None),
    )
    if len(info.ids) > limit:
        raise InputError(
            f"The prompt is {len(info.ids):,} tokens; the most this view reads is {limit:,}. Shorten it.",
            field="prompt",
        )
    return info


def _pieces(bundle: Any, ids: Iterable[int]) -> dict[int, str]:
    """Each token id's own text (U+FFFD for part of a character), as the token views show it."""
    adapter = bundle_adapter(bundle)
    return {int(i): make_token(adapter, int(i), 0.0).text for i in dict.fromkeys(int(i) for i in ids)}


def _layer_labels(layers: int) -> tuple[str, ...]:
    return ("emb", *(str(k) for k in range(1, layers + 1)))
