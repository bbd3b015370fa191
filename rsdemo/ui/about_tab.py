"""The About tab: the catalog's tokenizers, models and decoding methods as Markdown tables, and share links."""

from __future__ import annotations

import html

from ..catalog import MODELS, TOKENIZERS
from ..decoding import COMMON_PARAMS, METHODS, Param
from ..share import SHARE_LINK_CHARS

__all__ = ["_about_markdown"]


def _md_cell(text: str) -> str:
    r"""Catalog text as a Markdown table cell: ``<|begin_of_text|>`` shown as written, its pipes not splitting cells.

    >>> _md_cell("adds <|begin_of_text|>")
    'adds &lt;\\|begin_of_text\\|&gt;'
    """
    return html.escape(text, quote=False).replace("|", "\\|")


def _param_summary(p: Param) -> str:
    """One parameter of a method as the About tab lists it: its label, range and default."""
    if p.kind == "bool":
        return f"{p.label} (default {p.default})"
    return f"{p.label} ({p.minimum}–{p.maximum}, default {p.default})"


def _about_markdown() -> str:
    """The whole tab."""
    rows = "\n".join(
        f"| `{s.key}` | {_md_cell(s.family)} | {_md_cell(s.package or 'built in / assets')} | {_md_cell(s.licence)} "
        f"| {_md_cell(s.notes)} |"
        for s in TOKENIZERS.values()
    )
    return (
        "## Built-in tokenizers (all offline)\n\n"
        "| key | family | files from | licence | notes |\n|---|---|---|---|---|\n"
        f"{rows}\n\n"
        "Special-token strings typed in the text (such as `<|endoftext|>`) are read as special tokens, "
        "as the models' own tokenizers do. *Add special tokens* adds what the tokenizer puts around a "
        "sequence (Llama 3's `<|begin_of_text|>`, SentencePiece `<s>`, BERT's `[CLS]` … `[SEP]`).\n\n"
        "Share links: `?tokenizer=KEY&text=...` opens the Tokenize tab with that text (`&special=1`, `&ws=1` "
        "and `&show=pieces` or `&show=ids` set its options); `?compare=gpt2,llama3&text=...` opens the Compare "
        f"tab with those tokenizers. The *Copy a share link* button keeps links within {SHARE_LINK_CHARS:,} "
        "characters, and says how much of a longer text it kept.\n\n"
        "## Models\n\n| key | source | parameters | licence |\n|---|---|---|---|\n"
        + "\n".join(
            f"| `{m.key}` | {'embedded (offline)' if m.source == 'gguf' else 'Hub: ' + str(m.repo_id)} | "
            f"{m.params_m}M | {m.licence} |"
            for m in MODELS.values()
        )
        + "\n\n## Decoding methods\n\n| key | method | parameters |\n|---|---|---|\n"
        + "\n".join(
            f"| `{m.key}` | {m.label}: {m.description} | {', '.join(_param_summary(p) for p in m.params) or '—'} |"
            for m in METHODS.values()
        )
        + "\n\nEvery method also takes: "
        + ", ".join(f"{p.label} ({p.minimum}–{p.maximum}, default {p.default})" for p in COMMON_PARAMS)
        + ", and stop strings."
    )
