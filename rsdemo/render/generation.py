"""The generation view (no gradio): generated text in the model's token boundaries, coloured by probability.

>>> "100%" in prob_legend(distribution="raw") and "model's own distribution" in prob_legend(distribution="raw")
True
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .common import _focus, _is_long, _marked, _spoken, blank_marker, prob_colour, visible_text

__all__ = ["prob_legend", "render_generation"]


def render_generation(
    segments: Sequence[object],
    tokens: Sequence[object],
    *,
    distribution: str = "filtered",
    show_whitespace: bool = False,
    title: str = "",
    mark_token: int | None = None,
    run: int | None = None,
    second: object | None = None,
) -> str:
    """Generated text in the model's token boundaries, each segment coloured by its token probability.

    Args:
        segments: ``rsdemo.generation.TokenSegment`` list (whole characters; a segment may hold several tokens).
        tokens: the ``GeneratedToken`` list the segments index into.
        distribution: ``filtered`` (after the decoding filters) or ``raw`` (the model's own distribution).
        show_whitespace: draw whitespace glyphs.
        title: a caption above the text.
        mark_token: the index of a token to mark (the arena's divergence point): its segment gets ``rs-diverge``.
        run: which run this is (0 the run, n a branch): the page's script fills the branch controls from a click
            on an alternative of a token of this view.
        second: a ``SecondOpinion`` (transformers' numbers at each token of a run another engine made): the tokens
            where transformers ranks another token first get ``rs-disagree``, and both probabilities.
    """
    parts: list[str] = []
    said = {o.index: o for o in getattr(second, "opinions", ())}
    for seg in segments:
        members = [tokens[i] for i in getattr(seg, "tokens", ())]
        probs = [_prob(t, distribution) for t in members]
        known = [p for p in probs if p is not None]
        lowest = min(known) if known else None
        rows = [_token_row(index, t, distribution, said) for index, t in zip(getattr(seg, "tokens", ()), members)]
        data = json.dumps({"text": seg.text, "gen": rows}, ensure_ascii=False)
        shown = f"{lowest:.1%}" if lowest is not None else "?"
        title_text = f"p = {shown} · id {', '.join(str(t.id) for t in members)}"
        cls = "rs-tok rs-gen rs-special" if getattr(seg, "special", False) else "rs-tok rs-gen"
        if _is_long(seg.text):
            cls += " rs-long"
        if mark_token is not None and mark_token in getattr(seg, "tokens", ()):
            cls += " rs-diverge"
            title_text += " · where this output parts from the closest other one"
        differing = [said[i] for i in getattr(seg, "tokens", ()) if i in said and said[i].differs]
        if differing:
            o = differing[0]
            cls += " rs-disagree"
            title_text += (
                f" · transformers ranks {o.top_text!r} first ({o.top_prob:.1%}); this token has {o.prob:.1%} there"
            )
        style = "" if getattr(seg, "special", False) else f' style="background:{prob_colour(lowest)}"'
        body = visible_text(seg.text, show_whitespace=show_whitespace) or "∅"
        marker = blank_marker(seg.text, show_whitespace=show_whitespace) if seg.text else ""
        label = f"{_spoken(seg.text)}, p {shown}, id {', '.join(str(t.id) for t in members)}"
        parts.append(
            f"<span {_marked(cls.split(), marker)}{style} {_focus(not parts)} "
            f'aria-label="{html.escape(label, quote=True)}" '
            f'data-d="{html.escape(data, quote=True)}" title="{html.escape(title_text, quote=True)}">{body}</span>'
        )
    head = f'<div class="rs-stats-title">{html.escape(title)}</div>' if title else ""
    # an engine with no numbers after the filters (a server whose log-probabilities are taken before them)
    # is coloured by the raw distribution, and the legend says so
    unfiltered = distribution == "filtered" and tokens and all(getattr(t, "prob", None) is None for t in tokens)
    legend = prob_legend(distribution="raw" if unfiltered else distribution) if parts else ""
    panel = (
        '<div class="rs-details" aria-live="polite"><span class="rs-hint">Click a token (or Tab to the text, '
        "then arrow keys and Enter) to see its probability and the alternatives the model considered.</span>"
        "</div>"
    )
    run_attr = f' data-run="{int(run)}"' if run is not None else ""
    return (
        f'<div class="rs-view"{run_attr}>{head}{legend}<div class="rs-tokens" dir="auto" role="group" '
        f'aria-label="generated tokens">{"".join(parts)}</div>{panel}</div>'
    )


def _token_row(index: int, t: Any, distribution: str, said: Mapping[int, Any]) -> dict[str, object]:
    """One generated token's details for the click panel: its probabilities, alternatives and second opinion."""
    alts = getattr(t, "top" if distribution == "filtered" and getattr(t, "top", ()) else "raw_top", ())
    row: dict[str, object] = {
        "index": index,
        "id": t.id,
        "piece": t.piece,
        "prob": _prob(t, distribution),
        "raw_prob": t.raw_prob if t.raw_prob == t.raw_prob else None,
        "alternatives": [[a.text or a.piece, round(a.prob, 6), a.id] for a in alts],
    }
    if index in said:
        o = said[index]
        row["second"] = {
            "prob": round(o.prob, 6),
            "top": o.top_text,
            "top_id": o.top_id,
            "top_prob": round(o.top_prob, 6),
            "differs": o.differs,
        }
    return row


def prob_legend(*, distribution: str = "filtered") -> str:
    """The key to the probability colours: a red-to-green scale from 0% to 100%, and what is measured.

    >>> "0%" in prob_legend() and "100%" in prob_legend() and "after the decoding filters" in prob_legend()
    True
    """
    stops = ", ".join(prob_colour(p / 4) for p in range(5))
    which = "after the decoding filters" if distribution == "filtered" else "under the model's own distribution"
    return (
        f'<div class="rs-prob-legend" role="note">Colour = probability of the chosen token ({which}): '
        f'<span class="rs-scale-end">0%</span><span class="rs-scale" style="background:linear-gradient('
        f'to right, {stops})" aria-hidden="true"></span><span class="rs-scale-end">100%</span>'
        f'<span class="rs-tok rs-special rs-scale-key">special</span></div>'
    )


def _prob(token: object, distribution: str) -> float | None:
    value = getattr(token, "prob", None) if distribution == "filtered" else getattr(token, "raw_prob", None)
    if value is None and distribution == "filtered":
        value = getattr(token, "raw_prob", None)
    if value is None or value != value:
        return None
    return float(value)
