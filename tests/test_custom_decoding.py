"""Contrastive search and diverse beam search (rsdemo.custom_decoding) on tiny random models built here.

Each method is checked three ways: against transformers' own loop where they must agree (alpha = 0 is
greedy, one group is beam search), against a slow reference written straight from the paper's formula
(full recompute, no cache), and for the behaviour the method exists for (the penalty changes the text,
the groups start differently).
"""

from __future__ import annotations

import os
import string
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessorList,
    PreTrainedTokenizerFast,
    StoppingCriteriaList,
    StopStringCriteria,
)
from transformers.generation.streamers import BaseStreamer  # noqa: E402

from rsdemo.custom_decoding import (  # noqa: E402
    CUSTOM_METHODS,
    check_contrastive_params,
    check_group_beam_params,
    contrastive_search,
    group_beam_search,
)

VOCAB = 64
PROMPTS = [[5, 9, 3, 17], [40, 2, 11], [7, 7, 1, 30, 22, 8, 13], [60]]


def _llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    return LlamaForCausalLM(config).to(torch.float32).eval()


def _gpt2() -> GPT2LMHeadModel:
    torch.manual_seed(1)
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=128, n_embd=32, n_layer=2, n_head=4, bos_token_id=None, eos_token_id=None
    )
    return GPT2LMHeadModel(config).to(torch.float32).eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and do not thrash a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {"llama": _llama(), "gpt2": _gpt2()}


@pytest.fixture(params=["llama", "gpt2"])
def model(request: pytest.FixtureRequest, models: dict[str, torch.nn.Module]) -> torch.nn.Module:
    return models[request.param]


def _ids(prompt: list[int]) -> torch.Tensor:
    return torch.tensor([prompt])


def _greedy(model, prompt: list[int], max_new_tokens: int, **kwargs) -> torch.Tensor:
    return model.generate(_ids(prompt), do_sample=False, max_new_tokens=max_new_tokens, **kwargs)


def _contrastive(model, prompt: list[int], max_new_tokens: int, alpha: float, k: int, **kwargs):
    return model.generate(
        _ids(prompt),
        custom_generate=contrastive_search,
        penalty_alpha=alpha,
        top_k=k,
        do_sample=False,
        max_new_tokens=max_new_tokens,
        **kwargs,
    )


class Collector(BaseStreamer):
    """Keeps every ``put()`` and counts ``end()``: what a TextStreamer would receive."""

    def __init__(self) -> None:
        self.chunks: list[torch.Tensor] = []
        self.ended = 0

    def put(self, value: torch.Tensor) -> None:
        self.chunks.append(value.clone())

    def end(self) -> None:
        self.ended += 1

    def joined(self) -> list[int]:
        return [int(i) for chunk in self.chunks for i in chunk.reshape(-1)]


# ---------------------------------------------------------------------------------------------------------
# slow references, straight from the papers
# ---------------------------------------------------------------------------------------------------------


@torch.no_grad()
def reference_contrastive(model, prompt: list[int], steps: int, alpha: float, k: int) -> list[int]:
    """Su et al. 2022: argmax over the top-k of (1 - alpha) p(v) - alpha max_j cos(h_v, h_j), no cache."""
    ids = list(prompt)
    for _ in range(steps):
        out = model(torch.tensor([ids]), output_hidden_states=True)
        probs = torch.softmax(out.logits[0, -1].float(), dim=-1)
        context = out.hidden_states[-1][0]
        best, best_score = None, float("-inf")
        top = torch.topk(probs, k)
        for p, v in zip(top.values.tolist(), top.indices.tolist()):
            h_v = model(torch.tensor([ids + [v]]), output_hidden_states=True).hidden_states[-1][0, -1]
            penalty = max(float(torch.nn.functional.cosine_similarity(h_v, h_j, dim=0)) for h_j in context)
            score = (1 - alpha) * p - alpha * penalty
            if score > best_score:
                best, best_score = v, score
        ids.append(best)
    return ids


@torch.no_grad()
def reference_diverse_beam(
    model, prompt: list[int], *, num_beams: int, groups: int, penalty: float, length_penalty: float, steps: int
) -> list[tuple[float, list[int]]]:
    """Vijayakumar et al. 2016, Hamming diversity, no eos: every hypothesis runs exactly `steps` tokens.

    Group g's log-probs are lowered by penalty * (how often groups 0..g-1 chose the token this step); each
    group keeps its best num_beams // groups continuations. Returns (sum_logprob / steps**length_penalty,
    ids) over all groups, best first.
    """
    size = num_beams // groups
    beams = [[(torch.tensor(0.0), list(prompt))] for _ in range(groups)]
    for _ in range(steps):
        counts: Counter[int] = Counter()
        for g in range(groups):
            candidates = []
            for score, ids in beams[g]:
                log_probs = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), dim=-1)
                used = torch.tensor([float(counts[v]) for v in range(VOCAB)])
                totals = (log_probs - penalty * used) + score
                candidates += [(totals[v], ids + [v]) for v in range(VOCAB)]
            candidates.sort(key=lambda c: float(c[0]), reverse=True)
            beams[g] = candidates[:size]
            counts.update(ids[-1] for _, ids in beams[g])
    final = [(float(score) / steps**length_penalty, ids) for group in beams for score, ids in group]
    return sorted(final, key=lambda c: c[0], reverse=True)


# ---------------------------------------------------------------------------------------------------------
# registry and parameters
# ---------------------------------------------------------------------------------------------------------


def test_registry_names_the_two_methods():
    assert dict(CUSTOM_METHODS) == {"contrastive": contrastive_search, "diverse_beam": group_beam_search}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"penalty_alpha": 1.5, "top_k": 4}, r"`penalty_alpha` must be a number in \[0, 1\]"),
        ({"penalty_alpha": -0.1, "top_k": 4}, r"`penalty_alpha` must be a number in \[0, 1\]"),
        ({"penalty_alpha": True, "top_k": 4}, r"`penalty_alpha` must be a number"),
        ({"penalty_alpha": None, "top_k": 4}, r"needs `penalty_alpha`"),
        ({"penalty_alpha": 0.5, "top_k": 0}, r"`top_k` must be an integer >= 1"),
        ({"penalty_alpha": 0.5, "top_k": 2.5}, r"`top_k` must be an integer >= 1"),
    ],
)
def test_contrastive_rejects_bad_parameters(models, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_contrastive_params(**kwargs)
    call = {key: value for key, value in kwargs.items() if value is not None}
    with pytest.raises(ValueError, match=message):
        models["llama"].generate(_ids(PROMPTS[0]), custom_generate=contrastive_search, max_new_tokens=3, **call)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_beams": 4, "num_beam_groups": 3, "diversity_penalty": 1.0}, r"`num_beams` \(4\) must be divisible"),
        ({"num_beams": 4, "num_beam_groups": 0, "diversity_penalty": 1.0}, r"`num_beam_groups` must be an integer"),
        ({"num_beams": 4, "num_beam_groups": 2, "diversity_penalty": -1.0}, r"`diversity_penalty` must be a number"),
    ],
)
def test_group_beam_rejects_bad_parameters(models, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_group_beam_params(**kwargs)
    with pytest.raises(ValueError, match=message):
        models["llama"].generate(
            _ids(PROMPTS[0]), custom_generate=group_beam_search, do_sample=False, max_new_tokens=3, **kwargs
        )


def test_both_methods_refuse_sampling_and_beam_search_refuses_a_streamer(models):
    llama = models["llama"]
    with pytest.raises(ValueError, match="do_sample=False"):
        llama.generate(
            _ids(PROMPTS[0]),
            custom_generate=contrastive_search,
            penalty_alpha=0.5,
            top_k=4,
            do_sample=True,
            max_new_tokens=3,
        )
    with pytest.raises(ValueError, match="do_sample=False"):
        llama.generate(
            _ids(PROMPTS[0]), custom_generate=group_beam_search, num_beams=2, do_sample=True, max_new_tokens=3
        )
    config = GenerationConfig(num_beams=2, max_length=8)
    with pytest.raises(ValueError, match="`streamer` cannot be used"):
        group_beam_search(
            llama,
            _ids(PROMPTS[0]).repeat(2, 1),
            LogitsProcessorList(),
            StoppingCriteriaList(),
            config,
            streamer=Collector(),
        )


# ---------------------------------------------------------------------------------------------------------
# contrastive search
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_new_tokens", [1, 7, 20])
def test_contrastive_with_alpha_zero_is_greedy(model, max_new_tokens):
    for prompt in PROMPTS:
        expected = _greedy(model, prompt, max_new_tokens)
        got = _contrastive(model, prompt, max_new_tokens, alpha=0.0, k=5)
        assert got.tolist() == expected.tolist(), prompt


@pytest.mark.parametrize(("alpha", "k"), [(0.6, 4), (0.3, 6), (1.0, 3)])
def test_contrastive_matches_the_slow_reference(model, alpha, k):
    for prompt in PROMPTS[:3]:
        expected = reference_contrastive(model, prompt, steps=8, alpha=alpha, k=k)
        assert _contrastive(model, prompt, 8, alpha, k)[0].tolist() == expected, prompt
        # the no-cache path (full recompute for the candidates) gives the same tokens
        assert _contrastive(model, prompt, 8, alpha, k, use_cache=False)[0].tolist() == expected, prompt


def test_top_k_above_the_vocabulary_means_every_token(models):
    llama = models["llama"]
    expected = reference_contrastive(llama, PROMPTS[0], steps=4, alpha=0.6, k=VOCAB)
    assert _contrastive(llama, PROMPTS[0], 4, alpha=0.6, k=VOCAB + 36)[0].tolist() == expected


def test_the_degeneration_penalty_changes_the_text(model):
    changed, distinct_greedy, distinct_contrastive = 0, 0, 0
    for prompt in PROMPTS:
        greedy = _greedy(model, prompt, 20)[0, len(prompt) :].tolist()
        contrastive = _contrastive(model, prompt, 20, alpha=0.6, k=5)[0, len(prompt) :].tolist()
        changed += greedy != contrastive
        distinct_greedy += len(set(greedy))
        distinct_contrastive += len(set(contrastive))
    assert changed >= 1
    # what the penalty is for: fewer repeats of what is already in the context
    assert distinct_contrastive > distinct_greedy


def test_contrastive_parameters_from_generation_config_or_keywords(models):
    llama = models["llama"]
    by_keywords = _contrastive(llama, PROMPTS[0], 10, alpha=0.6, k=4)
    config = GenerationConfig(penalty_alpha=0.6, top_k=4, do_sample=False, max_new_tokens=10)
    by_config = llama.generate(_ids(PROMPTS[0]), generation_config=config, custom_generate=contrastive_search)
    assert by_config.tolist() == by_keywords.tolist()
    # a keyword wins over the config
    greedy_config = GenerationConfig(penalty_alpha=0.0, top_k=4, do_sample=False, max_new_tokens=10)
    overridden = llama.generate(
        _ids(PROMPTS[0]), generation_config=greedy_config, custom_generate=contrastive_search, penalty_alpha=0.6
    )
    assert overridden.tolist() == by_keywords.tolist()
    assert by_keywords.tolist() != _greedy(llama, PROMPTS[0], 10).tolist()


def test_contrastive_streams_every_token_through_token_streamer(model):
    streamer = Collector()
    out = _contrastive(model, PROMPTS[0], 12, alpha=0.6, k=4, token_streamer=streamer)
    assert streamer.joined() == out[0].tolist()
    assert len(streamer.chunks) == 1 + 12  # the prompt, then one put per new token
    assert streamer.ended == 1


def test_generate_does_not_hand_its_streamer_to_a_callable(models):
    """transformers 5.24 puts the prompt into `generate(streamer=...)` and then drops it for a callable.

    If this starts failing, transformers forwards the streamer now: update the module docstring.
    """
    streamer = Collector()
    out = models["llama"].generate(
        _ids(PROMPTS[0]),
        custom_generate=contrastive_search,
        penalty_alpha=0.6,
        top_k=4,
        do_sample=False,
        max_new_tokens=5,
        streamer=streamer,
    )
    assert out.shape[1] == len(PROMPTS[0]) + 5
    assert streamer.joined() == PROMPTS[0]
    assert streamer.ended == 0


def _eos_and_pad_case(model, prompts, alpha, k, steps):
    """An eos token that row 0 emits (first at generated position >= 2) and row 1 never emits."""
    rows = [_contrastive(model, p, steps, alpha, k)[0, len(p) :].tolist() for p in prompts]
    for position, token in enumerate(rows[0]):
        if position >= 2 and token not in rows[0][:position] and token not in rows[1]:
            return rows, position, token
    raise AssertionError(f"no usable eos token in {rows}")


def test_contrastive_stops_at_eos_and_pads_finished_rows(model):
    prompts = [PROMPTS[0], [33, 12, 50, 4]]
    rows, position, eos = _eos_and_pad_case(model, prompts, alpha=0.6, k=4, steps=12)
    pad = 63 if eos != 63 else 62
    # one row: generation ends with the eos token
    single = _contrastive(model, prompts[0], 12, 0.6, 4, eos_token_id=eos, pad_token_id=pad)[0, 4:].tolist()
    assert single == rows[0][: position + 1]
    # two rows: the finished row is padded while the other one runs to max_new_tokens
    batch = model.generate(
        torch.tensor(prompts),
        custom_generate=contrastive_search,
        penalty_alpha=0.6,
        top_k=4,
        do_sample=False,
        max_new_tokens=12,
        eos_token_id=eos,
        pad_token_id=pad,
    )[:, 4:].tolist()
    assert batch[0] == rows[0][: position + 1] + [pad] * (12 - position - 1)
    assert batch[1] == rows[1]


def _char_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    chars = string.ascii_letters + string.digits + "!?"
    backend = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token="!"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    assert len(tokenizer) == VOCAB
    return tokenizer


def test_contrastive_stops_on_a_stop_string_criterion(models):
    llama, tokenizer = models["llama"], _char_tokenizer()
    full = _contrastive(llama, PROMPTS[0], 12, 0.6, 4)[0, 4:].tolist()
    text = tokenizer.decode(full)
    stop = text[3:5]
    assert stop not in text[:4]
    criteria = StoppingCriteriaList([StopStringCriteria(tokenizer=tokenizer, stop_strings=[stop])])
    out = _contrastive(llama, PROMPTS[0], 12, 0.6, 4, stopping_criteria=criteria)[0, 4:].tolist()
    assert out == full[:5]
    assert tokenizer.decode(out).endswith(stop)
    # `stop_strings=` cannot work with a callable in transformers 5.24: the tokenizer is dropped
    with pytest.raises(ValueError, match="could not locate a tokenizer"):
        _contrastive(llama, PROMPTS[0], 12, 0.6, 4, stop_strings=[stop], tokenizer=tokenizer)


def test_contrastive_returns_scores_and_logits_like_greedy(model):
    prompt = PROMPTS[2]
    flags = {"return_dict_in_generate": True, "output_scores": True, "output_logits": True}
    greedy = _greedy(model, prompt, 6, **flags)
    got = _contrastive(model, prompt, 6, alpha=0.0, k=4, **flags)
    assert type(got).__name__ == "GenerateDecoderOnlyOutput"
    assert torch.equal(got.sequences, greedy.sequences)
    assert len(got.scores) == len(got.logits) == 6
    for ours, theirs in zip(got.scores + got.logits, greedy.scores + greedy.logits):
        assert ours.shape == (1, VOCAB)
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    plain = _contrastive(model, prompt, 6, alpha=0.6, k=4, return_dict_in_generate=True)
    assert plain.scores is None and plain.logits is None
    assert torch.equal(plain.sequences, _contrastive(model, prompt, 6, alpha=0.6, k=4))


def test_contrastive_left_padded_batch_equals_one_prompt_at_a_time(model):
    prompts = PROMPTS[:3]
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    batch = model.generate(
        ids,
        attention_mask=mask,
        custom_generate=contrastive_search,
        penalty_alpha=0.6,
        top_k=5,
        do_sample=False,
        max_new_tokens=10,
        pad_token_id=0,
    )
    for row, prompt in zip(batch, prompts):
        assert row[width:].tolist() == _contrastive(model, prompt, 10, 0.6, 5)[0, len(prompt) :].tolist()


# ---------------------------------------------------------------------------------------------------------
# diverse (group) beam search
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length_penalty", "early_stopping"), [(1.0, False), (0.0, True), (2.0, False), (-0.5, "never")]
)
def test_one_group_is_transformers_beam_search(model, length_penalty, early_stopping):
    prompts = [PROMPTS[0], [33, 12, 50, 4]]
    eos = _greedy(model, prompts[0], 6)[0, 4 + 2].item()  # a token the model emits: some beams finish on it
    common = {
        "num_beams": 4,
        "num_return_sequences": 4,
        "do_sample": False,
        "max_new_tokens": 9,
        "eos_token_id": eos,
        "pad_token_id": 0,
        "length_penalty": length_penalty,
        "early_stopping": early_stopping,
        "return_dict_in_generate": True,
        "output_scores": True,
    }
    expected = model.generate(torch.tensor(prompts), **common)
    got = model.generate(torch.tensor(prompts), custom_generate=group_beam_search, num_beam_groups=1, **common)
    assert type(got).__name__ == "GenerateBeamDecoderOnlyOutput"
    assert got.sequences.tolist() == expected.sequences.tolist()
    assert torch.equal(got.sequences_scores, expected.sequences_scores)
    assert torch.equal(got.beam_indices, expected.beam_indices)
    assert len(got.scores) == len(expected.scores)
    assert all(torch.equal(a, b) for a, b in zip(got.scores, expected.scores))
    assert got.sequences.shape[0] == 2 * 4
    if length_penalty <= 1.0:  # a strong length bonus lets the longest (unfinished) beams win
        assert (got.sequences[:, 4:] == eos).any(), "no returned hypothesis finished on eos"
    plain = model.generate(
        torch.tensor(prompts), custom_generate=group_beam_search, **{**common, "return_dict_in_generate": False}
    )
    assert torch.equal(plain, expected.sequences)


def _first_tokens_by_group(out, prompt_len: int, group_size: int) -> dict[int, set[int]]:
    groups: dict[int, set[int]] = {}
    for sequence, beams in zip(out.sequences, out.beam_indices):
        groups.setdefault(int(beams[0]) // group_size, set()).add(int(sequence[prompt_len]))
    return groups


def test_diversity_penalty_makes_the_groups_start_differently(model):
    for prompt in PROMPTS[:3]:
        outputs = {
            penalty: model.generate(
                _ids(prompt),
                custom_generate=group_beam_search,
                num_beams=2,
                num_beam_groups=2,
                diversity_penalty=penalty,
                do_sample=False,
                max_new_tokens=5,
                num_return_sequences=2,
                return_dict_in_generate=True,
                output_scores=True,
            )
            for penalty in (0.0, 3.0)
        }
        same = _first_tokens_by_group(outputs[0.0], len(prompt), group_size=1)
        assert same[0] == same[1], "without a penalty both groups run the same search"
        assert outputs[0.0].sequences[0].tolist() == outputs[0.0].sequences[1].tolist()
        diverse = _first_tokens_by_group(outputs[3.0], len(prompt), group_size=1)
        assert set(diverse) == {0, 1} and diverse[0] != diverse[1], prompt


@pytest.mark.parametrize(("num_beams", "groups", "penalty", "length_penalty"), [(4, 2, 1.5, 1.0), (6, 3, 0.7, 0.5)])
def test_diverse_beam_matches_the_slow_reference(models, num_beams, groups, penalty, length_penalty):
    for name, prompt in (("llama", PROMPTS[0]), ("gpt2", PROMPTS[1])):
        expected = reference_diverse_beam(
            models[name],
            prompt,
            num_beams=num_beams,
            groups=groups,
            penalty=penalty,
            length_penalty=length_penalty,
            steps=5,
        )
        got = models[name].generate(
            _ids(prompt),
            custom_generate=group_beam_search,
            num_beams=num_beams,
            num_beam_groups=groups,
            diversity_penalty=penalty,
            length_penalty=length_penalty,
            do_sample=False,
            max_new_tokens=5,
            num_return_sequences=num_beams,
            return_dict_in_generate=True,
            output_scores=True,
        )
        assert got.sequences.tolist() == [ids for _, ids in expected], name
        torch.testing.assert_close(got.sequences_scores, torch.tensor([s for s, _ in expected]), rtol=1e-5, atol=1e-5)
        # per step, one (num_beams, vocab) tensor of penalised log-probs
        assert len(got.scores) == 5 and got.scores[0].shape == (num_beams, VOCAB)


def test_diverse_beam_left_padded_batch_equals_one_prompt_at_a_time(model):
    prompts = PROMPTS[:3]
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    settings = {
        "custom_generate": group_beam_search,
        "num_beams": 6,
        "num_beam_groups": 3,
        "diversity_penalty": 1.0,
        "do_sample": False,
        "max_new_tokens": 6,
        "num_return_sequences": 3,
        "pad_token_id": 0,
        "early_stopping": True,
    }
    batch = model.generate(ids, attention_mask=mask, **settings)
    assert batch.shape[0] == 3 * 3
    for i, prompt in enumerate(prompts):
        single = model.generate(_ids(prompt), **settings)
        assert batch[3 * i : 3 * i + 3, width:].tolist() == single[:, len(prompt) :].tolist(), prompt


def test_diverse_beam_finishes_hypotheses_on_a_stop_string_criterion(models):
    llama, tokenizer = models["llama"], _char_tokenizer()
    settings = {
        "custom_generate": group_beam_search,
        "num_beams": 4,
        "num_beam_groups": 2,
        "diversity_penalty": 1.0,
        "do_sample": False,
        "max_new_tokens": 8,
        "num_return_sequences": 4,
    }
    free = llama.generate(_ids(PROMPTS[0]), **settings)[:, 4:]
    stop = tokenizer.decode(free[0, 2:4])  # two tokens the best hypothesis emits
    criteria = StoppingCriteriaList([StopStringCriteria(tokenizer=tokenizer, stop_strings=[stop])])
    stopped = llama.generate(_ids(PROMPTS[0]), stopping_criteria=criteria, **settings)[:, 4:]
    # without eos or pad token, beam search fills after a finished hypothesis with -1 (as transformers does)
    rows = [[t for t in row if t >= 0] for row in stopped.tolist()]
    texts = [tokenizer.decode(row) for row in rows]
    assert any(text.endswith(stop) and len(row) < 8 for row, text in zip(rows, texts))
    for row, text in zip(rows, texts):
        # a hypothesis ends right after the stop string, or runs to max_new_tokens without it
        assert text.endswith(stop) and stop not in text[:-1] or (len(row) == 8 and stop not in text), text


def test_diverse_beam_takes_its_parameters_from_generation_config(models):
    llama = models["llama"]
    config = GenerationConfig(
        num_beams=4, num_beam_groups=2, diversity_penalty=1.5, do_sample=False, max_new_tokens=5, num_return_sequences=4
    )
    by_config = llama.generate(_ids(PROMPTS[0]), generation_config=config, custom_generate=group_beam_search)
    by_keywords = llama.generate(
        _ids(PROMPTS[0]),
        custom_generate=group_beam_search,
        num_beams=4,
        num_beam_groups=2,
        diversity_penalty=1.5,
        do_sample=False,
        max_new_tokens=5,
        num_return_sequences=4,
    )
    assert by_config.tolist() == by_keywords.tolist()
    undiverse = llama.generate(
        _ids(PROMPTS[0]),
        custom_generate=group_beam_search,
        num_beams=4,
        num_beam_groups=2,
        diversity_penalty=0.0,
        do_sample=False,
        max_new_tokens=5,
        num_return_sequences=4,
    )
    assert undiverse.tolist() != by_keywords.tolist()
