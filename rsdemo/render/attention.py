"""Attention weights as SVG and HTML (no gradio): every head of a layer, one head focused, one token's bars.

``render_heads`` draws small multiples, one tiny matrix per query head of a layer (queries down, keys across; a
prompt longer than ``SMALL_CELLS`` tokens is averaged into blocks), each labelled with the key/value head it
shares. ``render_head`` draws one head's matrix with the tokens along both edges; ``render_attended_to`` lists
what one token attended to, as bars. Each carries ``NOTE``. Every token text is escaped (``plain_label`` inside
SVG, ``visible_text`` in HTML). Each takes ``lang`` (``en``/``zh``) for its own words (``rsdemo.i18n.rows_inside``).

>>> import numpy as np
>>> from rsdemo.insight.attention import AttentionResult
>>> w = np.array([[[[1, 0], [0.25, 0.75]], [[1, 0], [0.75, 0.25]]]], dtype=np.float16)
>>> result = AttentionResult("m", (5, 6), (1,), w, (0, 0), 1, {5: "<i>", 6: " x"})
>>> out = render_head(result, layer=1, head=0)
>>> out.count('class="rs-attn-cell"'), "&lt;i&gt;" in out, "<i>" in out, NOTE in out
(3, True, False, True)
"""

from __future__ import annotations

import html

import numpy as np

from ..i18n import text as _text
from ..insight.attention import AttentionResult, attended_to, head_matrix
from .common import plain_label, visible_text

__all__ = ["NOTE", "SMALL_CELLS", "render_attended_to", "render_head", "render_heads"]

NOTE = _text("attn.note")  # in English ("... they are not explanations."); the renderers show it in their lang
SMALL_CELLS = 32  # a small multiple draws at most this many cells a side (longer prompts: averaged blocks)
_INK = "#7c3aed"  # the palette's purple (the beam tree's chosen path)


def _kept(piece: str) -> str:
    """A token's text, whitespace drawn, escaped, marked for the page's language script to leave as it is."""
    return f'<span class="rs-keep">{visible_text(piece, show_whitespace=True) or "∅"}</span>'


def _note(lang: str) -> str:
    return f'<p class="rs-notice rs-attn-note">{html.escape(_text("attn.note", lang=lang))}</p>'


def _pooled(matrix: np.ndarray, cells: int) -> tuple[np.ndarray, int]:
    """``matrix`` averaged over square blocks so that at most ``cells`` remain a side; returns it and the block.

    >>> _pooled(np.eye(4, dtype=np.float32), 2)[0].tolist(), _pooled(np.eye(3, dtype=np.float32), 4)[1]
    ([[0.5, 0.0], [0.0, 0.5]], 1)
    """
    n = matrix.shape[0]
    block = max(1, -(-n // cells))
    if block == 1:
        return matrix, 1
    size = -(-n // block)
    padded = np.zeros((size * block, size * block), dtype=np.float32)
    padded[:n, :n] = matrix
    counts = np.zeros_like(padded)
    counts[:n, :n] = 1
    sums = padded.reshape(size, block, size, block).sum(axis=(1, 3))
    return sums / np.maximum(1, counts.reshape(size, block, size, block).sum(axis=(1, 3))), block


def _matrix_svg(matrix: np.ndarray, *, px: float, cls: str, tips: list[list[str]] | None = None) -> str:
    """Cells of a lower-triangular matrix as SVG rects, their opacity the square root of the weight."""
    rects = []
    for q in range(matrix.shape[0]):
        for k in range(q + 1):
            weight = float(matrix[q, k])
            if weight < 0.005:
                continue
            tip = f"<title>{tips[q][k]}</title>" if tips else ""
            rects.append(
                f'<rect class="{cls}" x="{k * px:.1f}" y="{q * px:.1f}" width="{px:.1f}" height="{px:.1f}" '
                f'fill="{_INK}" fill-opacity="{weight**0.5:.3f}">{tip}</rect>'
            )
    return "".join(rects)


def render_heads(result: AttentionResult, *, layer: int, size: int = 96, lang: str = "en") -> str:
    """Every query head of ``layer`` as a tiny matrix (queries down, keys across), with its key/value head; its
    words in ``lang``."""
    boxes, block = [], 1
    for head in range(result.heads):
        pooled, block = _pooled(head_matrix(result, layer=layer, head=head), SMALL_CELLS)
        px = size / pooled.shape[0]
        boxes.append(
            f'<figure class="rs-attn-head" data-layer="{layer}" data-head="{head}" style="margin:0">'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
            f'role="img" aria-label="{_text("attn.aria", lang=lang, n=layer, total=head)}"><rect width="{size}" '
            f'height="{size}" fill="#fff" stroke="#e5e7eb"/>{_matrix_svg(pooled, px=px, cls="rs-attn-small")}</svg>'
            f'<figcaption style="font-size:11px">{_text("attn.caption", lang=lang, n=head, total=result.kv_head[head])}'
            "</figcaption></figure>"
        )
    pooled_note = _text("attn.pooled", lang=lang, n=block) if block > 1 else ""
    legend = _text("attn.heads_legend", lang=lang, n=layer, total=result.heads, kept=result.num_kv_heads)
    return (
        f'{_note(lang)}<div class="rs-legend">{html.escape(legend, quote=False)} <span>{pooled_note}</span></div>'
        f'<div class="rs-attn-heads" style="display:flex;flex-wrap:wrap;gap:8px">{"".join(boxes)}</div>'
    )


def render_head(
    result: AttentionResult, *, layer: int, head: int, px: int = 14, lang: str = "en", note: bool = True
) -> str:
    """One head's full matrix with every token along both edges; each cell's title gives its weight; its words
    in ``lang``."""
    matrix = head_matrix(result, layer=layer, head=head)
    n = matrix.shape[0]
    labels = [plain_label(result.pieces.get(i, f"#{i}"))[:40] for i in result.ids]
    tips = [[f"{labels[q]} → {labels[k]}: {100 * float(matrix[q, k]):.1f}%" for k in range(n)] for q in range(n)]
    margin = 90
    side = margin + n * px
    rows = "".join(
        f'<text x="{margin - 4}" y="{margin + q * px + px * 0.75:.1f}" font-size="10" text-anchor="end">'
        f"{labels[q][:12]}</text>"
        for q in range(n)
    )
    cols = "".join(
        f'<text transform="translate({margin + k * px + px * 0.75:.1f},{margin - 4}) rotate(-60)" font-size="10">'
        f"{labels[k][:12]}</text>"
        for k in range(n)
    )
    cells = _matrix_svg(matrix, px=px, cls="rs-attn-cell", tips=tips)
    legend = _text("attn.head_legend", lang=lang, n=layer, total=head, kept=result.kv_head[head])
    return (
        f'{_note(lang) if note else ""}<div class="rs-legend">{html.escape(legend, quote=False)}</div>'
        f'<div class="rs-attn-focus" style="overflow:auto"><svg xmlns="http://www.w3.org/2000/svg" width="{side}" '
        f'height="{side}" role="img" aria-label="{_text("attn.aria", lang=lang, n=layer, total=head)}">{rows}{cols}'
        f'<g transform="translate({margin},{margin})"><rect width="{n * px}" height="{n * px}" fill="#fff" '
        f'stroke="#e5e7eb"/>{cells}</g></svg></div>'
    )


def render_attended_to(
    result: AttentionResult,
    *,
    position: int,
    layer: int,
    head: int | None = None,
    lang: str = "en",
    note: bool = True,
) -> str:
    """What the token at ``position`` attended to: one bar per earlier token (averaged over heads, or one head);
    its words in ``lang``; ``note=False`` leaves out the note (a page that shows it once, above)."""
    weights = attended_to(result, position=position, layer=layer, head=head)
    rows = []
    for key in range(position + 1):
        weight = float(weights[key])
        text = _kept(result.pieces.get(result.ids[key], ""))
        rows.append(
            f'<tr class="rs-attn-row" data-pos="{key}"><td>{key}</td><td class="rs-stage-tok">{text}</td>'
            f'<td class="rs-stage-cell" style="position:relative;min-width:160px"><span class="rs-bar" '
            f'style="width:{100 * weight:.1f}%;background:{_INK}"></span><span class="rs-bar-label">'
            f"{100 * weight:.1f}%</span></td></tr>"
        )
    who = _text("attn.averaged", lang=lang) if head is None else _text("attn.head", lang=lang, n=head)
    token = _kept(result.pieces.get(result.ids[position], ""))
    legend = _text("attn.attended", lang=lang, token=token, n=position, total=layer, who=who)  # token: escaped
    return (
        f'{_note(lang) if note else ""}<div class="rs-legend">{legend}'
        f'</div><table class="rs-stage-table rs-attn-bars"><tbody>{"".join(rows)}</tbody></table>'
    )
