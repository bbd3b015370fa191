"""The command line: the same backend as the app.

    python -m rsdemo tokenizers
    python -m rsdemo tokenize -t gpt2 "Hello world"
    echo "Hello world" | python -m rsdemo tokenize -t llama3 --json
    python -m rsdemo decode -t gpt2 "[15496, 995]"

Errors print one clear line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from .backend import Backend
from .catalog import DEFAULT_TOKENIZER, TOKENIZERS
from .errors import RsdemoError

__all__ = ["main"]

_COLOURS = ("\x1b[43m", "\x1b[46m", "\x1b[42m", "\x1b[45m")
_RESET = "\x1b[0m"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rsdemo", description="Look inside tokenizers, offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tokenizers", help="list the built-in tokenizer keys")
    tok = sub.add_parser("tokenize", help="split TEXT (or standard input) into tokens")
    tok.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER,
                     help=f"a key from `tokenizers` or a Hub repo id (default {DEFAULT_TOKENIZER})")
    tok.add_argument("--special", action="store_true", help="add the tokenizer's special tokens (BOS/CLS/SEP)")
    tok.add_argument("--json", action="store_true", help="print one JSON object: ids, segments, stats")
    tok.add_argument("text", nargs="?", help="the text; read from standard input when omitted")
    dec = sub.add_parser("decode", help="decode token ids to text")
    dec.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER)
    dec.add_argument("--json", action="store_true")
    dec.add_argument("ids", nargs="?", help='ids such as "[15496, 995]" or "15496 995"; standard input when omitted')
    return parser


def _show_segments(result_segments: Sequence[object], out: TextIO, *, colour: bool) -> str:
    parts = []
    for n, seg in enumerate(result_segments):
        text = getattr(seg, "text", "")
        kind = getattr(seg, "kind", "token")
        if kind == "gap":
            parts.append(text)
        elif colour:
            parts.append(f"{_COLOURS[n % len(_COLOURS)]}{text or '∅'}{_RESET}")
        else:
            parts.append(f"[{text}]" if text else "[∅]")
    return "".join(parts)


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    backend = Backend()
    try:
        if args.command == "tokenizers":
            width = max(map(len, TOKENIZERS))
            for key, spec in TOKENIZERS.items():
                out.write(f"{key:<{width}}  {spec.family:<22}  {spec.label}\n")
            return 0
        if args.command == "tokenize":
            text = args.text if args.text is not None else stdin.read()
            result = backend.tokenize(
                text=text, tokenizer=args.tokenizer, add_special_tokens=args.special, display_limit=None
            )
            if args.json:
                out.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
            else:
                colour = out.isatty()
                out.write(_show_segments(result.segments, out, colour=colour) + "\n")
                out.write(f"ids: {result.ids}\n")
                s = result.stats
                out.write(
                    f"{s.tokens} tokens, {s.chars} chars, {s.bytes} bytes, {s.words} words, "
                    f"{s.chars_per_token} chars/token, vocabulary {s.vocab_size:,}\n"
                )
            return 0
        raw = args.ids if args.ids is not None else stdin.read()
        decoded = backend.decode(ids=raw, tokenizer=args.tokenizer)
        if args.json:
            payload = {"text": decoded.text, "tokens": [t.as_dict() for t in decoded.tokens]}
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        else:
            out.write(decoded.text + "\n")
        return 0
    except RsdemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
