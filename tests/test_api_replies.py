"""Every API reply's keys are its TypedDict's keys, nested replies included, on real results.

The replies are built in one place (``rsdemo.api.replies``); the TypedDicts (``rsdemo.api_schema``) are what
Gradio's API page shows. A key added to one and not the other fails here.
"""

from __future__ import annotations

import typing

import pytest
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo import api_schema as schema
from rsdemo.api import replies
from rsdemo.backend import Backend
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings

CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
PROMPT = "The quick brown fox jumps over the lazy dog."


def _typed_dict(tp: object) -> type | None:
    return tp if isinstance(tp, type) and typing.is_typeddict(tp) else None


def assert_shape(value: object, reply_type: type, where: str = "reply") -> None:
    """``value`` has exactly ``reply_type``'s keys; nested TypedDicts (and lists of them) are checked too."""
    hints = typing.get_type_hints(reply_type)
    assert isinstance(value, dict), f"{where} is {type(value).__name__}, not a dict"
    assert set(value) == set(hints), f"{where}: keys {sorted(value)} != {reply_type.__name__} {sorted(hints)}"
    for key, tp in hints.items():
        inner = _typed_dict(tp)
        if inner is not None:
            assert_shape(value[key], inner, f"{where}.{key}")
        elif typing.get_origin(tp) is list and (inner := _typed_dict(typing.get_args(tp)[0])) is not None:
            assert isinstance(value[key], list), f"{where}.{key} is not a list"
            for n, item in enumerate(value[key]):
                assert_shape(item, inner, f"{where}.{key}[{n}]")


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> Backend:
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    settings = Settings.from_env({"RSDEMO_CACHE_DIR": str(tmp_path_factory.mktemp("replies-cache"))})
    return Backend(settings=settings, model_loader=lambda key: tiny_bundle(model, tokenizer, key=key), runtime=CPU)


def test_the_checker_catches_a_missing_and_an_extra_key() -> None:
    with pytest.raises(AssertionError, match="keys"):
        assert_shape({"text": "a"}, schema.DecodeReply)
    with pytest.raises(AssertionError, match=r"tokens\[0\]"):
        assert_shape({"text": "a", "tokens": [{"id": 1, "piece": "a", "bytes": "61", "special": 0, "x": 1}]},
                     schema.DecodeReply)  # fmt: skip


def test_tokenizer_replies_match_their_typed_dicts(backend: Backend) -> None:
    reply = replies.tokenize_reply(backend.tokenize(text="Hi there", tokenizer="char"))
    assert_shape(reply, schema.TokenizeReply)
    assert reply["ids"] == [ord(c) for c in "Hi there"] and reply["segments"], reply
    steps = list(backend.compare_steps(text="Hi there", tokenizers=["char", "byte"]))
    for step in steps:
        assert_shape(replies.compare_reply(step), schema.CompareReply)
    assert replies.compare_reply(steps[-1])["done"] is True
    decoded = replies.decode_reply(backend.decode(ids=[72, 105], tokenizer="byte"))
    assert_shape(decoded, schema.DecodeReply)
    assert decoded["text"] == "Hi" and [t["id"] for t in decoded["tokens"]] == [72, 105]
    from rsdemo.tokenization.language_cost import measure

    table = measure(service=backend.tokenization, tokenizers=["char", "byte"], own_text="é")
    costs = replies.language_cost_reply(table)
    assert_shape(costs, schema.LanguageCostReply)
    own = [r for r in costs["rows"] if r["language"] == "own"]
    assert [(r["tokenizer"], r["tokens"], r["relative_to_english"]) for r in own] == [
        ("char", 1, None),
        ("byte", 2, None),
    ]


def test_generation_and_insight_replies_match_their_typed_dicts(backend: Backend) -> None:
    runs = list(backend.generate(model=TINY_KEY, prompt=PROMPT, method="beam", params={"max_new_tokens": 3}))
    for run in (runs[0], runs[-1]):
        assert_shape(replies.generate_reply(run), schema.GenerateReply)
    assert replies.generate_reply(runs[-1])["done"] and replies.generate_reply(runs[-1])["beams"]
    scored = replies.surprisal_reply(backend.surprisal(model=TINY_KEY, prompt=PROMPT, chat=False))
    assert_shape(scored, schema.SurprisalReply)
    assert scored["tokens"] and scored["most_surprising"]
    staged = backend.next_token(model=TINY_KEY, prompt=PROMPT, chat=False, method="top_p", params={"top_p": 0.9})
    staged_reply = replies.next_token_reply(staged)
    assert_shape(staged_reply, schema.NextTokenReply)
    assert [s["name"] for s in staged_reply["stages"]][0] == "raw"
    arena = list(
        backend.arena(model=TINY_KEY, prompt=PROMPT, methods=["greedy", "top_p"], params={"max_new_tokens": 3},
                      chat=False)
    )  # fmt: skip
    for step in arena:
        assert_shape(replies.arena_reply(step), schema.ArenaReply)
    assert len(replies.arena_reply(arena[-1])["outputs"]) == 2
    tree = backend.beam_tree(model=TINY_KEY, prompt=PROMPT, chat=False, params={"num_beams": 2, "max_new_tokens": 3})
    tree_reply = replies.beam_tree_reply(tree)
    assert_shape(tree_reply, schema.BeamTreeReply)
    assert tree_reply["beams"] and tree_reply["nodes"]


def test_explain_and_vocab_replies_match_their_typed_dicts(backend: Backend) -> None:
    from rsdemo.tokenization.explain import explain_token
    from rsdemo.tokenization.vocab import browse_vocab

    for key, text, index in (("gpt2", "Hello world", 1), ("shakespeare-unigram", "to be", 1),
                             ("bert-base-uncased", "unbelievably", 1), ("char", "hi", 0)):  # fmt: skip
        why = explain_token(adapter=backend.adapter(key), key=key, family="", text=text, index=index)
        assert_shape(replies.explain_reply(why), schema.ExplainReply)
    found = browse_vocab(adapter=backend.adapter("gpt2"), key="gpt2", mode="search", query=" the", limit=3)
    reply = replies.vocab_reply(found)
    assert_shape(reply, schema.VocabReply)
    assert len(reply["entries"]) == 3 and reply["truncated"]


def test_layers_replies_match_their_typed_dicts(backend: Backend) -> None:
    """``/logit_lens``, ``/lens_probe`` and ``/attention`` (``rsdemo.api.views``) on the tiny Llama."""
    from rsdemo.api import views as view_replies
    from rsdemo.insight import views

    lens = views.kept_lens(service=backend, model=TINY_KEY, prompt=PROMPT)
    probes = views.lens_probe(service=backend, result=lens, probes="fox\nquick")
    reply = view_replies.lens_reply(lens, probes)
    assert_shape(reply, schema.LensReply)
    assert len(reply["cells"]) == len(lens.ids) and len(reply["cells"][0]) == len(lens.layers) == 3  # emb + 2
    assert views.kept_lens(service=backend, model=TINY_KEY, prompt=PROMPT) is lens  # kept: no second pass
    assert_shape(
        view_replies.lens_probe_reply(lens, probes, position=len(lens.ids) - 1, layer=0), schema.LensProbeResult
    )
    att = views.attention(service=backend, model=TINY_KEY, prompt=PROMPT)
    for head in (None, 1):
        one = view_replies.attention_reply(att, layer=2, head=head, position=3)
        assert_shape(one, schema.AttentionReply)
        assert len(one["attended_to"]) == 4 and sum(one["attended_to"]) == pytest.approx(1.0, abs=1e-2)


def test_model_diff_reply_matches_its_typed_dict(backend: Backend) -> None:
    from rsdemo.api.model_diff import ModelDiffReply, model_diff_reply
    from rsdemo.insight.model_diff_pass import model_diff

    reply = model_diff_reply(model_diff(service=backend, model_a=TINY_KEY, model_b=TINY_KEY, text=PROMPT))
    assert_shape(reply, ModelDiffReply)
    assert "".join(t["text"] for t in reply["a"]["tokens"]) == PROMPT
    assert reply["segments"][0]["delta_bits"] is None and reply["unscored_chars"] > 0  # no BOS: no first score
    assert {s["delta_bits"] for s in reply["segments"][1:]} == {0.0}  # the same model: no difference
