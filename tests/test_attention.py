"""Attention weights on the real embedded model (SmolLM2-135M-Instruct, 9 query heads sharing 3 key/value heads).

Every layer's weights equal what transformers' own ``eager`` attention returns (on a private copy of the model:
the pooled one is never switched), layer 1 equals a computation by hand from the embeddings (RMSNorm, q_proj /
k_proj, rotary embedding, causal softmax), rows sum to 1 and nothing is above the diagonal.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rsdemo.backend import Backend
from rsdemo.core.errors import InputError
from rsdemo.insight import views
from rsdemo.insight.attention import MAX_ATTENTION_TOKENS, AttentionResult, attended_to, head_matrix

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
PROMPT = "The capital of France is Paris, and the capital of Germany is"


@pytest.fixture(scope="module")
def result(backend: Backend) -> AttentionResult:
    return views.attention(service=backend, model=MODEL, prompt=PROMPT)


@pytest.fixture(scope="module")
def model(backend: Backend):
    return backend.model(MODEL).model


def test_every_layer_equals_transformers_eager_attention(result: AttentionResult, model) -> None:
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.inference_mode():
        returned = eager(input_ids=torch.tensor([result.ids]), output_attentions=True).attentions
    assert len(returned) == len(result.layers) == 30 and result.weights.shape == (
        30,
        9,
        len(result.ids),
        len(result.ids),
    )
    for n, weights in enumerate(returned):
        np.testing.assert_allclose(result.weights[n].astype(np.float32), weights[0].numpy(), atol=1e-3)
    assert model.config._attn_implementation == "sdpa"  # the pooled model was not switched


def test_layer_one_by_hand_from_the_embeddings(result: AttentionResult, model) -> None:
    config, layer = model.config, model.model.layers[0]
    heads, kv_heads, dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
    theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta") or config.rope_theta
    with torch.inference_mode():
        e = model.model.embed_tokens.weight[list(result.ids)].double()
        norm = layer.input_layernorm
        x = e / torch.sqrt(e.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon) * norm.weight.double()
        q = (x @ layer.self_attn.q_proj.weight.double().T).view(len(result.ids), heads, dim)
        k = (x @ layer.self_attn.k_proj.weight.double().T).view(len(result.ids), kv_heads, dim)
        inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        angles = torch.arange(len(result.ids), dtype=torch.float64)[:, None] * inv_freq[None]
        cos, sin = torch.cat([angles, angles], -1).cos()[:, None], torch.cat([angles, angles], -1).sin()[:, None]

        def rope(t: torch.Tensor) -> torch.Tensor:
            half = dim // 2
            return t * cos + torch.cat([-t[..., half:], t[..., :half]], -1) * sin

        q, k = rope(q), rope(k)
        causal = torch.ones(len(result.ids), len(result.ids)).tril().bool()
        for head in range(heads):
            kv = head // (heads // kv_heads)
            assert result.kv_head[head] == kv
            scores = (q[:, head] @ k[:, kv].T) / dim**0.5
            expected = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1).numpy()
            np.testing.assert_allclose(head_matrix(result, layer=1, head=head), expected, atol=1e-3)


def test_rows_sum_to_one_and_nothing_is_attended_above_the_diagonal(result: AttentionResult) -> None:
    weights = result.weights.astype(np.float32)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=5e-3)
    upper = np.triu(np.ones(weights.shape[-2:], dtype=bool), k=1)
    assert (weights[..., upper] == 0).all()
    assert result.kv_head == (0, 0, 0, 1, 1, 1, 2, 2, 2) and result.num_kv_heads == 3
    last = len(result.ids) - 1
    mean = attended_to(result, position=last, layer=10)
    np.testing.assert_allclose(mean, weights[9, :, last].mean(0), atol=1e-6)
    assert mean.sum() == pytest.approx(1.0, abs=5e-3)


def test_one_layer_only_keeps_that_layer(backend: Backend, result: AttentionResult) -> None:
    one = views.attention(service=backend, model=MODEL, prompt=PROMPT, layer=7)
    assert one.layers == (7,) and one.weights.shape[0] == 1
    np.testing.assert_array_equal(one.weights[0], result.weights[6])
    with pytest.raises(InputError, match="Pick a layer from 7"):
        head_matrix(one, layer=8, head=0)


@pytest.mark.parametrize(
    ("prompt", "layer", "words"),
    [
        ("", None, "Type a prompt"),
        (" cat" * (MAX_ATTENTION_TOKENS + 1), None, "the most this view reads is 128"),
        ("Hello", 31, "Pick a layer from 1 to 30"),
        ("Hello", 0, "layer must be"),
    ],
)
def test_bad_requests_are_input_errors(backend: Backend, prompt: str, layer: int | None, words: str) -> None:
    with pytest.raises(InputError, match=words):
        views.attention(service=backend, model=MODEL, prompt=prompt, layer=layer)
