"""Tiny artefacts built in the test session: a byte-level BPE tokenizer and a random Llama that matches it.

Both are built in about a second, on CPU, with no network. The model ships a *hostile* generation
config, as real instruct models do (``do_sample=True, temperature=0.6, top_k=20, top_p=0.95``): any
decoding preset that leaves a strategy field unset silently inherits those values.

Special tokens (ids 0 to 4): ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>`` (EOS), ``<s>`` (BOS),
``<pad>``; then the 256 byte-level characters, then the merges (300 entries in all).
"""

from __future__ import annotations

import functools
from typing import Any

TINY_KEY = "rsdemo-tests/tiny-llama"  # shaped like a Hub repo id, so ``Backend.resolve_model`` accepts it
TINY_MAX_NEW_TOKENS = 128
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>", "<pad>")
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# A template that writes the BOS itself (like Llama 3's), for a tokenizer that also adds one by default.
BOS_TEMPLATE = "{{ bos_token }}" + CHATML_TEMPLATE
HOSTILE = {"do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.95}

CORPUS = (
    "The quick brown fox jumps over the lazy dog. "
    * 3
    + "Hello world! Tokenizers split text into pieces, and models read the pieces. "
    "Generation picks one token at a time; beam search keeps several hypotheses. "
    "Café, naïve, façade, 東京, Zürich, 🙂 and 👍🏽 emoji. Numbers: 12345, 3.14159.\n"
) * 20


def _train_backend(*, add_bos: bool) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([CORPUS], trainer)
    if add_bos:
        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
    return tok


@functools.cache
def _backend_json(add_bos: bool) -> str:
    return _train_backend(add_bos=add_bos).to_str()


def build_tokenizer(*, add_bos: bool = False, chat_template: str | None = CHATML_TEMPLATE) -> Any:
    """A fresh ``PreTrainedTokenizerFast`` (trained once per session, then rebuilt from its JSON).

    Args:
        add_bos: the tokenizer puts ``<s>`` in front of every encoded text by default.
        chat_template: the Jinja chat template (None: no chat template).
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(_backend_json(add_bos))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="<|im_end|>", pad_token="<pad>"
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def build_model(tokenizer: Any, *, seed: int = 0) -> Any:
    """A random ``LlamaForCausalLM`` (hidden 32, 2 layers, float32, eval) with a hostile generation config."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.2,  # peaky enough that greedy, top-k and top-p differ
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        **HOSTILE,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def tiny_spec(*, max_new_tokens: int = TINY_MAX_NEW_TOKENS) -> Any:
    """A catalog-like spec for the tiny model (a Hub-style entry)."""
    from rsdemo.catalog import ModelSpec

    return ModelSpec(
        key=TINY_KEY,
        label="Tiny random Llama (tests)",
        source="hub",
        params_m=1,
        chat=True,
        repo_id=TINY_KEY,
        max_new_tokens=max_new_tokens,
    )


def tiny_bundle(model: Any, tokenizer: Any, *, key: str = TINY_KEY, spec: Any = "default") -> Any:
    """Wrap the tiny model and tokenizer as rsdemo's ``ModelBundle`` on CPU."""
    import torch

    from rsdemo.loading import ModelBundle

    return ModelBundle(
        key=key,
        model=model,
        tokenizer=tokenizer,
        spec=tiny_spec() if spec == "default" else spec,
        device="cpu",
        dtype=torch.float32,
    )
