"""Two models on one text: the char alignment by hand, each side's numbers against a direct forward pass, the
renderer on hostile text, the reply's shape, the CLI, and bad requests.

The fast tests run two tiny random Llamas (``tiny_models``): one whose tokenizer adds no BOS (its first token cannot
be scored) and one whose tokenizer adds ``<s>``. The slow ones run the embedded SmolLM2-135M on transformers and on
llama.cpp, and against Gemma 3 270M where its opt-in packages are installed.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
from tiny_models import build_model, build_tokenizer, tiny_bundle

from rsdemo.backend import Backend
from rsdemo.catalog import MODELS
from rsdemo.core.errors import InputError, UnknownKeyError
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.insight.model_diff import LN2, TokenSpan, char_spans, compare, spans_from_ends
from rsdemo.insight.model_diff_pass import ModelDiffResult, model_diff
from rsdemo.insight.scoring import score
from rsdemo.loading import model_installed
from tests.test_api_replies import assert_shape

CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
PLAIN, BOS = "rsdemo-tests/tiny-llama", "rsdemo-tests/tiny-llama-bos"
TEXT = "The quick brown fox. Café, 東京 🙂 and 👍🏽!"


# --- pure: the alignment by hand --------------------------------------------------------------------------------


def test_segments_run_between_the_boundaries_both_models_share() -> None:
    text = "abcdefgh"
    a = [TokenSpan(0, 2, -1.0), TokenSpan(2, 5, -2.0), TokenSpan(5, 6, -0.5), TokenSpan(6, 8, -0.25)]
    b = [TokenSpan(0, 1, -0.1), TokenSpan(1, 5, -0.2), TokenSpan(5, 8, -4.0)]
    diff = compare(text, a, b)
    assert [(s.start, s.end) for s in diff.segments] == [(0, 5), (5, 8)]
    assert [(s.tokens_a, s.tokens_b) for s in diff.segments] == [((0, 1), (0, 1)), ((2, 3), (2,))]
    assert [(s.logprob_a, s.logprob_b) for s in diff.segments] == [(-3.0, pytest.approx(-0.3)), (-0.75, -4.0)]
    assert diff.segments[0].delta_bits == pytest.approx(2.7 / LN2)
    assert diff.a_surprised == (0,) and diff.b_surprised == (1,)
    assert diff.totals.chars == 8 and diff.totals.unscored_chars == 0
    assert diff.totals.bits_a == pytest.approx(3.75 / LN2) and diff.totals.bits_b == pytest.approx(4.3 / LN2)
    assert diff.totals.bits_per_char_a == pytest.approx(3.75 / LN2 / 8)
    # per character: each token's bits spread over its characters; they add up to the token's
    assert diff.char_bits_a[:2].tolist() == pytest.approx([0.5 / LN2] * 2)
    assert float(np.nansum(diff.char_bits_b)) == pytest.approx(4.3 / LN2)


def test_a_split_character_counts_with_the_token_that_completes_it() -> None:
    text = "a🙂b"
    pieces = [b"a", "🙂".encode()[:2], "🙂".encode()[2:], b"b"]
    spans = char_spans(text, pieces)
    assert spans == ((0, 1), (1, 1), (1, 2), (2, 3))
    a = [TokenSpan(s, e, lp) for (s, e), lp in zip(spans, [-1.0, -3.0, -0.5, -1.0])]
    b = [TokenSpan(0, 2, -2.0), TokenSpan(2, 3, -1.5)]
    diff = compare(text, a, b)
    assert [(s.start, s.end, s.tokens_a) for s in diff.segments] == [(0, 2, (0, 1, 2)), (2, 3, (3,))]
    assert diff.segments[0].logprob_a == -4.5
    # the zero-width token's bits go onto the character it begins
    assert diff.char_bits_a.tolist() == pytest.approx([1 / LN2, 3.5 / LN2, 1 / LN2])
    assert char_spans(text, [b"a", b"b"]) is None  # bytes that do not spell the text: no spans


def test_an_unscored_first_token_leaves_its_segment_out_for_both_models() -> None:
    text = "Hello world"
    a = [TokenSpan(0, 5, None), TokenSpan(5, 11, -2.0)]
    b = [TokenSpan(0, 3, -5.0), TokenSpan(3, 5, -1.0), TokenSpan(5, 11, -1.0)]
    diff = compare(text, a, b)
    first, second = diff.segments
    assert first.logprob_a is None and first.logprob_b == -6.0 and first.delta_bits is None
    assert diff.a_surprised == (1,) and diff.b_surprised == ()
    assert (diff.totals.chars, diff.totals.unscored_chars) == (6, 5)
    assert diff.totals.bits_b == pytest.approx(1 / LN2)  # B's first 5 characters are not counted either
    assert np.isnan(diff.char_bits_a[:5]).all() and not np.isnan(diff.char_bits_b).any()


def test_top_lists_are_largest_first_and_cut() -> None:
    text = "abcd"
    a = [TokenSpan(k, k + 1, -float(k + 1)) for k in range(4)]
    b = [TokenSpan(k, k + 1, -1.0) for k in range(4)]
    diff = compare(text, a, b, top=2)
    assert diff.a_surprised == (3, 2) and diff.b_surprised == ()


def test_spans_that_do_not_cover_the_text_are_refused() -> None:
    with pytest.raises(ValueError, match="in order"):
        compare("abc", [TokenSpan(0, 1, -1.0), TokenSpan(2, 3, -1.0)], [TokenSpan(0, 3, -1.0)])
    with pytest.raises(ValueError, match="text's end"):
        compare("abc", [TokenSpan(0, 3, -1.0)], [TokenSpan(0, 2, -1.0)])
    assert compare("", [], []).segments == ()
    assert spans_from_ends(4, [1, 0, 3, 3]) == ((0, 1), (1, 1), (1, 3), (3, 4))


# --- tiny models: each side is its model's own forward pass ------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> tuple[Backend, dict]:
    tokenizers = {PLAIN: build_tokenizer(), BOS: build_tokenizer(add_bos=True)}
    models = {PLAIN: build_model(tokenizers[PLAIN], seed=0), BOS: build_model(tokenizers[BOS], seed=1)}
    settings = Settings.from_env({"RSDEMO_MAX_SCORED_TOKENS": "64", "RSDEMO_CACHE_DIR": "/nonexistent-rsdemo"})
    backend = Backend(
        settings=settings,
        model_loader=lambda key: tiny_bundle(models[key], tokenizers[key], key=key),
        runtime=CPU,
    )
    return backend, {"models": models, "tokenizers": tokenizers}


def _by_hand(model, ids: list[int]) -> np.ndarray:
    """log p(ids[k] | ids[:k]) for k from 1: a plain forward pass and a log-softmax, in float64."""
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    rows = torch.log_softmax(logits, dim=-1)[:-1]
    return rows.gather(-1, torch.tensor(ids[1:])[:, None])[:, 0].numpy()


def _check_side(side, tokenizer, model, text: str) -> None:
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert list(side.ids) == ids
    expected = _by_hand(model, [*side.context, *ids])
    got = [s.logprob for s in side.spans]
    if not side.context:
        assert got[0] is None
        got, ids_scored = got[1:], ids[1:]
    else:
        ids_scored = ids
    assert len(got) == len(ids_scored) == len(expected)
    np.testing.assert_allclose(got, expected, atol=2e-4)
    np.testing.assert_allclose(got, score(model=model, ids=[*side.context, *ids]).logprobs[-len(got) :], atol=1e-6)
    # each token's span: the text decoded so far, less a trailing part of a character, ends where the span ends
    assert side.spans[-1].end == len(text)
    for k, span in enumerate(side.spans):
        assert tokenizer.decode(ids[: k + 1]).rstrip("\ufffd") == text[: span.end]


def test_each_side_is_its_models_own_forward_pass(tiny) -> None:
    backend, parts = tiny
    result = model_diff(service=backend, model_a=PLAIN, model_b=BOS, text=TEXT)
    assert result.a.context == () and result.b.context == (parts["tokenizers"][BOS].bos_token_id,)
    for side, key in ((result.a, PLAIN), (result.b, BOS)):
        _check_side(side, parts["tokenizers"][key], parts["models"][key], TEXT)
    c = result.comparison
    assert c.totals.unscored_chars == c.segments[0].end > 0  # A's first token has no context: left out
    # a segment's log-probability is the sum of its tokens', on each side
    for seg in c.segments[1:]:
        assert seg.logprob_a == pytest.approx(sum(result.a.spans[n].logprob for n in seg.tokens_a))
        assert seg.logprob_b == pytest.approx(sum(result.b.spans[n].logprob for n in seg.tokens_b))
    assert any(s.end == s.start for s in result.a.spans)  # the emoji's bytes: zero-width tokens


def test_the_reply_has_its_typed_dicts_keys_and_the_renderer_escapes_hostile_text(tiny) -> None:
    from rsdemo.api.model_diff import ModelDiffReply, model_diff_reply
    from rsdemo.render.model_diff import render_model_diff

    backend, _ = tiny
    hostile = '<script>alert("x")</script> \u202eabc & "quoted" \'single\' 🙂'
    result = model_diff(service=backend, model_a=BOS, model_b=PLAIN, text=hostile)
    reply = model_diff_reply(result)
    assert_shape(reply, ModelDiffReply)
    assert "".join(t["text"] for t in reply["a"]["tokens"]) == hostile
    assert [t["segment"] for t in reply["b"]["tokens"]] == sorted(t["segment"] for t in reply["b"]["tokens"])
    json.dumps(reply)  # JSON-ready
    for lang in ("en", "zh"):
        page = render_model_diff(result, lang=lang)
        assert "<script" not in page and "\u202e" not in page and "&lt;" in page and "&quot;" in page
        assert page.count('class="rs-md-tok"') == len(result.a.ids) + len(result.b.ids)
        assert page.count('class="rs-md-seg"') == len(result.comparison.segments)
    assert "比特" in render_model_diff(result, lang="zh") and "Bits / char" in render_model_diff(result)


def test_a_normalising_tokenizer_takes_its_own_offsets() -> None:
    from tokenizers import normalizers

    tokenizer = build_tokenizer()
    tokenizer.backend_tokenizer.normalizer = normalizers.Lowercase()  # its pieces no longer spell the text
    model = build_model(tokenizer)
    backend = Backend(
        settings=Settings.from_env({"RSDEMO_CACHE_DIR": "/nonexistent-rsdemo"}),
        model_loader=lambda key: tiny_bundle(model, tokenizer, key=key),
        runtime=CPU,
    )
    text = "HELLO World, THE Quick fox"
    result = model_diff(service=backend, model_a=PLAIN, model_b=PLAIN, text=text)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert tuple((s.start, s.end) for s in result.a.spans) == spans_from_ends(len(text), [e for _, e in offsets])
    assert result.a.spans[-1].end == len(text) and len(result.comparison.segments) == len(result.a.ids)


@pytest.mark.parametrize(
    ("kwargs", "error", "words", "field"),
    [
        ({"text": ""}, InputError, "Type a prompt", "prompt"),
        ({"text": " \n "}, InputError, "Type a prompt", "prompt"),
        ({"text": "ab" * 40}, InputError, "the most this view reads is 64", "prompt"),
        ({"model_b": "no-such-model"}, UnknownKeyError, "Unknown model 'no-such-model'", "model"),
        ({"engine_b": "vllm9"}, UnknownKeyError, "Unknown engine 'vllm9'", "engine"),
        ({"engine_a": "llama.cpp"}, InputError, "llama.cpp", "engine"),  # a Hub model: transformers only
    ],
)
def test_bad_requests_are_refused_with_typed_errors(tiny, kwargs, error, words, field) -> None:
    backend, _ = tiny
    request = {"model_a": PLAIN, "model_b": BOS, "text": "Hello", **kwargs}
    with pytest.raises(error, match=words) as caught:
        model_diff(service=backend, **request)
    assert caught.value.field == field


def test_run_takes_the_model_work(tiny) -> None:
    backend, _ = tiny
    calls = []

    def run(**kwargs) -> ModelDiffResult:
        calls.append(kwargs)
        return ModelDiffResult(kwargs["text"], None, None, None)  # type: ignore[arg-type]

    model_diff(service=backend, model_a=PLAIN, model_b=BOS, text="Hi", run=run)
    assert calls and calls[0]["model_a"] == PLAIN and calls[0]["engine_b"] == "transformers"
    assert calls[0]["service"] is backend.insight


# --- the real models (slow) -------------------------------------------------------------------------------------

SMOL = "smollm2-135m-instruct"
GEMMA = "gemma3-270m"
REAL_TEXT = "The capital of France is Paris; the river is the Seine. Café, 東京 🙂."


@pytest.mark.slow
def test_smollm2_on_transformers_and_on_llamacpp(backend: Backend) -> None:
    from rsdemo.generation.llamacpp_native import installed

    if not installed():
        pytest.skip("llama.cpp is not installed here")
    result = model_diff(service=backend, model_a=SMOL, model_b=SMOL, text=REAL_TEXT, engine_b="llama.cpp")
    bundle = backend.model(SMOL)
    _check_side(result.a, bundle.tokenizer, bundle.model, REAL_TEXT)
    assert result.a.context == (0,) and result.a.ids == result.b.ids and result.b.engine == "llama.cpp"
    # llama.cpp's side: the log-softmax of its own logits after each prefix, computed here
    sequence = [*result.b.context, *result.b.ids]
    with backend.models.in_use("llama.cpp", SMOL, None) as loaded:
        rows = np.asarray(loaded.logits(sequence, start=1), dtype=np.float64)[:-1]
    rows -= rows.max(axis=1, keepdims=True)
    expected = rows[np.arange(len(rows)), sequence[1:]] - np.log(np.exp(rows).sum(axis=1))
    np.testing.assert_allclose([s.logprob for s in result.b.spans], expected, atol=1e-4)
    # the same weights in other arithmetic: the same numbers to a few hundredths of a bit
    assert [seg.tokens_a for seg in result.comparison.segments] == [seg.tokens_b for seg in result.comparison.segments]
    assert max(abs(seg.delta_bits) for seg in result.comparison.segments) < 0.2


@pytest.mark.slow
def test_smollm2_against_gemma_and_the_cli(backend: Backend) -> None:
    if not model_installed(MODELS[GEMMA]):
        pytest.skip("Gemma 3 270M's packages are not installed (bash scripts/setup.sh --dev installs them)")
    from rsdemo.api.model_diff import ModelDiffReply
    from rsdemo.cli import main
    from rsdemo.cli.model_diff import _text as cli_text

    result = model_diff(service=backend, model_a=SMOL, model_b=GEMMA, text=REAL_TEXT)
    gemma = backend.model(GEMMA)
    _check_side(result.b, gemma.tokenizer, gemma.model, REAL_TEXT)
    assert result.b.context == (gemma.tokenizer.bos_token_id,)
    assert [(s.start, s.end) for s in result.a.spans] != [(s.start, s.end) for s in result.b.spans]
    c = result.comparison
    assert c.totals.unscored_chars == 0 and c.totals.chars == len(REAL_TEXT)
    assert c.totals.bits_a == pytest.approx(-sum(s.logprob for s in result.a.spans) / LN2)
    assert c.a_surprised and c.b_surprised
    out = io.StringIO()
    assert main(["diff-models", "--model-b", GEMMA, "--json", REAL_TEXT], stdout=out) == 0
    reply = json.loads(out.getvalue())
    assert_shape(reply, ModelDiffReply)
    assert [t["logprob"] for t in reply["b"]["tokens"]] == pytest.approx([s.logprob for s in result.b.spans], abs=1e-5)
    lines = cli_text(result, top=2).splitlines()  # the text output (another main() would load both models again)
    assert lines[0].startswith(f"A: {SMOL} (transformers): {len(result.a.ids)} tokens")
    assert f"{len(REAL_TEXT)} characters compared in {len(c.segments)} segments" in lines[2]
    worst = c.segments[c.a_surprised[0]]
    assert lines[lines.index("Where A is more surprised than B:") + 1].startswith(
        "  " + json.dumps(REAL_TEXT[worst.start : worst.end], ensure_ascii=False)
    )
    assert math.isfinite(c.totals.bits_b)
