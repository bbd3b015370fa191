"""The named API endpoints, all in one place: plain data in, plain data out, each typed and checked (``ui.api``).

``/tokenize``, ``/compare``, ``/decode`` and ``/language_cost`` run in the light pool; ``/generate``, ``/branch``,
``/beam_tree``, ``/arena``, ``/surprisal`` and ``/next_token`` in the generation pool. Each tab registers its
endpoints where it wires its events (the order Gradio numbers them in). Every parameter has a default that works, so
the calls the "Use via API" page shows run as shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from ..api import (
    arena_reply,
    beam_tree_reply,
    compare_reply,
    decode_reply,
    generate_reply,
    language_cost_reply,
    next_token_reply,
    surprisal_reply,
    tokenize_reply,
)
from ..api_schema import (
    EXAMPLE_ARENA_METHODS,
    EXAMPLE_IDS,
    EXAMPLE_LANGUAGE_TOKENIZERS,
    EXAMPLE_PARAMS,
    EXAMPLE_PREFIX,
    EXAMPLE_STAGE_PARAMS,
    EXAMPLE_TEXT,
    EXAMPLE_TOKENIZERS,
    EXAMPLE_TREE_PARAMS,
    ArenaReply,
    BeamTreeReply,
    CompareReply,
    DecodeReply,
    GenerateReply,
    LanguageCostReply,
    NextTokenReply,
    SurprisalReply,
    TokenizeReply,
)
from ..backend import Backend
from ..catalog import DEFAULT_MODEL, DEFAULT_TOKENIZER
from ..generation import GenerationResult
from ..tokenization.language_cost import measure
from .api import _api, _api_returns, _flag
from .errors import _user_errors
from .explain_panel import explain_endpoint
from .serving import _paced, _visitor
from .vocab_panel import vocab_endpoint

__all__ = [
    "DEFAULT_PROMPT",
    "INSIDE_PROMPT",
    "_api_endpoints",
    "_arena_endpoint",
    "_beam_tree_endpoint",
    "_generation_endpoints",
    "_inside_endpoints",
    "_language_cost_endpoint",
    "_result_json",
]

DEFAULT_PROMPT = "What is the capital of France? Answer in one sentence."
INSIDE_PROMPT = "The capital of France is"


def _api_endpoints(backend: Backend, pool: dict[str, Any]) -> None:
    """The light endpoints (``/tokenize``, ``/compare``, ``/decode``, ``/explain``, ``/vocab``), in this order."""
    _api(_tokenize_endpoint(backend), api_name="tokenize", **pool)
    _api(_compare_endpoint(backend), api_name="compare", **pool)
    _api(_decode_endpoint(backend), api_name="decode", **pool)
    _api(explain_endpoint(backend), api_name="explain", **pool)
    _api(vocab_endpoint(backend), api_name="vocab", **pool)


def _tokenize_endpoint(backend: Backend) -> Any:
    @_api_returns(TokenizeReply, "tokenized")
    @_user_errors
    def tokenize(text: str = EXAMPLE_TEXT, tokenizer: str = DEFAULT_TOKENIZER, add_special_tokens: bool = False):
        """Split text into tokens: every id, the segments of the first 2,000 tokens, stats over the whole text.

        Args:
            text: the text to split (up to the server's text limit).
            tokenizer: a built-in key (gpt2, cl100k_base, o200k_base, llama3, qwen2, ...) or a Hub repo id owner/name.
            add_special_tokens: add what the tokenizer puts around a sequence (BOS, [CLS] ... [SEP]).
        """
        return tokenize_reply(
            backend.tokenize(text=text, tokenizer=tokenizer, add_special_tokens=_flag(add_special_tokens))
        )

    return tokenize


def _compare_endpoint(backend: Backend) -> Any:
    @_api_returns(CompareReply, "comparison")
    @_user_errors
    def compare(
        text: str = EXAMPLE_TEXT,
        tokenizers: list[str] = list(EXAMPLE_TOKENIZERS),  # noqa: B006
        add_special_tokens: bool = False,
    ):
        """The same text through 2 to 6 tokenizers, streamed one tokenizer at a time; the last message has done=true.

        Args:
            text: the text to split.
            tokenizers: 2 to 6 built-in keys or Hub repo ids, e.g. ["gpt2", "llama3"].
            add_special_tokens: add what each tokenizer puts around a sequence.
        """
        # the arguments' types are checked already (_checked)
        for result in backend.compare_steps(
            text=text, tokenizers=tokenizers, add_special_tokens=_flag(add_special_tokens)
        ):
            yield compare_reply(result)

    return compare


def _decode_endpoint(backend: Backend) -> Any:
    @_api_returns(DecodeReply, "decoded")
    @_user_errors
    def decode(ids: str = EXAMPLE_IDS, tokenizer: str = DEFAULT_TOKENIZER):
        """Token ids back to text, with each id's vocabulary piece and bytes.

        Args:
            ids: the ids as text, such as "[15496, 995]" or "15496 995".
            tokenizer: a built-in key or a Hub repo id owner/name.
        """
        result = backend.decode(ids=ids, tokenizer=tokenizer)
        return decode_reply(result)

    return decode


def _result_json(result: GenerationResult) -> dict[str, Any]:
    """A run (so far) as ``/generate`` and ``/branch`` send it."""
    return dict(generate_reply(result))


def _generation_stream(
    backend: Backend,
    request: gr.Request | None,
    *,
    prompt: str,
    model: str,
    method: str,
    params: dict | None,
    chat: Any,
    engine: str,
    stop: str = "",
    prefix: Sequence[int] = (),
) -> Iterator[dict[str, Any]]:
    """The one body of ``/generate`` and ``/branch`` (a branch: ``prefix`` forced after the prompt, no stop strings):
    the run, paced, as JSON. The arguments' types are checked already (``_checked``)."""
    for result in _paced(
        backend.generate(
            model=model,
            prompt=prompt,
            method=method,
            params=params or {},
            chat=_flag(chat, "chat"),
            stop=stop or None,
            visitor=_visitor(request),
            engine=engine or None,
            prefix=list(prefix),
        )
    ):
        yield _result_json(result)


def _generation_endpoints(backend: Backend, pool: dict[str, Any]) -> None:
    """``/generate`` and ``/branch``: two signatures (as the API page shows them) over one body."""

    @_api_returns(GenerateReply, "generation")
    @_user_errors
    def generate_api(
        request: gr.Request,
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        method: str = "greedy",
        params: dict | None = EXAMPLE_PARAMS,  # noqa: B006 (never mutated)
        chat: bool = True,
        stop: str = "",
        engine: str = "",
    ):
        """Generate from a prompt, streaming: each message is the run so far (at most every 0.08 s; a beam method's:
        its leading candidate so far, without probabilities); the last has done=true.

        Args:
            prompt: the prompt (the chat template wraps it when chat is true).
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            method: greedy, beam, diverse_beam, sample, top_k, top_p, min_p, typical, epsilon, eta, beam_sample,
                contrastive, ...
            params: the method's parameters and the common ones, e.g. {"max_new_tokens": 32, "top_p": 0.9, "seed": 1};
                {} for the method's defaults. "seed": -1 draws a random seed, given back in the reply's seed.
            chat: wrap the prompt in the model's chat template.
            stop: stop strings, one per line.
            engine: "llama.cpp", "transformers", "remote" (the operator's serving engine, where one is set up) or ""
                (the fastest that can run the method here).
        """
        run = dict(prompt=prompt, model=model, method=method, params=params, chat=chat, engine=engine)
        yield from _generation_stream(backend, request, **run, stop=stop)

    _api(generate_api, api_name="generate", **pool)

    @_api_returns(GenerateReply, "generation")
    @_user_errors
    def branch_api(
        request: gr.Request,
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        method: str = "greedy",
        params: dict | None = EXAMPLE_PARAMS,  # noqa: B006 (never mutated)
        chat: bool = True,
        engine: str = "",
        prefix: list[int] = list(EXAMPLE_PREFIX),  # noqa: B006
    ):
        """Continue a run after tokens you choose (a branch): the prompt, then prefix, then what the method generates.

        Args:
            prompt: the prompt (the chat template wraps it when chat is true).
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            method: a decoding method key; params: its parameters and the common ones (max_new_tokens, seed ...).
            chat: wrap the prompt in the model's chat template.
            engine: the engine of the run you branch from ("llama.cpp", "transformers", "remote"), or "" for the
                fastest.
            prefix: token ids after the prompt: the original run's tokens up to a position, then another candidate.
                The reply's tokens are what follows them.
        """
        run = dict(prompt=prompt, model=model, method=method, params=params, chat=chat, engine=engine)
        yield from _generation_stream(backend, request, **run, prefix=prefix)

    _api(branch_api, api_name="branch", **pool)


def _beam_tree_endpoint(backend: Backend, pool: dict[str, Any]) -> None:
    """``/beam_tree``."""

    @_api_returns(BeamTreeReply, "beam_tree")
    @_user_errors
    def beam_tree_api(
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        params: dict | None = EXAMPLE_TREE_PARAMS,
        chat: bool = True,
    ):  # noqa: B006
        """Beam search with every hypothesis it kept at each step: the tree's nodes and the returned beams.

        Args:
            prompt: the prompt.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            params: beam search's parameters, e.g. {"num_beams": 4, "max_new_tokens": 16}: at most 8 beams; a
                longer max_new_tokens than 32 draws a search of 32 tokens and says so in notes.
            chat: wrap the prompt in the model's chat template.
        """
        return beam_tree_reply(
            backend.beam_tree(model=model, prompt=prompt, chat=_flag(chat, "chat"), params=params or {})
        )

    _api(beam_tree_api, api_name="beam_tree", **pool)


def _arena_endpoint(backend: Backend, pool: dict[str, Any]) -> None:
    """``/arena``."""

    @_api_returns(ArenaReply, "arena")
    @_user_errors
    def arena_api(
        request: gr.Request,
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        methods: list[str] = list(EXAMPLE_ARENA_METHODS),  # noqa: B006
        params: dict | None = EXAMPLE_PARAMS,
        chat: bool = True,
        engines: list[str] = [],  # noqa: B006 (Gradio shows the default in the API page)
    ):
        """2 to 4 runs on one prompt, model and seed, streamed as each finishes; the last has done=true.

        Args:
            prompt: the prompt.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            methods: decoding method keys, e.g. ["greedy", "top_p", "beam"]; each runs with its defaults.
            params: the common parameters for every run, e.g. {"max_new_tokens": 32, "seed": 1}.
            chat: wrap the prompt in the model's chat template.
            engines: two or more engines, e.g. ["llama.cpp", "transformers"]: every method runs on every engine
                (2 to 4 runs in all); [] (none): each method on the fastest engine that can run it.
        """
        # the arguments' types are checked already (_checked)
        for step in backend.arena(
            model=model,
            prompt=prompt,
            methods=list(methods),
            params=params or {},
            chat=_flag(chat, "chat"),
            visitor=_visitor(request),
            engines=[str(e) for e in engines] if engines else None,
        ):
            yield arena_reply(step)

    _api(arena_api, api_name="arena", **pool)


def _inside_endpoints(backend: Backend, pool: dict[str, Any]) -> None:
    """``/surprisal`` and ``/next_token``: the Inside tab's numbers."""

    @_api_returns(SurprisalReply, "surprisal")
    @_user_errors
    def surprisal_api(prompt: str = INSIDE_PROMPT, model: str = DEFAULT_MODEL, chat: bool = False):
        """How surprising each prompt token is to the model: its log-probability given what precedes it.

        Args:
            prompt: the text to score.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            chat: score the prompt wrapped in the model's chat template.
        """
        return surprisal_reply(backend.surprisal(model=model, prompt=prompt, chat=_flag(chat, "chat")))

    _api(surprisal_api, api_name="surprisal", **pool)
    _api(_next_token_endpoint(backend), api_name="next_token", **pool)


def _next_token_endpoint(backend: Backend) -> Any:
    @_api_returns(NextTokenReply, "next_token")
    @_user_errors
    def next_token_api(
        prompt: str = INSIDE_PROMPT,
        model: str = DEFAULT_MODEL,
        chat: bool = False,
        method: str = "top_p",
        params: dict | None = EXAMPLE_STAGE_PARAMS,  # noqa: B006
        probes: str = "Paris",
        position: int = 0,
    ):
        """The next-token distribution after the prompt, through each stage of the method's pipeline.

        Args:
            prompt: the text so far.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            chat: wrap the prompt in the model's chat template first.
            method: a decoding method key (its stages: repetition penalty, temperature, top-k, top-p, ...).
            params: the method's parameters, e.g. {"top_p": 0.9, "temperature": 0.8}.
            probes: words or tokens, one per line, whose probability and rank every stage reports.
            position: the distribution after the prompt's first N tokens (0: after the whole prompt).
        """
        result = backend.next_token(
            model=model,
            prompt=prompt,
            chat=_flag(chat, "chat"),
            method=method,
            params=params or {},
            probes=probes or "",
            position=position,
        )
        return next_token_reply(result)

    return next_token_api


def _language_cost_endpoint(backend: Backend, pool: dict[str, Any]) -> None:
    """``/language_cost`` (the Languages tab registers it)."""

    @_api_returns(LanguageCostReply, "language_cost")
    @_user_errors
    def language_cost(tokenizers: list[str] = list(EXAMPLE_LANGUAGE_TOKENIZERS), text: str = ""):  # noqa: B006
        """What a language costs: the same passage (UDHR Articles 1-3) in 32 languages through each tokenizer.

        Args:
            tokenizers: built-in keys or Hub repo ids, e.g. ["gpt2", "o200k_base"] (at most the server's loaded
                tokenizer limit).
            text: your own text, one more row with language "own" (up to 20,000 characters); "" for none.
        """
        return language_cost_reply(measure(service=backend.tokenization, tokenizers=tokenizers, own_text=text))

    _api(language_cost, api_name="language_cost", **pool)
