"""The embedded SmolLM2-135M-Instruct, end to end: rsdemo's greedy on the transformers engine equals plain
``model.generate`` (the llama.cpp engine runs the same GGUF weights with its own numerics: tests/test_engines.py).

Slow: the first run converts the GGUF once into the cache (about 30 s on 2 cores).
"""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from rsdemo.backend import Backend
from rsdemo.catalog import DEFAULT_MODEL, get_model_spec
from rsdemo.loading import converted_model_dir, package_dir

pytestmark = pytest.mark.slow
PROMPT = "What is the capital of France? Answer in one sentence."
NEW_TOKENS = 24


@pytest.fixture(scope="module")
def bundle(backend: Backend):
    return backend.model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def reference_ids(bundle) -> list[int]:
    """Plain transformers: the same weights, the same prompt ids, do_sample=False."""
    tok = bundle.tokenizer
    text = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True, tokenize=False)
    input_ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
    out = bundle.model.generate(input_ids, do_sample=False, max_new_tokens=NEW_TOKENS)
    return out[0, input_ids.shape[1] :].tolist()


def test_the_embedded_model_answers_sensibly(reference_ids: list[int], bundle) -> None:
    text = bundle.tokenizer.decode(reference_ids, skip_special_tokens=True)
    assert "Paris" in text


def test_greedy_through_rsdemo_equals_plain_generate(backend: Backend, reference_ids: list[int]) -> None:
    results = list(
        backend.generate(
            model=DEFAULT_MODEL,
            prompt=PROMPT,
            method="greedy",
            engine="transformers",
            params={"max_new_tokens": NEW_TOKENS},
        )
    )
    final = results[-1]
    assert final.done and [t.id for t in final.tokens] == reference_ids
    streamed = [r for r in results if not r.done]
    assert [t.id for t in streamed[-1].tokens] == reference_ids  # the stream showed exactly these tokens
    assert all(0.0 < t.raw_prob <= 1.0 for t in final.tokens)
    assert all(t.raw_top[0].id == t.id for t in final.tokens)  # greedy picks the argmax
    assert final.perplexity is not None and final.perplexity >= 1.0


def test_greedy_through_the_cli_equals_plain_generate(reference_ids: list[int], cache_dir, monkeypatch) -> None:
    from rsdemo.cli import main
    from rsdemo.core import settings as settings_module

    monkeypatch.setenv("RSDEMO_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(settings_module, "_settings", None)
    out = io.StringIO()
    assert (
        main(
            ["generate", "--json", "--engine", "transformers", "--max-new-tokens", str(NEW_TOKENS), PROMPT], stdout=out
        )
        == 0
    )
    payload = json.loads(out.getvalue())
    assert [t["id"] for t in payload["tokens"]] == reference_ids
    assert "Paris" in payload["text"] and all(0 < t["prob"] <= 1 for t in payload["tokens"])


def test_greedy_through_the_api_equals_plain_generate(server_url: str, reference_ids: list[int]) -> None:
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    job = client.submit(
        PROMPT, DEFAULT_MODEL, "greedy", {"max_new_tokens": NEW_TOKENS}, True, "", "transformers", api_name="/generate"
    )
    messages = list(job)
    assert messages[-1]["done"] and [t["id"] for t in messages[-1]["tokens"]] == reference_ids
    assert len(messages) > 2  # it streamed


def test_the_converted_checkpoint_keeps_the_gguf_weights(reference_ids: list[int], settings) -> None:
    """fp32 conversion is exact: the GGUF-loaded model gives the same greedy tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = get_model_spec(DEFAULT_MODEL)
    folder = package_dir(spec.package)
    assert (converted_model_dir(key=DEFAULT_MODEL, settings=settings) / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=spec.path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=spec.path)
    text = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True, tokenize=False)
    input_ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
    out = model.generate(input_ids, do_sample=False, max_new_tokens=NEW_TOKENS)
    assert out[0, input_ids.shape[1] :].tolist() == reference_ids


def test_surprisal_and_next_token_through_the_cli(cache_dir, monkeypatch) -> None:
    """The Inside tab's numbers in the terminal: the embedded model scores a sentence, and its next token after
    "The capital of France is" is " Paris", kept by top-p 0.5 while the space-less "Paris" is removed."""
    from rsdemo.cli import main
    from rsdemo.core import settings as settings_module

    monkeypatch.setenv("RSDEMO_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(settings_module, "_settings", None)
    out = io.StringIO()
    assert main(["surprisal", "--json", "The cat sat on the mat."], stdout=out) == 0
    scored = json.loads(out.getvalue())
    assert [t["text"] for t in scored["tokens"]][:2] == ["<|endoftext|>", "The"]
    logprobs = [t["logprob"] for t in scored["tokens"][1:]]
    assert scored["perplexity"] == pytest.approx(math.exp(-sum(logprobs) / len(logprobs)), rel=1e-6)
    out = io.StringIO()
    assert (
        main(["next-token", "--json", "--top-p", "0.5", "--probe", "Paris", "The capital of France is"], stdout=out)
        == 0
    )
    staged = json.loads(out.getvalue())
    raw, top_p = staged["stages"][0], next(s for s in staged["stages"] if s["name"] == "top-p")
    assert raw["top"][0]["text"] == " Paris" and top_p["top"][0]["text"] == " Paris"
    probes = {p["typed"]: p for p in top_p["probes"]}
    assert probes[" Paris"]["rank"] == 1 and probes["Paris"]["rank"] is None  # top-p removed it
    out = io.StringIO()
    assert main(["next-token", "--top-k", "3", "The capital of France is"], stdout=out) == 2  # not a top_p flag
