"""HTML of "Why this split" (a replay's steps) and of the vocabulary browser's results (no gradio; all escaped).

>>> from rsdemo.tokenization.explain import Explanation
>>> html_out = render_explain(Explanation("char", "character", "plain", 0, 60, "<", "<", 0, ("<",), 0))
>>> "&lt;" in html_out and "<script" not in html_out
True
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..tokenization.explain import Explanation
from ..tokenization.vocab import VocabResult
from .common import PALETTE_SIZE, visible_text

__all__ = ["MAX_SHOWN", "render_explain", "render_vocab"]

MAX_SHOWN = 120  # pieces drawn around the token in a long chunk (and per Unigram segmentation)


def _box(piece: str, *, colour: int | None = None, extra: str = "") -> str:
    # rs-keep: a piece is the vocabulary's, never translated on the Chinese page (a piece "text" stays "text")
    cls = f"rs-x-box rs-keep rs-c{colour % PALETTE_SIZE}" if colour is not None else "rs-x-box rs-keep"
    if extra:
        cls += f" {extra}"
    return f'<span class="{cls}">{visible_text(piece, show_whitespace=True) or "∅"}</span>'


def _boxes(pieces: Sequence[str], *, mark: int = -1) -> str:
    """Pieces as boxes; a long row shows ``MAX_SHOWN`` of them around ``mark`` and counts the rest."""
    lo = max(0, min(mark - MAX_SHOWN // 2, len(pieces) - MAX_SHOWN)) if len(pieces) > MAX_SHOWN else 0
    hi = min(len(pieces), lo + MAX_SHOWN)
    out = [f'<span class="rs-more">… {lo:,} more </span>'] if lo else []
    for n in range(lo, hi):
        out.append(_box(pieces[n], colour=n, extra="rs-x-mark" if n == mark else ""))
    if hi < len(pieces):
        out.append(f'<span class="rs-more"> … {len(pieces) - hi:,} more</span>')
    return "".join(out)


def render_explain(why: Explanation) -> str:
    """The replay: the token, one sentence, the chunk's pieces (the token marked), then the steps of its family."""
    e = html.escape
    head = (
        f'<div class="rs-x-head"><span>Token #{why.index} · id {why.token_id}</span> · '
        f"{_box(why.piece, extra='rs-x-token')}"
        f' <span class="rs-x-family">{e(why.family or why.kind)}</span></div>'
        f'<p class="rs-x-sentence">{e(why.sentence)}</p>'
    )
    parts = [head]
    if why.chunk:
        label = "Word" if why.kind == "wordpiece" else "Chunk"
        parts.append(
            f'<div class="rs-x-chunk"><span class="rs-x-label">{label}</span> {_box(why.chunk)} '
            f'<span class="rs-x-label">became</span> {_boxes(why.chunk_tokens, mark=why.position)}</div>'
        )
    if why.steps or why.start:
        parts.append(_merge_steps(why))
    if why.segmentations:
        parts.append(_unigram_table(why))
    if why.wordpiece:
        parts.append(_wordpiece_table(why))
    for note in why.notes:
        parts.append(f'<p class="rs-note">{e(note)}</p>')
    return f'<div class="rs-explain" data-token="{e(why.piece, quote=True)}">{"".join(parts)}</div>'


def _merge_steps(why: Explanation) -> str:
    sp = why.kind == "sentencepiece-bpe"
    rows = [f'<li class="rs-x-step"><span class="rs-x-rank">start</span> {_boxes(why.start)}</li>']
    for n, step in enumerate(why.steps):
        last = n == len(why.steps) - 1
        rank = f"score {step.score:.2f} (id {step.rank})" if sp and step.score is not None else f"rank {step.rank:,}"
        merged = f"{_box(step.left)} + {_box(step.right)} → {_box(step.merged)}"
        cls = "rs-x-step rs-x-last" if last else "rs-x-step"
        rows.append(
            f'<li class="{cls}" data-parts="{html.escape("".join(step.parts), quote=True)}">'
            f'<span class="rs-x-rank">{html.escape(rank)}</span> <span class="rs-x-merge">{merged}</span>'
            f'<div class="rs-x-parts">{_boxes(step.parts)}</div></li>'
        )
    if not why.steps:
        rows.append('<li class="rs-x-step rs-x-last">No merge: the token is a single starting piece.</li>')
    return f'<ol class="rs-x-steps" aria-label="merge steps">{"".join(rows)}</ol>'


def _unigram_table(why: Explanation) -> str:
    best = why.segmentations[0].log_prob
    rows = []
    for n, seg in enumerate(why.segmentations):
        delta = "" if n == 0 else f"{seg.log_prob - best:+.2f}"
        cls = ' class="rs-x-chosen"' if seg.chosen else ""
        rows.append(
            f"<tr{cls}><td>{'chosen' if seg.chosen else n + 1}</td><td>{_boxes(seg.pieces)}</td>"
            f"<td>{seg.log_prob:.2f}</td><td>{delta}</td></tr>"
        )
    return (
        '<table class="rs-x-table"><thead><tr><th>#</th><th>segmentation</th><th>log-prob</th><th>vs best</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _wordpiece_table(why: Explanation) -> str:
    rows = []
    for step in why.wordpiece:
        tried = f"{step.tried:,} longer not in the vocabulary" if step.tried else "longest possible"
        rows.append(
            f"<tr><td>{step.position}</td><td>{_box(step.piece)}</td><td>{step.token_id}</td>"
            f"<td>{html.escape(tried)}</td></tr>"
        )
    return (
        '<table class="rs-x-table"><thead><tr><th>at char</th><th>longest match</th><th>id</th><th>tried</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_vocab(result: VocabResult) -> str:
    """The browser's entries as a table (id, piece, text, bytes), with the count and any note."""
    e = html.escape
    shown = len(result.entries)
    count = f"{shown:,} of {result.total:,} shown" if result.truncated else f"{shown:,} found"
    if result.mode in ("longest", "special"):
        count = f"{shown:,} shown"
    rows = "".join(
        f'<tr class="rs-v-hit"><td>{entry.id}</td><td>{_box(entry.piece, extra="rs-special" if entry.special else "")}'
        f'</td><td class="rs-keep">{visible_text(entry.text, show_whitespace=True)}</td>'
        f"<td><code>{e(entry.bytes)}</code></td></tr>"
        for entry in result.entries
    )
    note = f'<p class="rs-note">{e(result.note)}</p>' if result.note else ""
    table = (
        '<table class="rs-x-table rs-v-table"><thead><tr><th>id</th><th>piece</th><th>text</th>'
        f"<th>UTF-8 bytes</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<div class="rs-vocab"><div class="rs-x-head"><span class="rs-keep">{e(result.tokenizer)}</span> · '
        f"<span>vocabulary {result.vocab_size:,}</span> · <span>{e(count)}</span></div>{note}{table}</div>"
    )
