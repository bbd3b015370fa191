"""The ``diff-models`` command: two models (or one model on two engines) on one text, aligned by characters.

python -m rsdemo diff-models --model-b gemma3-270m "The capital of France is Paris."
python -m rsdemo diff-models --model-b smollm2-135m-instruct --engine-b llama.cpp --json "Hello world"

>>> _quoted("a\\nb", 7), _quoted("abcdefgh", 6)
('"a\\\\nb"', '"abcd…')
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..api.model_diff import model_diff_reply
from ..backend import Backend
from ..catalog import DEFAULT_MODEL
from ..insight.model_diff_pass import ENGINES, ModelDiffResult, model_diff

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = frozenset({"diff-models"})


def add_commands(sub: Any) -> None:
    """Add ``diff-models`` to the CLI's subcommands."""
    diff = sub.add_parser(
        "diff-models",
        help="two models (or one model on two engines) on one text: where each is more surprised",
        description="Each model reads the text with its own tokenizer (after its start-of-document token) in one "
        "teacher-forced pass. Their log-probabilities are compared over segments: the stretches between the places "
        "both models end a token. A-B > 0: A is more surprised there.",
    )
    diff.add_argument("--model-a", default=DEFAULT_MODEL, help=f"model A (default {DEFAULT_MODEL})")
    diff.add_argument("--model-b", required=True, help="model B (gemma3-270m, or model A again on another engine)")
    diff.add_argument("--engine-a", default="transformers", choices=list(ENGINES), help="model A's engine")
    diff.add_argument("--engine-b", default="transformers", choices=list(ENGINES), help="model B's engine")
    diff.add_argument("--top", type=int, default=5, help="segments listed each way (default 5)")
    diff.add_argument("--json", action="store_true", help="print one JSON object: both models' tokens, segments")
    diff.add_argument("text", nargs="?", help="the text; read from standard input when omitted")


def run(args: argparse.Namespace, backend: Backend, stdin: TextIO, out: TextIO) -> int:
    """Run ``diff-models``; errors propagate (the CLI prints them and exits 2)."""
    text = args.text if args.text is not None else stdin.read()
    result = model_diff(
        service=backend,
        model_a=args.model_a,
        model_b=args.model_b,
        text=text,
        engine_a=args.engine_a,
        engine_b=args.engine_b,
    )
    if args.json:
        out.write(json.dumps(model_diff_reply(result), ensure_ascii=False) + "\n")
    else:
        out.write(_text(result, top=max(0, args.top)) + "\n")
    return 0


def _quoted(text: str, width: int) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if len(quoted) <= width else quoted[: width - 1] + "…"


def _num(value: float | None, width: int = 8) -> str:
    return f"{'—':>{width}}" if value is None else f"{value:{width}.2f}"


def _text(result: ModelDiffResult, *, top: int) -> str:
    c, t = result.comparison, result.comparison.totals
    lines = []
    sides = (("A", result.a, t.bits_a, t.bits_per_char_a), ("B", result.b, t.bits_b, t.bits_per_char_b))
    for label, side, bits, per_char in sides:
        rate = "" if per_char is None else f", {per_char:.3f} bits/char"
        head = f"{label}: {side.model} ({side.engine}): {len(side.ids)} tokens"
        lines.append(f"{head}, {bits:.1f} bits{rate}, {side.seconds:.2f} s")
    lines.append(f"{t.chars} characters compared in {len(c.segments)} segments ({t.unscored_chars} not scored)")
    lines.append(f"{'segment':<24}{'A bits':>8}{'B bits':>8}{'A-B':>8}")
    for seg in c.segments:
        text = _quoted(result.text[seg.start : seg.end], 23)
        lines.append(f"{text:<24}{_num(seg.bits_a)}{_num(seg.bits_b)}{_num(seg.delta_bits)}")
    for more, less, picked in (("A", "B", c.a_surprised), ("B", "A", c.b_surprised)):
        lines.append(f"Where {more} is more surprised than {less}:")
        for k in picked[:top]:
            seg = c.segments[k]
            text = _quoted(result.text[seg.start : seg.end], 23)
            lines.append(f"  {text:<24}A {_num(seg.bits_a, 6)}  B {_num(seg.bits_b, 6)}  A-B {_num(seg.delta_bits, 6)}")
        if not picked:
            lines.append("  (none)")
    lines.append("bits: -log2 p(segment | the text before it); A-B > 0: A is more surprised there")
    return "\n".join(lines)
