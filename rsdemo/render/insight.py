"""Pure HTML for the insight views (no gradio); every token text is escaped.

``render_stages`` draws the next-token distribution through each stage as a table of bars: one row per
candidate token (the raw top candidates, then any probed tokens), one column per stage in the order the
stages apply, each cell a bar as wide as the probability. ``render_surprisal_stats`` lists the prompt's
mean log-probability, perplexity and most surprising tokens.

>>> from rsdemo.insight.stages import StageRow, StageView
>>> rows = (StageRow("raw", ((5, 0.6), (7, 0.4)), 2, 0.97), StageRow("top-k", ((5, 1.0),), 1, 0.0))
>>> view = StageView("top_k", True, rows)
>>> html_out = render_stages(view, pieces={5: "<b>", 7: " a"})
>>> "&lt;b&gt;" in html_out and "<b>" not in html_out.replace("<b>#", "")
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from ..insight.arena import ArenaRow
from ..insight.stages import StageView
from ..insight.surprisal import Surprisal
from .common import prob_colour, visible_text
from .tables import render_card_table

__all__ = ["render_arena_table", "render_stages", "render_surprisal_stats"]


def _token_label(text: str) -> str:
    return visible_text(text, show_whitespace=True) or "∅"


def render_stages(view: StageView, *, pieces: Mapping[int, str], probes: Sequence[tuple[str, int]] = ()) -> str:
    """The stage table: candidates down, stages across, a probability bar in each cell."""
    raw = view.rows[0]
    candidates = [i for i, _ in raw.top]
    probed = [i for _, i in probes if i not in candidates]
    candidates += list(dict.fromkeys(probed))
    head = "".join(
        f'<th scope="col"><div>{html.escape(row.name)}</div><small>{row.survivors:,} left · '
        f"{row.entropy_bits:.2f} bits</small>"
        + (f'<small class="rs-stage-note" style="display:block">{html.escape(row.note)}</small>' if row.note else "")
        + "</th>"
        for row in view.rows
    )
    body = []
    for token in candidates:
        cells = []
        for row in view.rows:
            probability = dict(row.top).get(token)
            if probability is None:
                probability = row.probes.get(token, (None, None))[0]
            if probability is None:
                cells.append('<td class="rs-stage-cell rs-stage-unknown" title="not in this stage\'s top">·</td>')
                continue
            width = max(0.0, min(100.0, 100 * probability))
            gone = " rs-stage-gone" if probability == 0 else ""
            cells.append(
                f'<td class="rs-stage-cell{gone}"><span class="rs-bar" style="width:{width:.1f}%;'
                f'background:{prob_colour(probability)}"></span><span class="rs-bar-label">'
                f"{100 * probability:.2f}%</span></td>"
            )
        mark = ' class="rs-probed"' if token in probed else ""
        body.append(
            f'<tr{mark}><th scope="row"><span class="rs-tok rs-stage-tok">{_token_label(pieces.get(token, ""))}'
            f"</span> <small>#{token}</small></th>{''.join(cells)}</tr>"
        )
    order = " → ".join(html.escape(row.name) for row in view.rows)
    how = (
        "sampling draws from the last column"
        if view.samples
        else "greedy takes the most probable token of the last column"
    )
    if view.order == "transformers":
        legend = (
            f"This method's stages, in the order transformers applies them: {order}; {how}. (llama.cpp's own "
            "sampler would apply temperature last; rsdemo applies this order to every engine.)"
        )
    else:
        whose = "in llama.cpp's order" if view.order == "llama.cpp" else "in the order you chose"
        legend = f"This method's stages, {whose}: {order}; {how}. (rsdemo applies this order to every engine.)"
    return (
        f'<div class="rs-view rs-stages"><div class="rs-legend">{legend}</div>'
        f'<table class="rs-stage-table"><thead><tr><th scope="col">token</th>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def render_surprisal_stats(surprisal: Surprisal, *, texts: Sequence[str]) -> str:
    """Mean log-probability, perplexity and the most surprising tokens of a scored prompt."""
    if surprisal.mean_logprob is None:
        return '<div class="rs-stats"><div class="rs-stats-title">Too short to score: one token.</div></div>'
    cards = [
        ("tokens scored", f"{len(surprisal.ids) - 1:,}"),
        ("mean log-prob", f"{surprisal.mean_logprob:.3f}"),
        ("perplexity", f"{surprisal.perplexity:,.2f}"),
    ]
    card_html = "".join(f'<div class="rs-card"><b>{v}</b><span>{html.escape(k)}</span></div>' for k, v in cards)
    worst = "".join(
        f'<li><span class="rs-tok">{_token_label(texts[k])}</span> log-prob {surprisal.logprobs[k]:.2f}</li>'
        for k in surprisal.most_surprising[:5]
    )
    return (
        f'<div class="rs-stats"><div class="rs-stats-title">How surprising the prompt is to the model</div>'
        f'{card_html}</div><div class="rs-legend">Most surprising:</div><ol class="rs-surprising">{worst}</ol>'
    )


def render_arena_table(rows: Sequence[ArenaRow], *, labels: Mapping[str, str], scored_by: str = "transformers") -> str:
    """The arena's comparison table: one row per method; identical outputs say so instead of a divergence point.

    >>> from rsdemo.insight.arena import arena_rows
    >>> rows = arena_rows(methods=["greedy", "beam"], outputs=[[1, 2], [1, 2]], logprobs=[-1.0, -1.0],
    ...                   perplexities=[1.6, 1.6], seconds=[0.1, 0.2])
    >>> table = render_arena_table(rows, labels={"greedy": "Greedy", "beam": "Beam"})
    >>> "same text as Beam" in table and "same text as Greedy" in table and "token 3" not in table
    True
    """

    def num(value: float | None, digits: int = 3) -> str:
        return "—" if value is None or value != value else f"{value:.{digits}f}"

    def parts(r: ArenaRow) -> str:
        if r.same_as is not None:
            return f"same text as {labels.get(r.same_as, r.same_as)}"
        if r.start_of is not None:
            return f"ends where {labels.get(r.start_of, r.start_of)} goes on"
        return f"token {r.diverges_at + 1:,}"

    headers = [
        "method",
        "tokens",
        "log-prob",
        "perplexity",
        "distinct-1",
        "distinct-2",
        "distinct-3",
        "repeated 3-grams",
        "diverges at",
        "seconds",
    ]
    cells = [
        [
            labels.get(r.method, r.method),
            r.length,
            num(r.logprob),
            num(r.perplexity, 2),
            f"{r.distinct_1:.2f}",
            f"{r.distinct_2:.2f}",
            f"{r.distinct_3:.2f}",
            f"{100 * r.repeated_3:.0f}%",
            parts(r),
            f"{r.seconds:.2f}",
        ]
        for r in rows
    ]
    # a table on a wide screen, one card per method on a phone
    table = render_card_table(headers, cells, classes="rs-arena-table", wide=(headers.index("diverges at"),))
    return (
        '<div class="rs-table-scroll">'
        + table
        + '</div><div class="rs-legend">Log-probability and perplexity under the raw model, '
        + (
            "scored by transformers for every row (one scorer: the same text gets the same figure whatever "
            "engine wrote it)"
            if scored_by == "transformers"
            else "as each run's engine reported them"
        )
        + "; distinct-n: unique n-grams over all n-grams; repeated 3-grams: the share seen earlier in the same "
        "output; diverges at: the first token where the output parts from the one closest to it (outlined "
        "below).</div>"
    )
