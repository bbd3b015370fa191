"""The ``lens`` and ``attention`` commands: the logit lens grid, and one layer's attention weights.

python -m rsdemo lens "The capital of France is"
python -m rsdemo lens --probe Paris --every 1 --json "The capital of France is"
python -m rsdemo attention --layer 3 --head 4 "The capital of France is"

>>> _shade(0.0), _shade(1.0), _cut(" Paris, France", 6)
(' ', '@', '" Par…')
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any, TextIO

from ..api.views import attention_reply, lens_reply
from ..backend import Backend
from ..catalog import DEFAULT_MODEL
from ..insight import views
from ..insight.attention import MAX_ATTENTION_TOKENS, AttentionResult, attended_to, head_matrix
from ..insight.lens import LensResult

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = frozenset({"lens", "attention"})
_SHADES = " .:-=+*#%@"


def add_commands(sub: Any) -> None:
    """Add ``lens`` and ``attention`` to the CLI's subcommands."""
    lens = sub.add_parser(
        "lens",
        help="the logit lens: what each layer would predict at each token (one forward pass)",
        description="Every layer's residual stream read through the model's final norm and unembedding. Rows: "
        "positions; columns: emb (the embeddings), then the output of each layer; the last column is the model's "
        "real prediction. Each cell: the top token and its probability; '^N' gives the final choice's rank there.",
    )
    lens.add_argument("-m", "--model", default=DEFAULT_MODEL)
    lens.add_argument("--chat", action=argparse.BooleanOptionalAction, default=False)
    lens.add_argument("--every", type=int, default=3, help="print every Nth layer's column (default 3; 1: all)")
    lens.add_argument("--probe", action="append", default=[], help="a word to follow through the layers (repeatable)")
    lens.add_argument("--position", type=int, default=None, help="the probes' position (default: the last token)")
    lens.add_argument("--json", action="store_true", help="print one JSON object: every cell's top token, probes")
    lens.add_argument("text", nargs="?", help="the prompt; read from standard input when omitted")
    att = sub.add_parser(
        "attention",
        help=f"one layer's attention weights over a prompt of at most {MAX_ATTENTION_TOKENS} tokens",
        description="Where each head looked. Attention weights show where a head looked, not why the model "
        "answered as it did; they are not explanations.",
    )
    att.add_argument("-m", "--model", default=DEFAULT_MODEL)
    att.add_argument("--chat", action=argparse.BooleanOptionalAction, default=False)
    att.add_argument("--layer", type=int, default=1, help="the decoder layer, from 1 (default 1)")
    att.add_argument("--head", type=int, default=None, help="one query head, from 0 (default: the mean of all)")
    att.add_argument("--position", type=int, default=None, help="the token whose attention to list (default last)")
    att.add_argument("--json", action="store_true", help="print one JSON object: the weights and the token's list")
    att.add_argument("text", nargs="?", help="the prompt; read from standard input when omitted")


def run(args: argparse.Namespace, backend: Backend, stdin: TextIO, out: TextIO) -> int:
    """Run ``lens`` or ``attention``; errors propagate (the CLI prints them and exits 2)."""
    text = args.text if args.text is not None else stdin.read()
    if args.command == "lens":
        result = views.logit_lens(service=backend, model=args.model, prompt=text, chat=args.chat)
        probes = views.lens_probe(service=backend, result=result, probes=args.probe, position=args.position)
        if args.json:
            out.write(json.dumps(lens_reply(result, probes), ensure_ascii=False) + "\n")
        else:
            out.write(_lens_text(result, probes, every=max(1, args.every)) + "\n")
        return 0
    result = views.attention(service=backend, model=args.model, prompt=text, layer=args.layer, chat=args.chat)
    position = len(result.ids) - 1 if args.position is None else args.position
    row = attended_to(result, position=position, layer=args.layer, head=args.head)
    if args.json:
        out.write(
            json.dumps(
                attention_reply(result, layer=args.layer, head=args.head, position=position, row=row),
                ensure_ascii=False,
            )
        )
        out.write("\n")
    else:
        out.write(_attention_text(result, args.layer, args.head, position, row) + "\n")
    return 0


def _cut(text: str, width: int) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if len(quoted) <= width else quoted[: width - 1] + "…"


def _shade(weight: float) -> str:
    return _SHADES[min(len(_SHADES) - 1, round(math.sqrt(max(0.0, weight)) * (len(_SHADES) - 1)))]


def _lens_text(result: LensResult, probes: tuple[Any, ...], *, every: int) -> str:
    last = len(result.layers) - 1
    columns = [k for k in range(len(result.layers)) if k % every == 0 or k == last]
    lines = [f"{'token':<14}" + "".join(f"{result.layers[k]:<15}" for k in columns)]
    for pos, token_id in enumerate(result.ids):
        cells = []
        for k in columns:
            top = int(result.top_ids[pos, k, 0])
            prob = math.exp(float(result.top_logprobs[pos, k, 0]))
            rank = int(result.final_rank[pos, k])
            mark = "" if rank == 1 else f"^{rank}" if rank < 1000 else "^1k+"
            cells.append(f"{_cut(result.pieces.get(top, ''), 8)} {round(100 * prob):>2}{mark}"[:14].ljust(15))
        lines.append(f"{_cut(result.pieces.get(token_id, ''), 13):<14}" + "".join(cells))
    lines.append("cell: top token, its probability (%), ^N the rank there of the last column's choice")
    for probe in probes:
        curve = " ".join("  -" if p is None else f"{100 * p:3.0f}" for p in probe.probs[::every])
        rises = "never leads" if probe.rises_at is None else f"leads from {result.layers[probe.rises_at]}"
        lines.append(f"probe {_cut(probe.piece, 16)} (id {probe.token_id}) at {probe.position}: {rises}; % {curve}")
    return "\n".join(lines)


def _attention_text(result: AttentionResult, layer: int, head: int | None, position: int, row: Any) -> str:
    tokens = [result.pieces.get(i, "") for i in result.ids]
    matrix = head_matrix(result, layer=layer, head=head) if head is not None else None
    if matrix is None:
        matrix = sum(head_matrix(result, layer=layer, head=h) for h in range(result.heads)) / result.heads
    who = f"head {head} (key/value head {result.kv_head[head]})" if head is not None else "mean of all heads"
    lines = [f"layer {layer}, {who}: a row is a token, '@' most weight on an earlier token, ' ' none"]
    lines += [
        f"{q:>4} {_cut(tokens[q], 14):<15}" + "".join(_shade(float(w)) for w in matrix[q]) for q in range(len(tokens))
    ]
    lines.append(f"what {_cut(tokens[position], 20)} (position {position}) attended to:")
    for key in sorted(range(position + 1), key=lambda k: -float(row[k]))[:10]:
        lines.append(f"  {key:>4} {_cut(tokens[key], 20):<22} {100 * float(row[key]):5.1f}%")
    lines.append(
        "Attention weights show where a head looked, not why the model answered as it did; they are not explanations."
    )
    return "\n".join(lines)
