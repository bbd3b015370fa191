"""One builder per API reply: a backend result in, the JSON-ready TypedDict of ``rsdemo.api.schema`` out.

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
    GenerateReply,
    NextTokenReply,
    SurprisalReply,
    TokenizeReply,
    TokenReply,
)

__all__ = [
    "arena_reply",
    "beam_tree_reply",
    "compare_reply",
    "decode_reply",
    "generate_reply",
    "next_token_reply",
    "surprisal_reply",
    "token_reply",
    "tokenize_reply",
]


def token_reply(token: Any) -> TokenReply:
    """A vocabulary entry (``TokenInfo``): id, piece, bytes as hex (None for a special token without bytes)."""
    return {"id": token.id, "piece": token.piece, "bytes": token.bytes_hex, "special": token.special}


def tokenize_reply(result: Any) -> TokenizeReply:
    """``/tokenize``: every id, the segments of the first tokens, stats over the whole text (``TokenizeResult``)."""
    return {
        "tokenizer": result.info.key,
        "ids": result.ids,
        "segments": [{"text": s.text, "ids": list(s.ids), "start": s.start, "kind": s.kind} for s in result.segments],
        "truncated": result.truncated,
        "stats": result.stats.as_dict(),
    }


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
    s = result.surprisal
    return {
        "model": result.model,
        "prompt": result.prompt.text,
        "tokens": [{"id": t.id, "text": t.text, "logprob": lp} for t, lp in zip(result.tokens, s.logprobs)],
        "mean_logprob": s.mean_logprob,
        "perplexity": s.perplexity,
        "most_surprising": [
            {"position": k, "text": result.tokens[k].text, "logprob": s.logprobs[k]} for k in s.most_surprising
        ],
    }


def next_token_reply(result: Any) -> NextTokenReply:
    """``/next_token``: the distribution after each of the method's stages, with the probes' places in it."""
    return {
        "model": result.model,
        "method": result.method,
        "samples": result.view.samples,
        "stages": [
            {
                "name": row.name,
                "survivors": row.survivors,
                "entropy_bits": row.entropy_bits,
                "top": [{"id": i, "text": result.pieces.get(i, ""), "prob": p} for i, p in row.top],
                "probes": [
                    {
                        "typed": typed,
                        "id": i,
                        "prob": row.probes.get(i, (0.0, None))[0],
                        "rank": row.probes.get(i, (0.0, None))[1],
                    }
                    for typed, i in result.probes
                ],
            }
            for row in result.view.rows
        ],
    }


def arena_reply(step: Any) -> ArenaReply:
    """``/arena``, one message per finished method (``ArenaResult``): each output and its row of numbers."""
    return {
        "done": step.done,
        "scored_by": step.scored_by,
        "outputs": [
            {
                "method": run.method,
                "text": run.text,
                "engine": run.engine,
                "tokens": [t.id for t in run.tokens],
                "length": row.length,
                "logprob": row.logprob,
                "perplexity": row.perplexity,
                "distinct_1": row.distinct_1,
                "distinct_2": row.distinct_2,
                "distinct_3": row.distinct_3,
                "repeated_3": row.repeated_3,
                "diverges_at": row.diverges_at,
                "same_as": row.same_as,
                "start_of": row.start_of,
                "seconds": row.seconds,
            }
            for run, row in zip(step.runs, step.rows)
        ],
    }


def beam_tree_reply(result: Any) -> BeamTreeReply:
    """``/beam_tree``: the returned beams (best first) and every node of the recorded search."""
    return {
        "model": result.model,
        "notes": list(result.notes),
        "beams": [
            {"text": t, "score": s, "tokens": list(r)}
            for t, s, r in zip(result.texts, result.scores, result.tree.returned)
        ],
        "nodes": [
            {
                "path": list(n.path),
                "token": n.token,
                "text": result.pieces.get(n.token, ""),
                "logprob": n.logprob,
                "cumulative": n.cumulative,
                "status": n.status,
            }
            for n in result.tree.nodes
        ],
    }
