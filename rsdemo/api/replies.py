"""One builder per API reply: a backend result in, the JSON-ready TypedDict of ``rsdemo.api_schema`` out.

Where a result type already knows its JSON form (``as_dict``, beside its fields), the builder uses it: one body
per reply. ``/compare``, ``/decode`` and ``/generate`` are built here.

>>> from rsdemo import Backend
>>> reply = tokenize_reply(Backend().tokenize(text="Hi!", tokenizer="char"))
>>> reply["ids"], [s["text"] for s in reply["segments"]], reply["stats"]["tokens"]
([72, 105, 33], ['H', 'i', '!'], 3)
"""

from __future__ import annotations

from typing import Any

from ..api_schema import (
    ArenaReply,
    BeamTreeReply,
    CompareReply,
    DecodeReply,
    ExplainReply,
    GenerateReply,
    LanguageCostReply,
    NextTokenReply,
    SurprisalReply,
    TokenizeReply,
    TokenReply,
    VocabReply,
)

__all__ = [
    "arena_reply",
    "beam_tree_reply",
    "compare_reply",
    "decode_reply",
    "explain_reply",
    "generate_reply",
    "language_cost_reply",
    "next_token_reply",
    "surprisal_reply",
    "token_reply",
    "tokenize_reply",
    "vocab_reply",
]


def token_reply(token: Any) -> TokenReply:
    """A vocabulary entry (``TokenInfo``): id, piece, bytes as hex (None for a special token without bytes)."""
    return token.as_dict()


def tokenize_reply(result: Any) -> TokenizeReply:
    """``/tokenize``: every id, the segments of the first tokens, stats over the whole text (``TokenizeResult``)."""
    return result.as_dict()


def compare_reply(step: Any) -> CompareReply:
    """``/compare``, one message per finished tokenizer (``CompareResult``); ``differing`` once ``done``."""
    return {
        "done": step.done,
        "results": [
            {
                "tokenizer": r.info.key,
                "stats": r.stats.as_dict(),
                "differing": step.differing[n] if step.done else None,
            }
            for n, r in enumerate(step.results)
        ],
    }


def decode_reply(result: Any) -> DecodeReply:
    """``/decode``: the text and each id's vocabulary entry (``DecodeResult``)."""
    return {"text": result.text, "tokens": [token_reply(t) for t in result.tokens]}


def generate_reply(result: Any) -> GenerateReply:
    """``/generate`` and ``/branch``: the run so far (``GenerationResult``); ``prob`` falls back to ``raw_prob``."""
    return {
        "model": result.model,
        "method": result.method,
        "seed": result.seed,
        "done": result.done,
        "text": result.text,
        "tokens": [
            {
                "id": t.id,
                "text": t.text,
                "piece": t.piece,
                "prob": t.prob if t.prob is not None else t.raw_prob,
                "raw_prob": t.raw_prob,
            }
            for t in result.tokens
        ],
        "beams": [{"text": b.text, "score": b.score} for b in result.beams],
        "finish_reason": result.finish_reason,
        "logprob": result.logprob,
        "perplexity": result.perplexity,
        "engine": result.engine,
        "engine_reason": result.engine_reason,
        "notes": list(result.notes),
        "waiting": result.waiting,
        "preparing": result.preparing,
        "load_s": result.load_s,
        "ttft_s": result.ttft_s,
    }


def surprisal_reply(result: Any) -> SurprisalReply:
    """``/surprisal``: each prompt token's log-probability, the mean, the perplexity, the most surprising."""
    return result.as_dict()


def next_token_reply(result: Any) -> NextTokenReply:
    """``/next_token``: the distribution after each of the method's stages, with the probes' places in it."""
    return result.as_dict()


def arena_reply(step: Any) -> ArenaReply:
    """``/arena``, one message per finished method (``ArenaResult``): each output and its row of numbers."""
    return step.as_dict()


def beam_tree_reply(result: Any) -> BeamTreeReply:
    """``/beam_tree``: the returned beams (best first) and every node of the recorded search."""
    return result.as_dict()


def language_cost_reply(result: Any) -> LanguageCostReply:
    """``/language_cost``: one row per tokenizer and language (``LanguageCostTable``)."""
    return result.as_dict()


def explain_reply(why: Any) -> ExplainReply:
    """``/explain``: the replay of one token (``Explanation``)."""
    return why.as_dict()


def vocab_reply(result: Any) -> VocabReply:
    """``/vocab``: a vocabulary browse (``VocabResult``)."""
    return result.as_dict()
