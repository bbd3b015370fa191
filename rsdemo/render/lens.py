"""The logit lens as HTML and SVG (no gradio): the grid, one cell's top 10, and probe lines; every token escaped.

``render_lens_grid`` draws positions down and rows across (the embeddings, then each layer's output), each cell
its top token, coloured by that token's probability (``colour="prob"``) or by the rank the model's final choice
has at that row (``colour="rank"``: green where the final answer already leads). ``data-pos`` / ``data-layer``
name a cell for a click handler, which shows ``render_lens_cell``. ``render_probe_chart`` draws a probed token's
probability at each row as an SVG line. Each takes ``lang`` (``en``/``zh``) for its own words
(``rsdemo.i18n.rows_inside``; ``emb`` becomes 嵌入); token text is shown as it is.

>>> import numpy as np
>>> from rsdemo.insight.lens import LensResult
>>> ids = np.array([[[5, 7], [7, 5]]], dtype=np.int32)
>>> lp = np.log(np.array([[[0.6, 0.3], [0.9, 0.05]]], dtype=np.float32))
>>> result = LensResult("m", (5,), ("emb", "1"), ids, lp, np.array([7], dtype=np.int32),
...     np.array([[2, 1]], dtype=np.int32), lp[:, :, 1], np.zeros((2, 8), dtype=np.float32), {5: "<b>", 7: " x"})
>>> grid = render_lens_grid(result)
>>> grid.count('class="rs-lens-cell"'), "&lt;b&gt;" in grid, "<b>" in grid
(2, True, False)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from ..i18n import text as _text
from ..insight.lens import LensProbe, LensResult, cell
from .common import plain_label, prob_colour, visible_text

__all__ = [
    "GRID_POSITIONS",
    "LINE_COLOURS",
    "rank_shade",
    "render_lens_cell",
    "render_lens_grid",
    "render_probe_chart",
    "row_label",
]

LINE_COLOURS = ("#7c3aed", "#2563eb", "#059669", "#c2410c", "#db2777", "#0891b2", "#65a30d", "#4b5563")
GRID_POSITIONS = 64  # the grid shows at most this many positions at once (the last ones, unless asked)


def _label(text: str, width: int = 10) -> str:
    """A token's text for a small cell: whitespace drawn, cut at ``width`` characters, escaped."""
    cut = text if len(text) <= width else text[: width - 1] + "…"
    return f'<span class="rs-keep">{visible_text(cut, show_whitespace=True) or "∅"}</span>'  # never translated


def rank_shade(rank: int) -> float:
    """A rank as a 0..1 shade for ``prob_colour``: 1 for rank 1, 0.75 for 10, 0.5 for 100, 0 from 10,000.

    >>> rank_shade(1), rank_shade(10), rank_shade(100000)
    (1.0, 0.75, 0.0)
    """
    return max(0.0, 1.0 - math.log10(max(1, rank)) / 4)


def row_label(label: str, lang: str = "en") -> str:
    """A lens row's name in ``lang``: ``emb`` (the embeddings) translated, a layer number as it is.

    >>> row_label("emb", "zh"), row_label("12", "zh")
    ('嵌入', '12')
    """
    return _text("lens.emb", lang=lang) if label == "emb" else label


def render_lens_grid(
    result: LensResult,
    *,
    colour: str = "prob",
    start: int | None = None,
    count: int = GRID_POSITIONS,
    lang: str = "en",
) -> str:
    """The grid: one row per position (its token on the left), one column per lens row; ``count`` positions
    from ``start`` (default: the last ``count``); its words in ``lang``."""
    if colour not in {"prob", "rank"}:
        raise ValueError(f"colour is 'prob' or 'rank', not {colour!r}")
    total = len(result.ids)
    first = max(0, total - count) if start is None else max(0, min(start, total - 1))
    shown = range(first, min(total, first + count))
    labels = [row_label(label, lang) for label in result.layers]
    head = "".join(f'<th scope="col">{html.escape(label)}</th>' for label in labels)
    probs = result.top_probs
    body = []
    for pos in shown:
        final = result.pieces.get(int(result.final_ids[pos]), "")
        cells = []
        for layer in range(len(result.layers)):
            top_id = int(result.top_ids[pos, layer, 0])
            text = result.pieces.get(top_id, f"#{top_id}")
            rank, chosen = int(result.final_rank[pos, layer]), math.exp(float(result.final_logprob[pos, layer]))
            shade = probs[pos, layer] if colour == "prob" else rank_shade(rank)
            tip = html.escape(
                _text(
                    "lens.tip",
                    lang=lang,
                    n=pos,
                    row=labels[layer],
                    token=repr(text),
                    p=f"{100 * probs[pos, layer]:.1f}",
                    final=repr(final),
                    rank=f"{rank:,}",
                    chosen=f"{100 * chosen:.2f}",
                ),
                quote=True,
            )
            cells.append(
                f'<td class="rs-lens-cell" data-pos="{pos}" data-layer="{layer}" title="{tip}" tabindex="-1" '
                f'style="background:{prob_colour(float(shade))};min-width:4.2em;max-width:6em;overflow:hidden;'
                f'padding:1px 3px;border:1px solid #fff">{_label(text)}</td>'
            )
        token = result.pieces.get(result.ids[pos], "")
        body.append(f'<tr><th scope="row" data-pos="{pos}">{_label(token, 14)}</th>{"".join(cells)}</tr>')
    what = _text("lens.colour_prob" if colour == "prob" else "lens.colour_rank", lang=lang)
    note = _text("lens.positions", lang=lang, lo=first, hi=shown[-1], total=total) if len(shown) < total else ""
    legend = html.escape(_text("lens.legend", lang=lang, what=what), quote=False)
    return (
        f'<div class="rs-legend">{legend} <span class="rs-lens-range">{note}</span></div>'
        '<div class="rs-lens" style="overflow:auto;max-height:560px"><table class="rs-lens-grid" '
        'style="border-collapse:collapse;font-family:var(--font-mono, monospace);font-size:11px;white-space:pre">'
        f'<thead><tr><th scope="col">{_text("lens.token", lang=lang)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_lens_cell(result: LensResult, *, position: int, layer: int, lang: str = "en") -> str:
    """One cell's kept top 10 as bars (no model call); its words in ``lang``."""
    rows = []
    for token, prob in cell(result, position=position, layer=layer):
        text = result.pieces.get(token, f"#{token}")
        rows.append(
            f'<tr><td class="rs-stage-tok">{_label(text, 24)}</td><td class="rs-stage-cell" style="position:relative">'
            f'<span class="rs-bar" style="width:{100 * prob:.1f}%;background:{prob_colour(prob)}"></span>'
            f'<span class="rs-bar-label">{100 * prob:.2f}%</span></td><td>{token}</td></tr>'
        )
    after = result.pieces.get(result.ids[position], "")
    legend = _text(
        "lens.cell",
        lang=lang,
        token=_label(after, 24),  # escaped already
        n=position,
        row=html.escape(row_label(result.layers[layer], lang)),
        total=len(rows),
    )
    return (
        f'<div class="rs-legend">{legend}</div>'
        f'<table class="rs-stage-table rs-lens-top"><tbody>{"".join(rows)}</tbody></table>'
    )


def render_probe_chart(
    probes: Sequence[LensProbe], *, layers: Sequence[str], width: int = 560, lang: str = "en"
) -> str:
    """An SVG line chart: each probe's probability at each row (a gap where it is outside a cell's top 10)."""
    if not probes:
        return f'<div class="rs-legend">{html.escape(_text("lens.probe_empty", lang=lang))}</div>'
    height, left, bottom, top = 200, 40, 28, 10
    x_step = (width - left - 10) / max(1, len(layers) - 1)

    def y_of(prob: float) -> float:
        return top + (1 - prob) * (height - top - bottom)

    parts = [
        f'<line x1="{left}" y1="{y_of(v):.1f}" x2="{width - 10}" y2="{y_of(v):.1f}" stroke="#e5e7eb"/>'
        f'<text x="{left - 4}" y="{y_of(v) + 4:.1f}" font-size="10" text-anchor="end">{round(v * 100)}%</text>'
        for v in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    layers = [row_label(label, lang) for label in layers]
    for n, label in enumerate(layers):
        if n % 5 == 0 or n == len(layers) - 1:
            x = left + n * x_step
            parts.append(
                f'<text x="{x:.1f}" y="{height - 10}" font-size="10" text-anchor="middle">{html.escape(label)}</text>'
            )
    legend = []
    for n, probe in enumerate(probes):
        colour = LINE_COLOURS[n % len(LINE_COLOURS)]
        runs: list[list[str]] = [[]]
        for row, prob in enumerate(probe.probs):
            if prob is None:
                runs.append([])
                continue
            runs[-1].append(f"{left + row * x_step:.1f},{y_of(prob):.1f}")
        name = plain_label(probe.piece)
        for run in runs:
            if run:
                parts.append(
                    f'<polyline class="rs-probe-line" fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(run)}"><title>{name}</title></polyline>'
                )
        rises = (
            _text("lens.never_leads", lang=lang)
            if probe.rises_at is None
            else _text("lens.leads_from", lang=lang, row=html.escape(layers[probe.rises_at]))
        )
        item = _text(
            "lens.probe_item",
            lang=lang,
            piece=_label(probe.piece, 24),  # escaped already, as is every part
            typed=_label(probe.text, 24),
            n=probe.token_id,
            rises=rises,
            p=f"{100 * (probe.probs[-1] or 0):.2f}",
            known="" if probe.exact else _text("lens.top10_only", lang=lang),
        )
        legend.append(f'<li><span style="color:{colour}">■</span> {item}</li>')
    return (
        f'<svg class="rs-probe-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(_text("lens.chart_label", lang=lang))}">'
        f"{''.join(parts)}</svg>"
        f'<ul class="rs-legend rs-probe-legend">{"".join(legend)}</ul>'
    )
