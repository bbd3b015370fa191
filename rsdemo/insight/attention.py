"""Attention weights of every layer and query head over a short prompt, without touching the shared model.

The model pool shares one loaded model between runs (``generation_slots`` of them at once), and it runs with
PyTorch's fused attention (``sdpa``), which returns no weights. Switching the shared model to ``eager`` for one
call would switch it for a run in another thread as well, so this view never changes the model: one forward
pass with ``output_hidden_states`` gives each decoder layer's input, and each layer's weights are computed from
it with that layer's own modules, exactly as transformers' ``eager`` attention does::

    x = input_layernorm(h)                       # the layer's input, h = hidden_states[layer - 1]
    q, k = q_proj(x), k_proj(x)                   # per head (q_norm / k_norm first where the model has them)
    q, k = rope(q, k)                             # the model's own rotary embedding at positions 0 .. T-1
    weights = softmax(q @ repeat_kv(k).T * scaling + causal mask)

``tests/test_attention.py`` checks this against ``eager``'s own returned weights and against a hand
computation of layer 1. Grouped-query attention: query head ``h`` reads key/value head
``h // (num_attention_heads // num_key_value_heads)``.

Gemma 3 (``gemma3_text``) is the same recipe with its own parts, all taken from the layer itself: q_norm / k_norm
on each head, ``scaling`` = ``query_pre_attn_scalar ** -0.5``, and two kinds of layer (``config.layer_types``):
``sliding_attention`` layers (rotary base 10,000, a 512-token window) and ``full_attention`` ones (base 1,000,000,
no window); the rotary embedding is asked for the layer's own kind. The window is applied as the model does
(a query sees keys less than ``sliding_window`` positions back), though with at most ``MAX_ATTENTION_TOKENS``
(128) tokens it never bites. ``tests/test_gemma_attention.py`` checks it against ``eager``'s returned weights.
GPT-2-style models (a fused ``c_attn``, learned positions) are refused.

Layers are numbered from 1 (decoder layer ``k``, whose output is the logit lens' row ``k``); heads from 0, as in
the model's tensors.

>>> import numpy as np
>>> w = np.array([[[[1, 0], [0.25, 0.75]], [[1, 0], [0.75, 0.25]]]], dtype=np.float16)  # 1 layer, 2 heads
>>> result = AttentionResult("m", (5, 6), (1,), w, (0, 0), 1, {5: "a", 6: "b"})
>>> attended_to(result, position=1, layer=1).tolist()
[0.5, 0.5]
>>> head_matrix(result, layer=1, head=0)[1].tolist()
[0.25, 0.75]
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError

__all__ = [
    "MAX_ATTENTION_TOKENS",
    "AttentionResult",
    "attended_to",
    "attention_weights",
    "check_attention_model",
    "head_matrix",
]

MAX_ATTENTION_TOKENS = 128  # (layers, heads, T, T) float16 weights: 30 x 9 x 128 x 128 x 2 bytes = 8.8 MB
_KNOWN = ("llama", "mistral", "qwen2", "qwen3", "gemma3_text")  # the Llama-style attention this view computes


@dataclass(frozen=True, slots=True, eq=False)
class AttentionResult:
    """The attention weights over a prompt of ``T`` tokens.

    Attributes:
        model: the model key.
        ids: the prompt's token ids.
        layers: the layers kept, numbered from 1 (all of them, or the one asked for).
        weights: ``(len(layers), heads, T, T)`` float16; ``weights[l, h, q, k]`` is how much query position ``q``
            attends to key position ``k`` (each row sums to 1, zero above the diagonal).
        kv_head: for each query head, the key/value head it shares (grouped-query attention).
        num_kv_heads: the model's key/value heads.
        pieces: each prompt token id's text.
    """

    model: str
    ids: tuple[int, ...]
    layers: tuple[int, ...]
    weights: np.ndarray
    kv_head: tuple[int, ...]
    num_kv_heads: int
    pieces: Mapping[int, str]

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])


def _index(result: AttentionResult, layer: int) -> int:
    if layer not in result.layers:
        kept = f"{result.layers[0]} to {result.layers[-1]}" if len(result.layers) > 1 else str(result.layers[0])
        raise InputError(f"Pick a layer from {kept} (got {layer}).", field="params")
    return result.layers.index(layer)


def head_matrix(result: AttentionResult, *, layer: int, head: int) -> np.ndarray:
    """One head's ``(T, T)`` weights as float32 (no model call)."""
    if not (isinstance(head, int) and 0 <= head < result.heads):
        raise InputError(f"Pick a head from 0 to {result.heads - 1} (got {head}).", field="params")
    return result.weights[_index(result, layer), head].astype(np.float32)


def attended_to(result: AttentionResult, *, position: int, layer: int, head: int | None = None) -> np.ndarray:
    """What the token at ``position`` attended to in ``layer``: ``(T,)``, averaged over heads (or one ``head``)."""
    if not (isinstance(position, int) and 0 <= position < len(result.ids)):
        raise InputError(f"Pick a position from 0 to {len(result.ids) - 1}.", field="params")
    if head is not None:
        return head_matrix(result, layer=layer, head=head)[position]
    return result.weights[_index(result, layer), :, position].astype(np.float32).mean(axis=0)


def check_attention_model(model: Any) -> None:
    """Refuse a model whose attention this view does not compute (see ``_KNOWN``).

    Raises:
        InputError: another architecture (GPT-2's fused ``c_attn``, ...).
    """
    kind = getattr(getattr(model, "config", None), "model_type", "")
    base = getattr(model, "base_model", None)
    if kind not in _KNOWN or getattr(base, "rotary_emb", None) is None or not hasattr(base, "layers"):
        raise InputError(
            f"The attention view computes Llama-style attention ({', '.join(_KNOWN)}); this model is "
            f"{kind or type(model).__name__}.",
            field="model",
        )


def attention_weights(
    *, model: Any, ids: Sequence[int], layers: Sequence[int] | None = None
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Every query head's weights at ``layers`` (numbered from 1; default all): ``(layers, heads, T, T)`` float16.

    One forward pass with ``output_hidden_states``; the model is not changed (see the module docstring).
    Returns the weights and each query head's key/value head.
    """
    import torch

    check_attention_model(model)
    config, base = model.config, model.base_model
    heads, kv_heads = int(config.num_attention_heads), int(config.num_key_value_heads)
    group = heads // kv_heads
    count = len(base.layers)
    wanted = list(range(1, count + 1)) if layers is None else list(layers)
    device = next(model.parameters()).device
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    n = input_ids.shape[1]
    with torch.inference_mode():
        hidden = model(
            input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_hidden_states=True
        ).hidden_states
        positions = torch.arange(n, device=device)[None]
        rope: dict[str | None, Any] = {}  # per kind of layer (Gemma 3: sliding / full); one for the rest
        default_window = (
            getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
        )
        out = torch.zeros((len(wanted), heads, n, n), dtype=torch.float16)
        for slot, number in enumerate(wanted):
            layer = base.layers[number - 1]
            kind = getattr(layer.self_attn, "layer_type", None) if hasattr(base.rotary_emb, "layer_types") else None
            if kind not in rope:
                rope[kind] = base.rotary_emb(hidden[0], positions, *([kind] if kind else []))
            cos, sin = rope[kind]
            # Qwen2/3 and Gemma 3 keep a layer's window on its attention (None: a full layer); Mistral: the config's
            allowed = _mask(n, getattr(layer.self_attn, "sliding_window", default_window), device)
            q, k = _rotated_qk(layer, hidden[number - 1], cos, sin)
            k = k.repeat_interleave(group, dim=1)  # transformers' repeat_kv: query head h reads kv head h // group
            scores = torch.matmul(q.float(), k.float().transpose(2, 3)) * layer.self_attn.scaling
            scores = scores.masked_fill(~allowed, float("-inf"))
            out[slot] = torch.softmax(scores, dim=-1)[0].to(torch.float16).cpu()
    return out.numpy(), tuple(h // group for h in range(heads))


def _rotated_qk(layer: Any, h: Any, cos: Any, sin: Any) -> tuple[Any, Any]:
    """A layer's queries and keys ``(1, heads, T, head_dim)`` after its norm, projections and rotary embedding."""
    attn = layer.self_attn
    x = layer.input_layernorm(h)
    shape = (*x.shape[:-1], -1, attn.head_dim)
    q, k = attn.q_proj(x).view(shape), attn.k_proj(x).view(shape)
    if getattr(attn, "q_norm", None) is not None:  # Qwen3 and Gemma 3 normalise each head's queries and keys
        q, k = attn.q_norm(q), attn.k_norm(k)
    rotate = sys.modules[type(attn).__module__].apply_rotary_pos_emb  # the model's own
    return rotate(q.transpose(1, 2), k.transpose(1, 2), cos, sin)


def _mask(n: int, window: int | None, device: Any) -> Any:
    """Which key each query may see: itself and before (and within the sliding window, where one is set)."""
    import torch

    rows = torch.arange(n, device=device)[:, None]
    cols = torch.arange(n, device=device)[None, :]
    allowed = cols <= rows
    if window:
        allowed &= rows - cols < int(window)
    return allowed
