"""rsdemo's named decoding stages are transformers' own processors, in transformers' order, for every preset."""

from __future__ import annotations

import pytest
import torch
from tiny_models import build_model, build_tokenizer
from transformers.generation.logits_process import MinPLogitsWarper

from rsdemo.decoding import METHODS, generation_config
from rsdemo.generation.processors import apply, stages

SAMPLING_OR_GREEDY = [k for k, m in METHODS.items() if m.streams and m.custom is None]
EXTRA = [
    {},
    {"repetition_penalty": 1.3},
    {"no_repeat_ngram_size": 2},
    {"repetition_penalty": 1.1, "no_repeat_ngram_size": 3},
]


@pytest.fixture(scope="module")
def model():
    return build_model(build_tokenizer())


def _transformers_processors(model, config):
    from transformers import LogitsProcessorList

    return model._get_logits_processor(
        generation_config=config,
        input_ids_seq_length=5,
        encoder_input_ids=None,
        prefix_allowed_tokens_fn=None,
        logits_processor=LogitsProcessorList(),
        device="cpu",
    )


@pytest.mark.parametrize("method", SAMPLING_OR_GREEDY)
@pytest.mark.parametrize("extra", EXTRA, ids=["plain", "rep", "ngram", "both"])
def test_stages_equal_transformers_processors(model, method: str, extra: dict) -> None:
    config = generation_config(method=method, params=extra)
    config._eos_token_tensor = None
    every = _transformers_processors(model, config)
    # transformers adds a min-p stage at 0, which keeps every token: rsdemo leaves it out (the scores below are
    # computed with it, and equal ours)
    theirs = [p for p in every if not (isinstance(p, MinPLogitsWarper) and p.min_p == 0)]
    ours = [p for _, p in stages(config)]
    assert [type(p) for p in ours] == [type(p) for p in theirs]
    assert not any(isinstance(p, MinPLogitsWarper) for p in ours) or method == "min_p"
    for mine, reference in zip(ours, theirs):
        assert vars(mine).keys() == vars(reference).keys()
        for key, value in vars(mine).items():
            other = vars(reference)[key]
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other), (type(mine).__name__, key)
            else:
                assert value == other, (type(mine).__name__, key)
    # and they compute the same scores
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 300, (1, 12), generator=generator)
    scores = torch.randn(1, 300, generator=generator)
    expected = scores.clone()
    for processor in every:
        expected = processor(ids, expected)
    torch.testing.assert_close(apply(stages(config), ids, scores.clone()), expected)
