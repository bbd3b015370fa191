"""Serving engines as data: what each kind of server runs, what its fields are called, what its log-probs mean.

rsdemo drives a server that already batches, shards and scales (vLLM, SGLang, llama.cpp's ``llama-server``,
Hugging Face TGI / Inference Endpoints, any OpenAI-compatible server) instead of growing its own serving
stack. Each kind is one :class:`ServerKind`: the decoding methods it runs, how rsdemo's parameters map onto
its request fields, the most alternatives it returns per token, and whether its probabilities are taken
before or after its own filters. Nothing else in rsdemo branches on a server's name.

>>> kind = get_server_kind("vllm")
>>> kind.request(values={"temperature": 0.7, "top_k": 40, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0,
...                      "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "repetition_penalty": 1.1,
...                      "no_repeat_ngram_size": 0, "seed": 3, "max_new_tokens": 8}, method="top_k")
{'max_tokens': 8, 'seed': 3, 'temperature': 0.7, 'top_k': 40, 'repetition_penalty': 1.1}
>>> get_server_kind("openai").refuses(method="min_p", values={"min_p": 0.05})
'The OpenAI-compatible server runs greedy, sampling, top-p (nucleus) only; min-p sampling needs a local engine.'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from ..core.registry import Registry
from ..decoding import COMMON_PARAMS, METHODS, SAMPLING_DEFAULTS

__all__ = ["SERVER_KINDS", "ServerKind", "get_server_kind"]

# the value of each parameter that switches it off: a parameter at this value is never sent
_LABELS = {p.name: p.label.lower() for p in COMMON_PARAMS} | {
    p.name: p.label.lower() for m in METHODS.values() for p in m.params
}
_OFF: Mapping[str, Any] = MappingProxyType(
    {**SAMPLING_DEFAULTS, **{p.name: p.default for p in COMMON_PARAMS if p.name not in {"max_new_tokens", "seed"}}}
)


@dataclass(frozen=True, slots=True)
class ServerKind:
    """One kind of serving engine.

    Attributes:
        key: what the operator writes in ``RSDEMO_REMOTE_SERVER`` (``vllm``).
        label: what the page shows (``vLLM``; ``server`` adds the word server).
        protocol: ``openai`` (``/v1/completions`` through the ``openai`` client) or ``tgi`` (TGI's streamed
            ``generate``, parsed with ``huggingface_hub``'s TGI types; see ``remote_stream.tgi_steps``).
        methods: the decoding methods it runs (keys of ``rsdemo.decoding.METHODS``).
        fields: rsdemo parameter name -> the server's request field (``max_new_tokens`` -> ``max_tokens``).
        extra: fields outside the OpenAI schema (sent in the body as they are).
        max_logprobs: the most alternatives per token the server returns (vLLM's default cap is 20).
        probabilities: where its log-probabilities are taken: ``before`` its filters (the model's own
            distribution, after nothing) or ``after`` them.
        ids: the server names each token by id (vLLM with ``return_tokens_as_token_ids``, TGI); otherwise
            rsdemo maps the token texts back to ids with the local tokenizer.
        tokenize: the server's tokenize endpoint (relative to the server root), or "" when it has none.
        token_prompt: the server takes the prompt as token ids (the exact tokens the page shows); otherwise as
            the templated text, which the server tokenises again.
        beam_reason: why beam search and its kin are not run on it.
    """

    key: str
    label: str
    protocol: Literal["openai", "tgi"]
    methods: frozenset[str]
    fields: Mapping[str, str]
    extra: frozenset[str]
    max_logprobs: int
    probabilities: Literal["before", "after"]
    ids: bool
    tokenize: str = ""
    token_prompt: bool = False
    beam_reason: str = ""

    def refuses(self, *, method: str, values: Mapping[str, Any] | None = None) -> str | None:
        """Why this server cannot run ``method`` with these parameters (None: it can)."""
        if method not in self.methods:
            runs = ", ".join(
                METHODS[m].label.lower().replace(" sampling", "") if m != "sample" else "sampling"
                for m in METHODS
                if m in self.methods
            )
            why = f" ({self.beam_reason})" if self.beam_reason and not METHODS[method].streams else ""
            return f"The {self.server} runs {runs} only; {METHODS[method].label.lower()} needs a local engine{why}."
        for name, value in (values or {}).items():
            if name in _OFF and value != _OFF[name] and name not in self.fields:
                return f"The {self.server} has no {_LABELS.get(name, name)} parameter; leave it at {_OFF[name]}."
        return None

    @property
    def server(self) -> str:
        """``vLLM server``, ``TGI server`` ..."""
        return f"{self.label} server"

    def request(self, *, values: Mapping[str, Any], method: str) -> dict[str, Any]:
        """The request fields for resolved parameters (``rsdemo.decoding.resolve_params``); off values are left out.

        Greedy is temperature 0 on an OpenAI-compatible server and ``do_sample=False`` on TGI.
        """
        sampling = METHODS[method].samples
        out: dict[str, Any] = {self.fields["max_new_tokens"]: int(values["max_new_tokens"])}
        if sampling and "seed" in self.fields:
            out[self.fields["seed"]] = int(values["seed"])
        if self.protocol == "tgi":
            out["do_sample"] = sampling
        elif not sampling:
            out[self.fields["temperature"]] = 0.0
        for name, value in values.items():
            if name not in _OFF or name not in self.fields or value == _OFF[name]:
                continue
            if not sampling and name in SAMPLING_DEFAULTS:
                continue
            out[self.fields[name]] = value
        return out


_COMMON_OPENAI = {"max_new_tokens": "max_tokens", "seed": "seed", "temperature": "temperature", "top_p": "top_p"}
_SAMPLING = frozenset({"greedy", "sample", "top_k", "top_p", "min_p"})

SERVER_KINDS: Registry[ServerKind] = Registry(
    "server kind",
    (
        (k.key, k)
        for k in (
            ServerKind(
                key="vllm",
                label="vLLM",
                protocol="openai",
                methods=_SAMPLING,
                fields=MappingProxyType(
                    {**_COMMON_OPENAI, "top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty"}
                ),
                extra=frozenset({"top_k", "min_p", "repetition_penalty", "return_tokens_as_token_ids"}),
                max_logprobs=20,
                probabilities="before",
                ids=True,
                tokenize="/tokenize",
                token_prompt=True,
                beam_reason=(
                    "rsdemo streams tokens with their probabilities; vLLM's beam search returns whole sequences"
                ),
            ),
            ServerKind(
                key="llamacpp",
                label="llama.cpp",
                protocol="openai",
                methods=_SAMPLING | {"typical"},
                fields=MappingProxyType(
                    {
                        **_COMMON_OPENAI,
                        "top_k": "top_k",
                        "min_p": "min_p",
                        "typical_p": "typical_p",
                        "repetition_penalty": "repeat_penalty",
                    }
                ),
                extra=frozenset({"top_k", "min_p", "typical_p", "repeat_penalty"}),
                max_logprobs=10,
                probabilities="before",
                ids=False,
                beam_reason="llama.cpp's server has no beam search",
            ),
            ServerKind(
                key="tgi",
                label="TGI",
                protocol="tgi",
                methods=frozenset({"greedy", "sample", "top_k", "top_p", "typical"}),
                fields=MappingProxyType(
                    {
                        "max_new_tokens": "max_new_tokens",
                        "seed": "seed",
                        "temperature": "temperature",
                        "top_k": "top_k",
                        "top_p": "top_p",
                        "typical_p": "typical_p",
                        "repetition_penalty": "repetition_penalty",
                    }
                ),
                extra=frozenset(),
                max_logprobs=5,
                probabilities="after",
                ids=True,
                beam_reason="TGI's streaming API has no beam search",
            ),
            ServerKind(
                key="openai",
                label="OpenAI-compatible",
                protocol="openai",
                methods=frozenset({"greedy", "sample", "top_p"}),
                fields=MappingProxyType(_COMMON_OPENAI),
                extra=frozenset(),
                max_logprobs=5,
                probabilities="before",
                ids=False,
                beam_reason="the OpenAI completions API has no beam search",
            ),
        )
    ),
)


def get_server_kind(key: str) -> ServerKind:
    """Look a server kind up by key.

    Raises:
        UnknownKeyError: lists the known kinds.
    """
    return SERVER_KINDS.get(key)
