"""The logit lens on the real embedded model (SmolLM2-135M-Instruct): each row checked against a direct computation.

The last row is the model's own next-token distribution (a plain forward pass); a middle row is ``RMSNorm(h) @
W_U.T`` computed by hand from the hidden state; the embeddings row is the same over ``embed_tokens``. Bad requests
fail with typed errors before or without a forward pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rsdemo.backend import Backend
from rsdemo.core.errors import InputError, UnknownKeyError
from rsdemo.insight import views
from rsdemo.insight.lens import TOP_K, LensResult, cell, probe_curve

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
PROMPT = "The capital of France is Paris, and the capital of Germany is"


@pytest.fixture(scope="module")
def result(backend: Backend) -> LensResult:
    return views.logit_lens(service=backend, model=MODEL, prompt=PROMPT)


@pytest.fixture(scope="module")
def model(backend: Backend):
    return backend.model(MODEL).model


def _log_softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(logits.double(), dim=-1).numpy()


def test_the_last_row_is_the_models_own_next_token_distribution(result: LensResult, model) -> None:
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([result.ids])).logits[0]
    expected = _log_softmax(logits)
    assert result.layers[0] == "emb" and result.layers[-1] == "30" and len(result.layers) == 31
    for position in range(len(result.ids)):
        order = np.argsort(-expected[position])[:TOP_K]
        assert result.top_ids[position, -1].tolist() == order.tolist()
        np.testing.assert_allclose(result.top_logprobs[position, -1], expected[position, order], atol=2e-5)
        assert result.final_ids[position] == order[0]
        assert result.final_rank[position, -1] == 1
    np.testing.assert_allclose(result.last_logprobs[-1], expected[-1], atol=1e-4)
    assert result.pieces[int(result.final_ids[-1])] == " Berlin"  # the real model's answer


def test_a_middle_cell_is_the_final_norm_and_unembedding_of_its_hidden_state_by_hand(result: LensResult, model) -> None:
    layer, position = 15, 5
    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([result.ids]), output_hidden_states=True).hidden_states
        h = hidden[layer][0, position].double()
        norm = model.model.norm
        normed = h / torch.sqrt(h.pow(2).mean() + norm.variance_epsilon) * norm.weight.double()
        logits = normed @ model.lm_head.weight.double().T
    expected = _log_softmax(logits)
    order = np.argsort(-expected)[:TOP_K]
    assert [i for i, _ in cell(result, position=position, layer=layer)] == order.tolist()
    np.testing.assert_allclose(result.top_logprobs[position, layer], expected[order], atol=1e-4)
    final = int(result.final_ids[position])
    assert result.final_rank[position, layer] == 1 + int((expected > expected[final]).sum())
    assert result.final_logprob[position, layer] == pytest.approx(expected[final], abs=1e-4)


def test_the_embeddings_row_reads_the_input_embeddings_through_the_final_norm(result: LensResult, model) -> None:
    with torch.inference_mode():
        e = model.model.embed_tokens.weight[list(result.ids)].double()
        norm = model.model.norm
        normed = e / torch.sqrt(e.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon) * norm.weight.double()
        expected = _log_softmax(normed @ model.lm_head.weight.double().T)
    for position in range(len(result.ids)):
        assert result.top_ids[position, 0, 0] == int(np.argmax(expected[position]))


def test_a_probe_at_the_last_position_reads_every_row_and_elsewhere_only_the_top_ten(
    backend: Backend, result: LensResult
) -> None:
    found = {p.text: p for p in views.lens_probe(service=backend, result=result, probes="Berlin")}
    berlin = found[" Berlin"]
    assert berlin.token_id == int(result.final_ids[-1]) and berlin.exact
    assert berlin.ranks == tuple(int(r) for r in result.final_rank[-1])
    np.testing.assert_allclose(berlin.probs, np.exp(result.final_logprob[-1]), rtol=1e-5)
    assert berlin.rises_at is not None and berlin.ranks[berlin.rises_at :] == (1,) * (31 - berlin.rises_at)
    probs, ranks, exact = probe_curve(result, token_id=int(result.final_ids[3]), position=3)
    assert not exact and ranks[-1] == 1 and all(r is None or 1 <= r <= TOP_K for r in ranks)
    assert probs[-1] == pytest.approx(float(np.exp(result.final_logprob[3, -1])), rel=1e-5)


def test_the_shared_model_is_left_as_it_was(result: LensResult, model) -> None:
    assert model.config._attn_implementation == "sdpa" and model.config.output_hidden_states is False


@pytest.mark.parametrize(
    ("prompt", "error", "words"),
    [
        ("", InputError, "Type a prompt"),
        ("   \n", InputError, "Type a prompt"),
        (" cat" * 2100, InputError, "the most this view reads is 2,048"),
    ],
)
def test_bad_prompts_are_refused_with_typed_errors(backend: Backend, prompt: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        views.logit_lens(service=backend, model=MODEL, prompt=prompt)
    assert caught.value.field == "prompt"


def test_an_unknown_model_is_refused_before_anything_loads(backend: Backend) -> None:
    with pytest.raises(UnknownKeyError, match="Unknown model 'no-such-model'"):
        views.logit_lens(service=backend, model="no-such-model", prompt="Hello")
    assert "no-such-model" not in backend.models.loaded_names()


def test_a_cell_out_of_range_is_an_input_error(result: LensResult) -> None:
    with pytest.raises(InputError, match="from 0 \\(the embeddings\\) to 30"):
        cell(result, position=0, layer=31)
    with pytest.raises(InputError, match="Pick a position"):
        cell(result, position=len(result.ids), layer=0)


def test_the_cli_prints_the_grid_and_its_json(backend: Backend) -> None:
    import io
    import json

    from rsdemo.cli import main

    out = io.StringIO()
    assert main(["lens", "--json", "--probe", "Paris", "The capital of France is"], stdout=out) == 0
    reply = json.loads(out.getvalue())
    assert len(reply["cells"]) == len(reply["ids"]) and all(len(row) == 31 for row in reply["cells"])
    assert [row[-1]["id"] for row in reply["cells"]] == [f["id"] for f in reply["final"]]
    assert all(row[-1]["final_rank"] == 1 for row in reply["cells"])
    assert {p["text"] for p in reply["probes"]} == {"Paris", " Paris"} and reply["final"][-1]["text"] == " Paris"
    text = io.StringIO()
    assert main(["lens", "--every", "10", "The capital of France is"], stdout=text) == 0
    assert text.getvalue().split("\n")[0].split() == ["token", "emb", "10", "20", "30"]
    att = io.StringIO()
    assert main(["attention", "--layer", "3", "--head", "4", "--json", "The capital of France is"], stdout=att) == 0
    weights = json.loads(att.getvalue())
    assert weights["kv_head"][4] == 1 and sum(weights["attended_to"]) == pytest.approx(1.0, abs=2e-3)
