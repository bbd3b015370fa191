"""What a language costs, drawn (no gradio): a heat map of tokens relative to English, a legend, the numbers.

Rows are languages (the visitor's own text first, then English, then the cheapest to the dearest on average over
the chosen tokenizers), columns are tokenizers; a cell's colour says how many times English's token count the
same passage takes. A cell whose tokens are mostly ``[UNK]`` is marked: that text was lost, not cheap. Every
name (a Hub repo id is the visitor's) is escaped; each cell and each row of the numbers carries
``data-tok``/``data-lang`` so the page (and its tests) can match them.

>>> from rsdemo.tokenization.adapters import ByteAdapter, CharAdapter
>>> from rsdemo.tokenization.language_cost import language_costs
>>> table = language_costs(adapters={"char": CharAdapter(), "byte<x>": ByteAdapter()}, own_text="<script>")
>>> page = render_language_cost(table)
>>> "byte&lt;x&gt;" in page and "<script>" not in page and 'data-tok="char" data-lang="hi"' in page
True
>>> relative_label(2.345), colour_bin(2.345)
('2.3×', 3)
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..tokenization.language_cost import ENGLISH, OWN_CODE, SOURCE, LanguageCost, LanguageCostTable, Passage
from .common import format_number

__all__ = ["BINS", "colour_bin", "ordered_passages", "relative_label", "render_language_cost"]

# (upper bound of tokens relative to English, background, text colour, legend label): light to dark, the last
# three dark enough for white text
BINS: tuple[tuple[float, str, str, str], ...] = (
    (0.9, "#bfdbfe", "#1e3a8a", "< 0.9×"),
    (1.25, "#f0fdf4", "#14532d", "0.9–1.25×"),
    (1.75, "#fef08a", "#422006", "1.25–1.75×"),
    (2.5, "#fdba74", "#431407", "1.75–2.5×"),
    (4.0, "#f87171", "#1f0505", "2.5–4×"),
    (8.0, "#b91c1c", "#ffffff", "4–8×"),
    (float("inf"), "#581c87", "#ffffff", "≥ 8×"),
)
UNKNOWN_MARK = 0.05  # a cell whose tokens are more than this share [UNK] is marked


def relative_label(relative: float | None) -> str:
    """Tokens relative to English as the page writes it, in the map and the table alike (``—``: none).

    >>> relative_label(1.0), relative_label(None)
    ('1.0×', '—')
    """
    return "—" if relative is None else f"{relative:.1f}×"


def colour_bin(relative: float) -> int:
    """The index in ``BINS`` of a ratio.

    >>> colour_bin(0.5), colour_bin(1.0), colour_bin(30.0)
    (0, 1, 6)
    """
    return next(n for n, (bound, *_rest) in enumerate(BINS) if relative < bound)


def ordered_passages(table: LanguageCostTable) -> list[Passage]:
    """The rows' order: the own text, English, then by tokens relative to English averaged over the tokenizers."""
    first = [p for p in table.passages if p.code in (OWN_CODE, ENGLISH)]
    rest = sorted(
        (p for p in table.passages if p.code not in (OWN_CODE, ENGLISH)), key=lambda p: table.mean_relative(p.code)
    )
    return sorted(first, key=lambda p: p.code != OWN_CODE) + rest


def _attrs(tokenizer: str, code: str) -> str:
    return f'data-tok="{html.escape(tokenizer, quote=True)}" data-lang="{html.escape(code, quote=True)}"'


def _language(passage: Passage) -> str:
    script = "" if passage.code == OWN_CODE else f" <small>{html.escape(passage.script)}</small>"
    return f"{html.escape(passage.name)}{script}"


def _cell(cost: LanguageCost) -> str:
    """A cell of the map; its title (the column names the tokenizer) is a sentence the page translates whole."""
    attrs = _attrs(cost.tokenizer, cost.passage.code)
    tokens = f"{cost.passage.name}: {cost.tokens:,} tokens"
    if cost.relative is None:
        title = html.escape(f"{tokens} (not a translation: no ratio)", quote=True)
        return f'<td class="rs-lc-cell rs-lc-own" {attrs} title="{title}">{cost.tokens:,}</td>'
    _bound, background, colour, _label = BINS[colour_bin(cost.relative)]
    lost = cost.unknown_share > UNKNOWN_MARK
    note = f"; {cost.unknown_share:.0%} [UNK]: text lost, not cheap" if lost else ""
    title = f"{tokens}, {relative_label(cost.relative)} English{note}"
    mark = '<sup aria-hidden="true">?</sup>' if lost else ""
    return (
        f'<td class="rs-lc-cell{" rs-lc-lost" if lost else ""}" {attrs} style="background:{background};color:{colour}"'
        f' title="{html.escape(title, quote=True)}">{relative_label(cost.relative)}{mark}</td>'
    )


def _legend() -> str:
    swatches = "".join(
        f'<span class="rs-lc-swatch" style="background:{bg};color:{fg}">{html.escape(label)}</span>'
        for _bound, bg, fg, label in BINS
    )
    lost = (
        '<span class="rs-lc-swatch rs-lc-lost">1.0×<sup>?</sup></span> '
        "<span>mostly [UNK]: the text was lost, not cheap</span>"
    )
    return f'<div class="rs-lc-legend"><span>tokens relative to English:</span> {swatches} {lost}</div>'


def _heat_map(table: LanguageCostTable, passages: Sequence[Passage]) -> str:
    head = "".join(
        f'<th scope="col" class="rs-keep" title="{html.escape(table.labels[t], quote=True)}">{html.escape(t)}</th>'
        for t in table.tokenizers
    )
    rows = []
    for passage in passages:
        cells = "".join(_cell(table.cost(t, passage.code)) for t in table.tokenizers)
        rows.append(f'<tr><th scope="row">{_language(passage)}</th>{cells}</tr>')
    return (
        '<div class="rs-table-scroll"><table class="rs-lc-map" id="rs-lc-map">'
        f'<thead><tr><th scope="col">language</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


_KEEP = ' class="rs-keep"'  # a tokenizer's key stays as it is on the Chinese page ("byte" is a key, not 字节)
NUMBER_COLUMNS = (
    "tokenizer",
    "language",
    "script",
    "tokens",
    "× English",
    "chars / token",
    "bytes / token",
    "byte fallback",
    "[UNK]",
)


def _numbers(table: LanguageCostTable, passages: Sequence[Passage]) -> str:
    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in NUMBER_COLUMNS)
    rows = []
    for tokenizer in table.tokenizers:
        for passage in passages:
            cost = table.cost(tokenizer, passage.code)
            cells = (
                html.escape(tokenizer),
                html.escape(passage.name),
                html.escape(passage.script),
                format_number(cost.tokens),
                relative_label(cost.relative),
                format_number(cost.chars_per_token) if cost.chars_per_token is not None else "—",
                format_number(cost.bytes_per_token) if cost.bytes_per_token is not None else "—",
                f"{cost.byte_fallback_share:.1%}",
                f"{cost.unknown_share:.1%}",
            )
            tds = "".join(f'<td data-col="{n}"{_KEEP if n == 0 else ""}>{c}</td>' for n, c in enumerate(cells))
            rows.append(f"<tr {_attrs(tokenizer, passage.code)}>{tds}</tr>")
    return (
        '<div class="rs-table-scroll rs-lc-numbers"><table class="rs-lc-table" id="rs-lc-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _summary(table: LanguageCostTable) -> str:
    ranked = [c for c in table.costs.values() if c.relative is not None and c.unknown_share <= UNKNOWN_MARK]
    if not ranked:
        return ""
    dearest = max(ranked, key=lambda c: c.relative or 0.0)
    sentence = (
        f"is dearest on {dearest.passage.name}: {relative_label(dearest.relative)} the tokens of English for the "
        "same content."
    )
    return (
        f'<p class="rs-lc-summary"><b class="rs-keep">{html.escape(dearest.tokenizer)}</b> '
        f"<span>{html.escape(sentence)}</span> "
        f'<small title="{html.escape(SOURCE, quote=True)}">Text: UDHR Articles 1–3.</small></p>'
    )


def render_language_cost(table: LanguageCostTable) -> str:
    """The heat map, its legend and the numbers table under it (see the module's example)."""
    passages = ordered_passages(table)
    return (
        f'<div class="rs-lc" id="rs-lc">{_summary(table)}{_legend()}{_heat_map(table, passages)}'
        f'<h4 class="rs-lc-head">The numbers</h4>{_numbers(table, passages)}</div>'
    )
