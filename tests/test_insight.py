"""Decoding insight on the tiny model: each number checked against a direct computation.

Surprisal equals the per-token negative log-likelihood from the model's own loss; every stage of the
next-token view equals transformers' logits processor applied by hand; slider moves reuse the forward pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo.backend import Backend
from rsdemo.core.errors import InputError
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.insight import stage_view, surprisal_from_logits
from rsdemo.render.insight import render_arena_table

CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
PROMPT = "The quick brown fox jumps over the lazy dog. Hello world!"


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer):
    return build_model(tokenizer)


@pytest.fixture()
def backend(settings: Settings, model, tokenizer):
    loads: list[str] = []

    def loader(key: str):
        loads.append(key)
        return tiny_bundle(model, tokenizer, key=key)

    b = Backend(settings=settings, model_loader=loader, runtime=CPU)
    b.loads = loads  # type: ignore[attr-defined]
    return b


def test_surprisal_equals_the_models_own_loss(backend: Backend, model, tokenizer) -> None:
    result = backend.surprisal(model=TINY_KEY, prompt=PROMPT, chat=False)
    ids = tokenizer(PROMPT, add_special_tokens=False).input_ids
    assert list(result.prompt.ids) == ids
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids]))
    # the loss is the mean negative log-likelihood of ids[1:]
    assert result.surprisal.mean_logprob == pytest.approx(-float(out.loss), abs=1e-5)
    assert result.surprisal.perplexity == pytest.approx(math.exp(float(out.loss)), rel=1e-5)
    logp = torch.log_softmax(out.logits[0].double(), dim=-1)
    for k in range(1, len(ids)):
        assert result.surprisal.logprobs[k] == pytest.approx(float(logp[k - 1, ids[k]]), abs=1e-5)
        assert result.tokens[k].raw_prob == pytest.approx(math.exp(float(logp[k - 1, ids[k]])), rel=1e-4)
        assert result.tokens[k].raw_top[0].id == int(logp[k - 1].argmax())  # what the model expected there
    assert result.surprisal.logprobs[0] is None and math.isnan(result.tokens[0].raw_prob)
    worst = result.surprisal.most_surprising[0]
    assert result.surprisal.logprobs[worst] == min(v for v in result.surprisal.logprobs if v is not None)
    assert result.as_dict()["perplexity"] == result.surprisal.perplexity


def test_surprisal_from_full_logits_matches_the_backend(backend: Backend, model, tokenizer) -> None:
    ids = tokenizer(PROMPT, add_special_tokens=False).input_ids
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    direct = surprisal_from_logits(ids=ids, logits=logits)
    via_backend = backend.surprisal(model=TINY_KEY, prompt=PROMPT, chat=False).surprisal
    assert np.allclose([v for v in direct.logprobs[1:]], [v for v in via_backend.logprobs[1:]], atol=1e-5)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("greedy", {"repetition_penalty": 1.3}),
        ("top_p", {"top_p": 0.8, "temperature": 0.7, "repetition_penalty": 1.2}),
        ("top_k", {"top_k": 5, "temperature": 1.5}),
        ("min_p", {"min_p": 0.1}),
        ("typical", {"typical_p": 0.9}),
        ("epsilon", {"epsilon_cutoff": 0.01}),
        ("eta", {"eta_cutoff": 0.01}),
    ],
)
def test_every_stage_equals_the_transformers_processor_by_hand(
    backend: Backend, model, tokenizer, method: str, params: dict
) -> None:
    from transformers.generation import logits_process as lp

    from rsdemo.decoding import generation_config

    result = backend.next_token(model=TINY_KEY, prompt=PROMPT, chat=False, method=method, params=params)
    ids = torch.tensor([list(result.prompt.ids)])
    with torch.inference_mode():
        scores = model(input_ids=ids).logits[:, -1, :].float()
    config = generation_config(method=method, params=params)
    by_hand = [("raw", scores)]
    classes = {
        "repetition penalty": lambda: lp.RepetitionPenaltyLogitsProcessor(config.repetition_penalty),
        "temperature": lambda: lp.TemperatureLogitsWarper(config.temperature),
        "top-k": lambda: lp.TopKLogitsWarper(config.top_k),
        "top-p": lambda: lp.TopPLogitsWarper(config.top_p),
        "min-p": lambda: lp.MinPLogitsWarper(config.min_p),
        "typical": lambda: lp.TypicalLogitsWarper(config.typical_p),
        "epsilon": lambda: lp.EpsilonLogitsWarper(config.epsilon_cutoff),
        "eta": lambda: lp.EtaLogitsWarper(config.eta_cutoff, device="cpu"),
    }
    for row in result.view.rows[1:]:
        scores = classes[row.name]()(ids, scores.clone())
        by_hand.append((row.name, scores))
    assert [name for name, _ in by_hand] == [row.name for row in result.view.rows] == list(result.order)
    for row, (_, expected) in zip(result.view.rows, by_hand):
        probs = torch.softmax(expected[0], dim=-1)
        assert row.survivors == int((probs > 0).sum())
        top = torch.topk(probs, len(row.top))
        assert [i for i, _ in row.top] == top.indices.tolist()
        assert np.allclose([p for _, p in row.top], top.values.numpy(), atol=1e-6)
    assert result.view.samples == (method != "greedy")


def test_a_slider_move_reuses_the_forward_pass_and_probes_report_rank(backend: Backend, model, tokenizer) -> None:
    first = backend.next_token(model=TINY_KEY, prompt=PROMPT, chat=False, method="top_p", params={"top_p": 0.9})
    calls = []
    import rsdemo.insight.service as backend_module

    real = backend_module.score
    backend_module.score = lambda **kw: calls.append(kw) or real(**kw)  # type: ignore[assignment]
    try:
        again = backend.next_token(
            model=TINY_KEY, prompt=PROMPT, chat=False, method="top_p", params={"top_p": 0.5}, probes="fox\nzzzz"
        )
    finally:
        backend_module.score = real  # type: ignore[assignment]
    assert calls == []  # the same prompt: no model call
    assert again.view.rows[0].top == first.view.rows[0].top  # the raw distribution is the same
    assert again.view.rows[1].survivors <= first.view.rows[1].survivors  # a lower top-p keeps fewer
    typed = dict(again.probes)
    assert " fox" in typed and typed[" fox"] == tokenizer(" fox", add_special_tokens=False).input_ids[0]
    with torch.inference_mode():
        probs = torch.softmax(model(input_ids=torch.tensor([list(again.prompt.ids)])).logits[0, -1].float(), dim=-1)
    for _, token in again.probes:  # probability and rank over the whole vocabulary, not only the top 10
        prob, rank = again.view.rows[0].probes[token]
        assert prob == pytest.approx(float(probs[token]), rel=1e-5)
        assert rank == int((probs > probs[token]).sum()) + 1


def test_stage_view_is_a_pure_function_of_the_logits() -> None:
    logits = np.log(np.array([0.4, 0.3, 0.2, 0.1], dtype=np.float32))
    view = stage_view(logits=logits, context_ids=[0, 1], method="top_k", params={"top_k": 2}, probes=[3])
    assert [row.name for row in view.rows] == ["raw", "top-k"]  # only the method's own stages
    assert view.rows[0].probes[3] == (pytest.approx(0.1), 4)
    assert view.rows[1].probes[3] == (0.0, None)  # removed by top-k
    assert view.rows[1].top == ((0, pytest.approx(4 / 7)), (1, pytest.approx(3 / 7)))
    assert view.rows[0].entropy_bits == pytest.approx(-sum(p * math.log2(p) for p in (0.4, 0.3, 0.2, 0.1)), rel=1e-5)


def test_bad_input_is_refused_before_the_model_loads(backend: Backend) -> None:
    with pytest.raises(InputError):
        backend.surprisal(model=TINY_KEY, prompt="   ")
    with pytest.raises(InputError):
        backend.next_token(model=TINY_KEY, prompt="hi", method="top_p", params={"top_p": 7})
    assert backend.loads == []  # type: ignore[attr-defined]


def test_a_plain_text_is_scored_as_a_document_starts(tokenizer) -> None:
    """The catalog's document_start goes in front of a plain text (so its first word is scored too), never twice,
    never in front of a chat prompt, and never when the tokenizer has no such token."""
    from types import SimpleNamespace

    from rsdemo.generation import build_prompt
    from rsdemo.insight.service import _document

    spec = SimpleNamespace(document_start="<|endoftext|>")
    plain = build_prompt(tokenizer=tokenizer, prompt="Hello world", chat=False)
    started = _document(plain, tokenizer=tokenizer, spec=spec)
    assert started.ids == (0, *plain.ids) and started.text == "<|endoftext|>" + plain.text
    assert _document(started, tokenizer=tokenizer, spec=spec) == started  # never twice
    chat = build_prompt(tokenizer=tokenizer, prompt="Hello world", chat=True)
    assert _document(chat, tokenizer=tokenizer, spec=spec) == chat
    assert _document(plain, tokenizer=tokenizer, spec=SimpleNamespace(document_start="<no-such>")) == plain
    assert _document(plain, tokenizer=tokenizer, spec=None) == plain


def test_identical_arena_outputs_say_so_instead_of_a_divergence_point() -> None:
    from rsdemo.insight.arena import arena_rows

    rows = arena_rows(
        methods=["greedy", "top_p", "beam", "top_k"],
        outputs=[[5, 6, 7], [5, 6, 7], [5, 6], [5, 9]],
        logprobs=[-1.0] * 4,
        perplexities=[1.0] * 4,
        seconds=[0.1] * 4,
    )
    assert [(r.same_as, r.start_of) for r in rows] == [
        ("top_p", None),
        ("greedy", None),
        (None, "greedy"),
        (None, None),
    ]
    assert rows[3].diverges_at == 1
    table = render_arena_table(rows, labels={"greedy": "Greedy", "top_p": "Top-p", "beam": "Beam"})
    assert table.count("same text as") == 2 and "ends where Greedy goes on" in table and "token 2" in table


def test_the_arena_runs_each_method_as_alone_and_compares_them(backend: Backend) -> None:
    from rsdemo.insight.arena import distinct, first_divergence, repeated_ngrams

    params = {"max_new_tokens": 12, "seed": 3}
    steps = list(
        backend.arena(model=TINY_KEY, prompt=PROMPT, methods=["greedy", "top_p", "beam"], params=params, chat=False)
    )
    assert [s.done for s in steps] == [False, False, True] and [len(s.runs) for s in steps] == [1, 2, 3]
    final = steps[-1]
    for method, run in zip(final.methods, final.runs):  # each output is what the method gives alone
        *_, alone = backend.generate(model=TINY_KEY, prompt=PROMPT, method=method, params=params, chat=False)
        assert [t.id for t in run.tokens] == [t.id for t in alone.tokens], method
    outputs = [[t.id for t in run.tokens] for run in final.runs]
    points = first_divergence(outputs)
    for row, ids, run, point in zip(final.rows, outputs, final.runs, points):
        assert row.length == len(ids) and row.diverges_at == point
        assert row.distinct_2 == distinct(ids, 2) and row.repeated_3 == repeated_ngrams(ids, 3)
        # one scorer (transformers' forward pass) for every row: the run's own sum, to float noise
        assert row.logprob == pytest.approx(run.logprob, abs=1e-3) and row.seconds > 0
        assert row.perplexity == pytest.approx(math.exp(-row.logprob / len(ids)))
        twins = [m for m, other in zip(final.methods, outputs) if other == ids and other is not ids]
        assert row.same_as == (twins[0] if twins else None)
    assert final.scored_by == "transformers" and final.as_dict()["scored_by"] == "transformers"
    assert final.as_dict()["outputs"][0]["method"] == "greedy"
    with pytest.raises(InputError, match="2 to 4"):
        list(backend.arena(model=TINY_KEY, prompt=PROMPT, methods=["greedy"], chat=False))
    with pytest.raises(InputError):
        list(backend.arena(model=TINY_KEY, prompt=PROMPT, methods=["greedy", "top_p"], params={"max_new_tokens": 0}))


def _ids(result) -> list[int]:
    return [t.id for t in result.tokens]


def test_a_branch_with_the_original_token_continues_as_the_original(backend: Backend) -> None:
    params = {"max_new_tokens": 12}
    *_, original = backend.generate(model=TINY_KEY, prompt=PROMPT, method="greedy", params=params, chat=False)
    ids = _ids(original)
    assert len(ids) == 12
    for k in (0, 4, 9):  # keep the original token at position k: the rest is the original's rest
        *_, branch = backend.generate(
            model=TINY_KEY,
            prompt=PROMPT,
            method="greedy",
            chat=False,
            params={"max_new_tokens": 12 - (k + 1)},
            prefix=ids[: k + 1],
        )
        assert _ids(branch) == ids[k + 1 :], k
    # another candidate at position 4 (the runner-up there), then a branch of that branch at position 7
    alternative = next(a.id for a in original.tokens[4].raw_top if a.id != ids[4])
    first = ids[:4] + [alternative]
    *_, branch = backend.generate(
        model=TINY_KEY, prompt=PROMPT, method="greedy", chat=False, params={"max_new_tokens": 7}, prefix=first
    )
    assert len(_ids(branch)) == 7
    whole = first + _ids(branch)
    *_, again = backend.generate(
        model=TINY_KEY, prompt=PROMPT, method="greedy", chat=False, params={"max_new_tokens": 12 - 8}, prefix=whole[:8]
    )
    assert _ids(again) == whole[8:]  # a branch is a run like any other: branching it with its own token agrees
    for bad in ([-1], [10**9], "12"):
        with pytest.raises(InputError):
            list(
                backend.generate(
                    model=TINY_KEY, prompt=PROMPT, method="greedy", chat=False, params={"max_new_tokens": 2}, prefix=bad
                )
            )


@pytest.mark.parametrize("num_beams", [2, 4])
def test_the_beam_tree_scores_equal_the_returned_beam_scores(backend: Backend, num_beams: int) -> None:
    params = {"num_beams": num_beams, "max_new_tokens": 10}
    result = backend.beam_tree(model=TINY_KEY, prompt=PROMPT, chat=False, params=params)
    nodes = {n.path: n for n in result.tree.nodes}
    assert len(result.tree.returned) == num_beams == len(result.scores)
    for seq, score in zip(result.tree.returned, result.scores):
        path = nodes[tuple(seq)]
        assert path.status in {"best", "returned"}
        assert all(nodes[tuple(seq[:k])].logprob is not None for k in range(1, len(seq) + 1))
        # transformers' beam score: the summed log-probabilities over the length to the power of the penalty
        assert path.cumulative / len(seq) ** result.length_penalty == pytest.approx(score, abs=1e-4)
    assert nodes[tuple(result.tree.returned[0])].status == "best"
    assert result.scores == tuple(sorted(result.scores, reverse=True))
    if num_beams == 4:  # 4 beams over 10 steps keep and drop hypotheses
        assert any(n.status == "pruned" for n in result.tree.nodes)
    *_, plain = backend.generate(model=TINY_KEY, prompt=PROMPT, method="beam", params=params, chat=False)
    assert [t.id for t in plain.beams[0].tokens] == list(result.tree.returned[0])  # the same search
    assert result.notes == ()
    with pytest.raises(InputError, match=r"Beams \(num_beams\) must be a whole number between 2 and 8"):
        backend.beam_tree(model=TINY_KEY, prompt=PROMPT, chat=False, params={"num_beams": 9, "max_new_tokens": 4})
    # a longer Max new tokens (the page's default is 64) draws a search of 32 tokens and says so
    long = backend.beam_tree(model=TINY_KEY, prompt=PROMPT, chat=False, params={"num_beams": 2, "max_new_tokens": 40})
    assert max(len(n.path) for n in long.tree.nodes) <= 32 and "search of 32 new tokens" in long.notes[0]
    assert long.as_dict()["notes"] == list(long.notes)


def test_the_distribution_at_any_position_of_the_text(backend: Backend, model, tokenizer) -> None:
    ids = tokenizer(PROMPT, add_special_tokens=False).input_ids
    for k in (1, 5, len(ids)):
        result = backend.next_token(model=TINY_KEY, prompt=PROMPT, chat=False, method="greedy", position=k)
        assert list(result.prompt.ids) == ids[:k]
        with torch.inference_mode():
            probs = torch.softmax(model(input_ids=torch.tensor([ids[:k]])).logits[0, -1].float(), dim=-1)
        assert result.view.rows[0].top[0][0] == int(probs.argmax())
        assert result.view.rows[0].top[0][1] == pytest.approx(float(probs.max()), rel=1e-5)
    whole = backend.next_token(model=TINY_KEY, prompt=PROMPT, chat=False, method="greedy", position=0)
    assert list(whole.prompt.ids) == ids
    for bad in (len(ids) + 1, -1):
        with pytest.raises(InputError):
            backend.next_token(model=TINY_KEY, prompt=PROMPT, chat=False, method="greedy", position=bad)
