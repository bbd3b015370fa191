"""The logit lens' and the attention view's API replies (``/logit_lens``, ``/lens_probe``, ``/attention``), also
the CLI's ``--json``: one builder per reply, the shapes of ``rsdemo.api_schema``.

>>> import numpy as np
>>> from rsdemo.insight.lens import LensResult
>>> ids = np.array([[[5, 7], [7, 5]]], dtype=np.int32)
>>> lp = np.log(np.array([[[0.6, 0.3], [0.9, 0.05]]], dtype=np.float32))
>>> result = LensResult("m", (5,), ("emb", "1"), ids, lp, np.array([7], dtype=np.int32),
...     np.array([[2, 1]], dtype=np.int32), lp[:, :, 1], np.zeros((2, 8), dtype=np.float32), {5: "a", 7: " b"})
>>> reply = lens_reply(result, ())
>>> [c["text"] for c in reply["cells"][0]], reply["final"][0]["text"], reply["cells"][0][0]["final_rank"]
(['a', ' b'], ' b', 2)
>>> lens_probe_reply(result, (), position=0, layer=1)["top"][0]
{'id': 7, 'text': ' b', 'prob': 0.9}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..api_schema import AttentionReply, LensProbeReply, LensProbeResult, LensReply
from ..insight.attention import AttentionResult, attended_to, head_matrix
from ..insight.lens import LensProbe, LensResult, cell

__all__ = ["ATTENTION_NOTE", "attention_reply", "lens_probe_reply", "lens_reply"]

ATTENTION_NOTE = (
    "Attention weights show where a head looked, not why the model answered as it did; they are not explanations."
)


def _prob(logprob: float) -> float:
    return round(math.exp(float(logprob)), 6)


def _probes(probes: Sequence[LensProbe]) -> list[LensProbeReply]:
    return [
        {
            "text": p.text,
            "id": p.token_id,
            "piece": p.piece,
            "position": p.position,
            "exact": p.exact,
            "probs": [None if v is None else round(v, 6) for v in p.probs],
            "ranks": list(p.ranks),
            "rises_at": p.rises_at,
        }
        for p in probes
    ]


def lens_reply(result: LensResult, probes: Sequence[LensProbe]) -> LensReply:
    """Every cell's top token (``cells[position][row]``), each position's final choice, and the probes."""
    last = len(result.layers) - 1
    cells = [
        [
            {
                "id": int(result.top_ids[pos, k, 0]),
                "text": result.pieces.get(int(result.top_ids[pos, k, 0]), ""),
                "prob": _prob(result.top_logprobs[pos, k, 0]),
                "final_rank": int(result.final_rank[pos, k]),
                "final_prob": _prob(result.final_logprob[pos, k]),
            }
            for k in range(len(result.layers))
        ]
        for pos in range(len(result.ids))
    ]
    final = [
        {"id": int(i), "text": result.pieces.get(int(i), ""), "prob": _prob(result.final_logprob[pos, last])}
        for pos, i in enumerate(result.final_ids)
    ]
    return {
        "model": result.model,
        "ids": [int(i) for i in result.ids],
        "tokens": [result.pieces.get(i, "") for i in result.ids],
        "layers": list(result.layers),
        "final": final,
        "cells": cells,
        "probes": _probes(probes),
    }


def lens_probe_reply(result: LensResult, probes: Sequence[LensProbe], *, position: int, layer: int) -> LensProbeResult:
    """The probes at ``position``, and the kept top 10 of the cell at ``position``, row ``layer`` (an index)."""
    top = [
        {"id": i, "text": result.pieces.get(i, ""), "prob": round(p, 6)}
        for i, p in cell(result, position=position, layer=layer)
    ]
    return {
        "model": result.model,
        "position": position,
        "layer": result.layers[layer],
        "top": top,
        "probes": _probes(probes),
    }


def attention_reply(
    result: AttentionResult, *, layer: int, head: int | None, position: int, row: Any | None = None
) -> AttentionReply:
    """One layer's weights (every query head, or ``head``) and what ``position`` attended to (over heads or one)."""
    if row is None:
        row = attended_to(result, position=position, layer=layer, head=head)
    heads = range(result.heads) if head is None else [head]
    return {
        "model": result.model,
        "ids": [int(i) for i in result.ids],
        "tokens": [result.pieces.get(i, "") for i in result.ids],
        "layer": layer,
        "kv_head": [int(k) for k in result.kv_head],
        "weights": {
            str(h): [[round(float(w), 4) for w in r] for r in head_matrix(result, layer=layer, head=h)] for h in heads
        },
        "position": position,
        "attended_to": [round(float(w), 4) for w in row[: position + 1]],
        "head": head,
        "note": ATTENTION_NOTE,
    }
