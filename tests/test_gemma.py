"""The opt-in Gemma 3 270M (base): joined from its chunk packages and checked, listed, run by both engines, every
decoding method, and its tokenizer equal to llama.cpp's own.

``bash scripts/setup.sh --dev`` installs its packages (as ``--with-gemma`` does); without them the module is skipped.
Slow: the first run joins the chunks (1-3 s), converts the GGUF once into an fp32 checkpoint (about 90 s on 2 cores)
and builds llama.cpp's F16 weights (a few seconds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import sys

import pytest

from rsdemo.backend import Backend
from rsdemo.catalog import MODELS, get_model_spec
from rsdemo.core.errors import AssetIntegrityError, AssetMissingError, InputError
from rsdemo.core.settings import Settings
from rsdemo.decoding import METHODS
from rsdemo.generation.llamacpp_engine import LlamaCppEngine
from rsdemo.loading import assembled_dir, gguf_tokenizer, model_file, model_installed, require_installed

pytestmark = pytest.mark.slow
KEY = "gemma3-270m"
SPEC = get_model_spec(KEY)
if not model_installed(SPEC):
    pytest.skip(
        "Gemma 3 270M's packages are not installed (bash scripts/setup.sh --dev or --with-gemma installs them)",
        allow_module_level=True,
    )
LLAMA = LlamaCppEngine()
PROMPT = "The capital of France is"
TEXTS = [
    "Hello world, 你好",
    "  two  spaces\nnewline\ttab",
    "naïve café 123456 🙂",
    "def square(x):\n    return x ** 2  # Ünïcödé",
    "The capital of France is",
]


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the file: joined once, checked ------------------------------------------------------------------------------


def test_the_chunks_are_joined_into_the_cache_and_checked(tmp_path) -> None:
    settings = Settings.from_env({"RSDEMO_CACHE_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    said: list[str] = []
    path = model_file(SPEC, settings=settings, progress=said.append)
    assert path.parent == assembled_dir(key=KEY, settings=settings) and path.parent.parent == tmp_path / "models"
    assert path.stat().st_size == 253_113_024 and _sha256(path) == SPEC.sha256
    assert said and "first time only" in said[0]
    said.clear()
    assert model_file(SPEC, settings=settings, progress=said.append) == path and not said  # built once
    # a copy damaged on disk (same size) is caught by the hash and joined again from the packages
    with open(path, "r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert _sha256(path) != SPEC.sha256
    again = model_file(SPEC, settings=settings, progress=said.append)
    assert said and _sha256(again) == SPEC.sha256


def test_a_damaged_or_missing_chunk_is_a_typed_error_and_leaves_nothing(tmp_path) -> None:
    settings = Settings.from_env({"RSDEMO_CACHE_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    # the chunks as they are, against a hash they do not have: what a damaged chunk gives
    wrong = dataclasses.replace(SPEC, sha256="0" * 64)
    with pytest.raises(AssetIntegrityError, match="damaged .*setup.sh --with-gemma"):
        model_file(wrong, settings=settings)
    assert not assembled_dir(key=KEY, settings=settings).exists()
    assert not list((tmp_path / "models").glob("*.staging"))  # no half-written file left
    missing = dataclasses.replace(SPEC, parts=(*SPEC.parts[:3], f"{SPEC.parts[3].split('/')[0]}/data/no-such.part"))
    with pytest.raises(AssetIntegrityError, match="chunk .* is missing"):
        model_file(missing, settings=settings)
    assert issubclass(AssetIntegrityError, AssetMissingError)  # shown beside the model, as a missing package is


def test_a_model_whose_packages_are_missing_says_how_to_install_it() -> None:
    absent = dataclasses.replace(SPEC, parts=("no_such_gemma_chunk_pkg/data/x.part00",))
    assert not model_installed(absent)
    with pytest.raises(AssetMissingError, match=r"Gemma 3 270M .* not installed here\. .*setup\.sh --with-gemma"):
        require_installed(absent)
    with pytest.raises(AssetMissingError, match="not installed"):
        model_file(absent)


# --- the catalog ---------------------------------------------------------------------------------------------------


def test_the_catalog_lists_it_once_installed(backend: Backend) -> None:
    assert (SPEC.family, SPEC.licence, SPEC.chat, SPEC.source) == ("gemma3", "Gemma Terms of Use", False, "gguf")
    assert SPEC.install and len(SPEC.parts) == 4 and KEY in MODELS
    assert KEY in [key for _label, key in backend.model_choices()]
    assert backend.resolve_model(KEY) == KEY
    from rsdemo.cli import main

    out = io.StringIO()
    assert main(["models"], stdout=out) == 0
    line = next(row for row in out.getvalue().splitlines() if row.startswith(KEY))
    assert "offline" in line and "not installed" not in line


def test_its_tokenizer_is_gemmas_own_and_has_no_chat_template(settings: Settings) -> None:
    tokenizer = gguf_tokenizer(key=KEY, settings=settings)
    assert len(tokenizer) == 262_144 and tokenizer.chat_template is None
    assert (tokenizer.bos_token, tokenizer.eos_token) == ("<bos>", "<eos>")
    assert tokenizer(PROMPT).input_ids == [2, 818, 5279, 529, 7001, 563]  # <bos> then the text


_LLAMA_TOKENIZE = r"""
import ctypes, json, sys
from rsdemo.generation.llamacpp_native import bindings, model_params
lib = bindings()
params = model_params(lib, extra=False)
params.vocab_only = True
model = lib.llama_model_load_from_file(sys.argv[1].encode(), params)
vocab = lib.llama_model_get_vocab(model)
out = []
for text in json.loads(sys.argv[2]):
    data = text.encode()
    ids = (lib.llama_token * (len(data) + 8))()
    n = lib.llama_tokenize(vocab, data, len(data), ids, len(data) + 8, False, False)
    out.append(list(ids[:n]))
print(json.dumps(out))
"""


@pytest.mark.skipif(LLAMA.missing() is not None, reason=LLAMA.missing() or "")
def test_rsdemos_tokenizer_gives_llama_cpps_own_ids(settings: Settings) -> None:
    """The golden check: transformers' GGUF tokenizer (what rsdemo shows and feeds both engines) against the
    tokenizer llama.cpp builds from the same file's vocabulary (in a child process: llama.cpp's code)."""
    path = model_file(SPEC, settings=settings)
    done = subprocess.run(
        [sys.executable, "-c", _LLAMA_TOKENIZE, str(path), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    tokenizer = gguf_tokenizer(key=KEY, settings=settings)
    ours = [tokenizer(text, add_special_tokens=False).input_ids for text in TEXTS]
    assert ours == theirs
    assert ours[0] == [9259, 1902, 236764, 43758, 237389]


# --- both engines, every method ------------------------------------------------------------------------------------


def _run(backend: Backend, *, method: str, engine: str, params: dict) -> object:
    results = list(backend.generate(model=KEY, prompt=PROMPT, method=method, engine=engine, chat=False, params=params))
    return results[-1]


def test_greedy_is_the_same_on_both_engines_and_plain_generate(backend: Backend) -> None:
    """The converted fp32 checkpoint (transformers) and llama.cpp's F16 weights built from the same Q4_K_M file
    give the same greedy answer here; both equal plain ``model.generate``."""
    import torch

    bundle = backend.model(KEY)
    input_ids = bundle.tokenizer(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        plain = bundle.model.generate(input_ids, do_sample=False, max_new_tokens=8)[0, input_ids.shape[1] :].tolist()
    text = bundle.tokenizer.decode(plain)
    assert "capital" in text or "Paris" in text  # a real language model's continuation
    engines = ["transformers"] + ([] if LLAMA.missing() else ["llama.cpp"])
    for engine in engines:
        final = _run(backend, method="greedy", engine=engine, params={"max_new_tokens": 8})
        assert final.done and final.engine == engine
        assert [t.id for t in final.tokens] == plain, engine
        assert final.prompt.ids[0] == 2 and not final.prompt.chat  # <bos>, no chat template
        assert f"{SPEC.package}.assemble()" in final.code  # the code that reproduces it joins the chunks too


def test_every_decoding_method_generates_on_gemma(backend: Backend) -> None:
    ran: dict[str, list[str]] = {}
    for method in METHODS:
        params = {"max_new_tokens": 4, "seed": 7}
        if any(p.name == "num_beams" for p in METHODS[method].params):
            params["num_beams"] = 2
        for engine in ("transformers", "llama.cpp"):
            try:
                backend.choose_engine(model=KEY, method=method, engine=engine, params=params)
            except InputError:  # this engine does not run this method (or is not built here)
                continue
            final = _run(backend, method=method, engine=engine, params=params)
            assert final.done and 1 <= len(final.tokens) <= 4, (method, engine)
            assert all(0 <= t.id < 262_144 for t in final.tokens), (method, engine)
            ran.setdefault(method, []).append(engine)
    assert set(ran) == set(METHODS)
    assert "transformers" in ran["beam"] and "transformers" in ran["contrastive"]
    if not LLAMA.missing():
        assert "llama.cpp" in ran["greedy"] and "llama.cpp" in ran["top_p"]
