"""The ``explain`` and ``vocab`` commands: why a token is what it is, and a tokenizer's vocabulary.

python -m rsdemo explain --tokenizer gpt2 "unbelievable" --index 0
python -m rsdemo vocab --tokenizer gpt2 --search " the"
python -m rsdemo vocab --tokenizer mistral-v1 --longest --json
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..api import explain_reply, vocab_reply
from ..backend import Backend
from ..catalog import DEFAULT_TOKENIZER
from ..core.inputs import check_text
from ..tokenization.explain import Explanation, explain_token
from ..tokenization.vocab import VocabResult, browse_vocab

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = frozenset({"explain", "vocab"})


def add_commands(sub: Any) -> None:
    """Add ``explain`` and ``vocab`` to the CLI's subcommands."""
    exp = sub.add_parser("explain", help="replay how the tokenizer arrived at one token of TEXT (why this split)")
    exp.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER)
    exp.add_argument("--index", type=int, default=0, help="the token's position in the ids, from 0 (default 0)")
    exp.add_argument("--special", action="store_true", help="count the special tokens the tokenizer adds")
    exp.add_argument("--json", action="store_true", help="print one JSON object (what /explain returns)")
    exp.add_argument("text", nargs="?", help="the text; read from standard input when omitted")
    voc = sub.add_parser("vocab", help="look up ids and pieces, search pieces, the longest and the special tokens")
    voc.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER)
    what = voc.add_mutually_exclusive_group(required=True)
    what.add_argument("--search", metavar="S", help="every piece containing S (or whose text does)")
    what.add_argument("--id", metavar="N", help="the entry with id N")
    what.add_argument("--piece", metavar="P", help="the entry whose piece (or text) is exactly P")
    what.add_argument("--longest", action="store_true", help="the longest tokens, by bytes")
    what.add_argument("--special", action="store_true", help="the special tokens")
    voc.add_argument("--limit", type=int, default=100, help="at most this many entries (default 100, at most 500)")
    voc.add_argument("--json", action="store_true", help="print one JSON object (what /vocab returns)")


def run(args: argparse.Namespace, backend: Backend, stdin: TextIO, out: TextIO) -> int:
    """Run ``explain`` or ``vocab``; errors propagate (the CLI prints them and exits 2)."""
    info = backend.info(args.tokenizer)
    adapter = backend.adapter(args.tokenizer)
    if args.command == "explain":
        text = args.text if args.text is not None else stdin.read()
        check_text(text, max_chars=backend.settings.max_text_chars)
        why = explain_token(
            adapter=adapter, key=info.key, family=info.family, text=text, index=args.index,
            add_special_tokens=args.special,
        )  # fmt: skip
        out.write((json.dumps(explain_reply(why), ensure_ascii=False) if args.json else _explain_text(why)) + "\n")
        return 0
    for mode in ("search", "id", "piece"):
        if getattr(args, mode) is not None:
            query = getattr(args, mode)
            break
    else:
        mode, query = ("longest" if args.longest else "special"), ""
    result = browse_vocab(adapter=adapter, key=info.key, mode=mode, query=query, limit=args.limit)
    out.write((json.dumps(vocab_reply(result), ensure_ascii=False) if args.json else _vocab_text(result)) + "\n")
    return 0


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _explain_text(why: Explanation) -> str:
    lines = [f"token #{why.index}: id {why.token_id} {_q(why.piece)} ({why.family or why.kind})", why.sentence]
    if why.chunk:
        lines.append(f"chunk {_q(why.chunk)} -> {' '.join(map(_q, why.chunk_tokens[:60]))}")
    if why.start:
        lines.append(f"  start      {' '.join(map(_q, why.start))}")
    for step in why.steps:
        rank = f"score {step.score:.2f}" if step.score is not None else f"rank {step.rank}"
        lines.append(f"  {rank:<10} {_q(step.left)} + {_q(step.right)} -> {' '.join(map(_q, step.parts))}")
    for seg in why.segmentations:
        mark = "*" if seg.chosen else " "
        lines.append(f"  {mark} {seg.log_prob:9.3f}  {' '.join(map(_q, seg.pieces[:60]))}")
    for wp in why.wordpiece:
        lines.append(f"  at {wp.position}: {_q(wp.piece)} (id {wp.token_id}; {wp.tried} longer not in the vocabulary)")
    lines.extend(why.notes)
    return "\n".join(lines)


def _vocab_text(result: VocabResult) -> str:
    lines = [f"{e.id:>8}  {_q(e.piece):<24} {_q(e.text):<20} {e.bytes}" for e in result.entries]
    lines.append(f"{len(result.entries):,} shown of {result.total:,}; vocabulary {result.vocab_size:,}")
    if result.note:
        lines.append(result.note)
    return "\n".join(lines)
