"""``/logit_lens``, ``/lens_probe``, ``/attention`` and ``/model_diff``: the Layers tab's numbers through the API (the
CLI's ``lens``, ``attention`` and ``diff-models`` with ``--json`` give the same replies, built by ``rsdemo.api``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.model_diff import ModelDiffReply, model_diff_reply
from ..api.views import attention_reply, lens_probe_reply, lens_reply
from ..api_schema import EXAMPLE_LENS_PROMPT, AttentionReply, LensProbeResult, LensReply
from ..arguments import whole
from ..backend import Backend
from ..catalog import DEFAULT_MODEL
from ..insight import views
from ..insight.model_diff_pass import model_diff
from .api import _api, _api_returns
from .errors import _user_errors

__all__ = ["EXAMPLE_DIFF_TEXT", "layers_endpoints"]

EXAMPLE_DIFF_TEXT = "The capital of France is Paris."  # the /model_diff example


def _at(value: int, count: int, name: str, also: str) -> int:
    """``value`` from 0 (or -1: the last) within ``count``, as an index."""
    return whole(value, name=name, minimum=-1, maximum=count - 1, also=also) % count


def layers_endpoints(
    backend: Backend,
    pool: dict[str, Any],
    *,
    lens_run: Callable[..., Any],
    attention_run: Callable[..., Any],
    diff_run: Callable[..., Any],
) -> None:
    """Register the three endpoints (``*_run``: the model work, wrapped for ZeroGPU once, at start)."""

    @_api_returns(LensReply, "logit_lens")
    @_user_errors
    def logit_lens(
        prompt: str = EXAMPLE_LENS_PROMPT,
        model: str = DEFAULT_MODEL,
        chat: bool = False,
        probes: str = "Paris",
        position: int = -1,
    ):
        """The logit lens: every layer's residual stream read through the model's final norm and output layer.

        Args:
            prompt: the text (at most the server's scored-token limit).
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            chat: wrap the prompt in the model's chat template first.
            probes: words or tokens, one per line, followed through the layers at `position`.
            position: the probes' position, from 0 (-1: the last token).
        """
        result = views.kept_lens(service=backend, model=model, prompt=prompt, chat=chat, run=lens_run)
        at = _at(position, len(result.ids), "position", " (-1: the last token)")
        return lens_reply(result, views.lens_probe(service=backend, result=result, probes=probes, position=at))

    @_api_returns(LensProbeResult, "lens_probe")
    @_user_errors
    def lens_probe(
        prompt: str = EXAMPLE_LENS_PROMPT,
        model: str = DEFAULT_MODEL,
        chat: bool = False,
        probes: str = "Paris",
        position: int = -1,
        layer: int = -1,
    ):
        """One cell's top 10 and the probes at a position; a prompt the lens ran lately is not run again.

        Args:
            prompt: the text, as sent to /logit_lens.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            chat: wrap the prompt in the model's chat template first.
            probes: words or tokens, one per line.
            position: the position, from 0 (-1: the last token).
            layer: the lens row: 0 the embeddings, 1..N the layers' outputs (-1: the last).
        """
        result = views.kept_lens(service=backend, model=model, prompt=prompt, chat=chat, run=lens_run)
        at = _at(position, len(result.ids), "position", " (-1: the last token)")
        row = _at(layer, len(result.layers), "layer", " (0: the embeddings; -1: the last layer)")
        found = views.lens_probe(service=backend, result=result, probes=probes, position=at)
        return lens_probe_reply(result, found, position=at, layer=row)

    for fn, name in ((logit_lens, "logit_lens"), (lens_probe, "lens_probe")):
        _api(fn, api_name=name, **pool)
    _attention_endpoint(backend, pool, attention_run)
    _model_diff_endpoint(backend, pool, diff_run)


def _attention_endpoint(backend: Backend, pool: dict[str, Any], attention_run: Callable[..., Any]) -> None:
    @_api_returns(AttentionReply, "attention")
    @_user_errors
    def attention(
        prompt: str = EXAMPLE_LENS_PROMPT,
        model: str = DEFAULT_MODEL,
        chat: bool = False,
        layer: int = 1,
        head: int = -1,
        position: int = -1,
    ):
        """One layer's attention weights, every query head, and what one token attended to (at most 128 tokens).

        Attention weights show where a head looked, not why the model answered as it did; they are not explanations.

        Args:
            prompt: the text (at most 128 tokens).
            model: a built-in model key (a Llama-style model) or a Hub causal-LM repo id owner/name.
            chat: wrap the prompt in the model's chat template first.
            layer: the decoder layer, from 1.
            head: one query head, from 0 (-1: every head's weights, and the token's list averaged over them).
            position: the token whose attention is listed, from 0 (-1: the last token).
        """
        result = views.attention(service=backend, model=model, prompt=prompt, layer=layer, chat=chat, run=attention_run)
        at = _at(position, len(result.ids), "position", " (-1: the last token)")
        one = whole(head, name="head", minimum=-1, maximum=result.heads - 1, also=" (-1: the mean of all heads)")
        return attention_reply(result, layer=layer, head=None if one < 0 else one, position=at)

    _api(attention, api_name="attention", **pool)


def _model_diff_endpoint(backend: Backend, pool: dict[str, Any], diff_run: Callable[..., Any]) -> None:
    @_api_returns(ModelDiffReply, "model_diff")
    @_user_errors
    def model_diff_api(
        text: str = EXAMPLE_DIFF_TEXT,
        model_a: str = DEFAULT_MODEL,
        model_b: str = DEFAULT_MODEL,
        engine_a: str = "transformers",
        engine_b: str = "llama.cpp",
    ):
        """Two models (or one model on two engines) on one text: each token's log-probability, aligned by characters.

        Args:
            text: the text both read (at most the server's scored-token limit for each model).
            model_a: a built-in model key or a Hub causal-LM repo id owner/name.
            model_b: the other model (the same key with another engine compares the engines' arithmetic).
            engine_a: "transformers" or "llama.cpp" (built-in GGUF models only).
            engine_b: as engine_a.
        """
        return model_diff_reply(
            model_diff(
                service=backend,
                model_a=model_a,
                model_b=model_b,
                text=text,
                engine_a=engine_a,
                engine_b=engine_b,
                run=diff_run,
            )
        )

    _api(model_diff_api, api_name="model_diff", **pool)
