"""``--html FILE`` and ``--png FILE`` for ``tokenize`` and ``generate``: the view the page shows, as a
self-contained HTML file (``rsdemo.render.export_html``) or a PNG image (``rsdemo.render.export_png``).

    python -m rsdemo tokenize -t gpt2 --html tokens.html --png tokens.png "Hello world"
    python -m rsdemo generate --seed 1 --method top_p --png run.png "Tell me a joke"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..render import render_stats, render_token_view
from ..render.export_html import export_html
from ..render.export_png import export_png, missing_fonts
from ..render.page_runs import render_run

__all__ = ["add_export_flags", "export_run", "export_tokens"]


def add_export_flags(parser: argparse.ArgumentParser) -> None:
    """The ``--html FILE`` and ``--png FILE`` flags of a command."""
    parser.add_argument("--html", metavar="FILE", help="also write the view as a self-contained HTML file")
    parser.add_argument("--png", metavar="FILE", help="also write the view as a PNG image")


def _write(args: argparse.Namespace, *, title: str, lines: tuple[str, ...], body: str) -> None:
    """Write the files the flags ask for.

    Raises:
        InputError: a file cannot be written (the message names it).
    """
    for flag, make in (
        ("html", lambda: export_html(title=title, lines=lines, body=body).encode("utf-8")),
        ("png", lambda: export_png(title=title, lines=lines, body=body)),
    ):
        target = getattr(args, flag, None)
        if not target:
            continue
        try:
            Path(target).write_bytes(make())
        except OSError as err:
            raise InputError(f"--{flag} {target}: cannot write the file ({err.strerror or err}).") from err
        if flag == "png" and missing_fonts():
            print(
                f"note: fonts not found here: {', '.join(missing_fonts())}; characters only they cover are drawn as "
                "boxes (docs/serving.md says which packages to install)",
                file=sys.stderr,
            )


def export_tokens(args: argparse.Namespace, result: Any) -> None:
    """A ``tokenize`` result's view (the first tokens, as the page shows them) to ``--html`` / ``--png``."""
    if not (getattr(args, "html", None) or getattr(args, "png", None)):
        return
    view = render_token_view(result.segments, tokens=result.tokens, show_whitespace=False, details=False)
    stats = render_stats(result.stats.as_dict(), title=f"{result.info.label} · {result.info.family}")
    lines = (f"{result.stats.tokens:,} tokens · {result.stats.chars:,} characters",)
    _write(args, title=f"{result.info.label} tokens", lines=lines, body=stats + view)


def export_run(args: argparse.Namespace, final: Any) -> None:
    """A ``generate`` run, coloured by probability, to ``--html`` / ``--png``."""
    if not (getattr(args, "html", None) or getattr(args, "png", None)):
        return
    params = ", ".join(f"{k}={v}" for k, v in sorted(final.params.items()))
    lines = (
        f"{final.model} · {final.method} · {params} · seed {final.seed} · {final.engine}",
        f"Prompt: {final.prompt.text[:300]}",
    )
    _write(args, title="Generated text", lines=lines, body=render_run(final, "filtered"))
