"""The page's own HTML around the token views (no gradio): the Tokenize and Compare tabs' notes, the Compare rows,
the Hub line under the title, and an error's note beside the field it is about.

Everything the visitor typed (a tokenizer name in an error, a label) is escaped here. The results come from
``rsdemo.backend`` (``TokenizeResult``, ``CompareResult``); this module reads their fields and imports nothing above
``rsdemo.render``.

>>> from rsdemo.core.errors import InputError
>>> field_note(InputError("<b> is not a tokenizer"))
'<div class="rs-field-error" role="alert">&lt;b&gt; is not a tokenizer</div>'
"""

from __future__ import annotations

import html
from typing import Any

from .common import format_number
from .tables import render_card_table
from .tokens import render_token_view

__all__ = [
    "COMPARE_COLUMNS",
    "STALE",
    "compare_outputs",
    "field_note",
    "hub_header",
    "ids_note",
    "ids_text",
    "notice",
]

# shown where a result was, when the inputs on screen have none (the message is beside the field it is about)
STALE = '<div class="rs-stale">No result for these inputs: see the message above.</div>'

COMPARE_COLUMNS = ("tokenizer", "tokens", "chars/token", "bytes/token", "tokens/word", "vocabulary", "lossless")


def field_note(err: Exception) -> str:
    """An error message shown beside its field (escaped: it may quote what the visitor typed)."""
    return f'<div class="rs-field-error" role="alert">{html.escape(str(err))}</div>'


def notice(result: Any, *, with_ids: bool = True) -> str:
    """The line above a token view: what it shows of a long text, and a tokenizer that drops text.

    ``result``: a ``TokenizeResult``. ``with_ids``: the view has the Token ids box and its download (Tokenize); else
    a table of stats (Compare).
    """
    notes = []
    if result.truncated:
        total = len(result.id_array)
        covered = (
            f"The stats cover the whole text; the Token ids box holds the {result.shown_tokens:,} ids shown, "
            f"and its download all {total:,}."
            if with_ids
            else "The table and the count of boundaries cover the whole text."
        )
        notes.append(f"Showing the first {result.shown_tokens:,} of {total:,} tokens. {covered}")
    if not result.info.lossless:
        notes.append(f"{result.info.label} is not lossless: {result.info.notes}")
    return " ".join(notes)


def ids_text(result: Any) -> str:
    """The Token ids box: the ids of the tokens shown, as a list the Decode box takes as it is.

    The rest of a long text's ids are in the download; the note beside the box (``ids_note``) says how many.
    """
    return "[" + ", ".join(map(str, result.id_array[: result.shown_tokens].tolist())) + "]"


def ids_note(result: Any) -> str:
    """Beside the Token ids box: how many of the ids it holds, when it does not hold them all."""
    total = len(result.id_array)
    if not result.truncated:
        return ""
    return (
        f'<div class="rs-notice" role="status">The box holds the first {result.shown_tokens:,} of the '
        f"{total:,} ids (a list Decode takes as it is); the download below has all {total:,}.</div>"
    )


def _compare_row(result: Any, n: int, show_whitespace: bool) -> str:
    """One tokenizer's token view in the Compare tab, under a line with its count of tokens and of disagreements."""
    r = result.results[n]
    count = f"{result.differing[n]:,} on boundaries not shared by all" if result.done else "comparing…"
    head = f'<div class="rs-compare-head">{html.escape(r.info.label)} — {r.stats.tokens:,} tokens, {count}</div>'
    return (
        f'<div class="rs-compare-row" data-tokenizer="{html.escape(r.info.key, quote=True)}">{head}'
        + render_token_view(
            r.segments,
            tokens=r.tokens,
            show_whitespace=show_whitespace,
            marks=result.marks[n] if result.done else None,
            notice=notice(r, with_ids=False),
        )
        + "</div>"
    )


def compare_outputs(result: Any, show_whitespace: bool) -> tuple[list[list[Any]], str]:
    """The Compare table's rows and the token views; the views start with the same rows as cards, which a phone
    shows instead of the table (seven columns do not fit 390 px). ``result``: a ``CompareResult``."""
    rows = []
    views = [
        "",  # the phone's cards, once the rows are known
        '<div class="rs-legend">Tokens underlined in red start or end where not every tokenizer has a boundary '
        "(whitespace ignored).</div>",
    ]
    for n, r in enumerate(result.results):
        s = r.stats
        rows.append(
            [
                r.info.key,
                *map(
                    format_number,
                    (s.tokens, s.chars_per_token, s.bytes_per_token, s.tokens_per_word, s.vocab_size, r.info.lossless),
                ),
            ]
        )
        views.append(_compare_row(result, n, show_whitespace))
    views[0] = render_card_table(COMPARE_COLUMNS, rows, classes="rs-phone-only rs-cmp-cards")
    return rows, "".join(views)


def hub_header(problem: str) -> str:
    """Under the title: what the Hub adds here, or why it cannot (``Backend.hub_problem``).

    >>> "cannot load here" in hub_header("The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1).")
    True
    """
    if not problem:
        return (
            '<div class="rs-legend">Every built-in tokenizer and the embedded model run offline; type a Hugging '
            "Face repo id (<code>owner/name</code>) in a Tokenizer or Model box to load one from the Hub.</div>"
        )
    return (
        f'<div class="rs-notice" role="status">Hub tokenizers and models cannot load here: '
        f"{html.escape(problem)} The lists offer what works.</div>"
    )
