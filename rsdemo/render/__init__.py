"""Pure HTML for the views (no gradio): segments -> coloured, escaped, clickable spans; tables; the insight views.

Every piece of user text goes through ``html.escape``; per-token details ride along in a ``data-d`` JSON attribute
that the page's script reads on click (``assets/tokens.js``). One module per view: ``common`` (escaping, labels,
numbers, colours), ``tokens`` (the token view, decoded ids), ``tables`` (stat cards, card tables), ``generation``
(generated text by probability), ``insight`` (stages, surprisal, arena) and ``beam_tree`` (the search tree's SVG).
The names below are re-exported here: ``from rsdemo.render import render_token_view``.

>>> from rsdemo.tokenization.segments import Segment
>>> visible_text("a b\\n", show_whitespace=True)
'a<span class="rs-ws">·</span>b<span class="rs-ws">↵</span>\\n'
"""

from __future__ import annotations

from .beam_tree import render_beam_tree
from .common import (
    BIDI_CONTROLS,
    LONG_TOKEN_CHARS,
    PALETTE_SIZE,
    blank_marker,
    format_number,
    plain_label,
    prob_colour,
    visible_text,
)
from .generation import prob_legend, render_generation
from .insight import render_arena_table, render_stages, render_surprisal_stats
from .tables import render_card_table, render_stats
from .tokens import GAP_CHARS, render_decode, render_token_view

__all__ = [
    "BIDI_CONTROLS",
    "GAP_CHARS",
    "LONG_TOKEN_CHARS",
    "PALETTE_SIZE",
    "blank_marker",
    "format_number",
    "plain_label",
    "prob_colour",
    "prob_legend",
    "render_arena_table",
    "render_beam_tree",
    "render_card_table",
    "render_decode",
    "render_generation",
    "render_stages",
    "render_stats",
    "render_surprisal_stats",
    "render_token_view",
    "visible_text",
]
