"""``python -m rsdemo languages``: what a language costs, in the terminal.

    python -m rsdemo languages
    python -m rsdemo languages --tokenizers gpt2,llama3 --text "Mein eigener Text"
    python -m rsdemo languages --json

The same passage (UDHR Articles 1-3) in 32 languages through each tokenizer: a grid of tokens relative to English
(languages down, tokenizers across), or with ``--json`` the ``/language_cost`` reply.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..api import language_cost_reply
from ..backend import Backend
from ..render.language_cost import ordered_passages, relative_label
from ..tokenization.language_cost import LanguageCostTable, measure

__all__ = ["DEFAULT_CLI_TOKENIZERS", "add_languages_command", "run_languages"]

DEFAULT_CLI_TOKENIZERS = "gpt2,cl100k_base,o200k_base,llama3,qwen,mistral-v1"


def add_languages_command(sub: Any) -> None:
    """The ``languages`` subcommand, on the CLI's subparsers."""
    cmd = sub.add_parser(
        "languages",
        help="what a language costs: one passage in 32 languages through each tokenizer",
        description="Articles 1-3 of the Universal Declaration of Human Rights in 32 languages: tokens relative "
        "to English per tokenizer (and your own text's count with --text).",
    )
    cmd.add_argument(
        "--tokenizers",
        default=DEFAULT_CLI_TOKENIZERS,
        help=f"comma-separated keys from `tokenizers` or Hub repo ids (default {DEFAULT_CLI_TOKENIZERS})",
    )
    cmd.add_argument("--text", default="", help="your own text: one more row, counted but not compared")
    cmd.add_argument("--json", action="store_true", help="print the /language_cost reply as one JSON object")


def grid(table: LanguageCostTable) -> str:
    """The table as text: one row per language, one column per tokenizer (the own text: its token count).

    >>> from rsdemo.tokenization.adapters import CharAdapter
    >>> from rsdemo.tokenization.language_cost import language_costs
    >>> print(grid(language_costs(adapters={"char": CharAdapter()})).splitlines()[1])
    English               Latin                1.0×
    """
    width = max(7, *(len(t) for t in table.tokenizers))
    lines = ["language".ljust(22) + "script".ljust(16) + "".join(t.rjust(width + 2) for t in table.tokenizers)]
    for passage in ordered_passages(table):
        cells = []
        for tokenizer in table.tokenizers:
            cost = table.cost(tokenizer, passage.code)
            cells.append(
                (f"{cost.tokens:,}" if cost.relative is None else relative_label(cost.relative)).rjust(width + 2)
            )
        lines.append(passage.name[:21].ljust(22) + passage.script[:15].ljust(16) + "".join(cells))
    return "\n".join(lines)


def run_languages(args: argparse.Namespace, backend: Backend, out: TextIO) -> int:
    """Run ``languages``; returns the exit status (errors are the caller's: it prints them and exits 2)."""
    table = measure(service=backend.tokenization, tokenizers=args.tokenizers, own_text=args.text or "")
    if args.json:
        out.write(json.dumps(language_cost_reply(table), ensure_ascii=False) + "\n")
        return 0
    out.write(grid(table) + "\n")
    out.write("cells: tokens relative to English (the own text: its token count)\n")
    return 0
