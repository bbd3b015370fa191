"""The Generate and Inside tabs' HTML (no gradio): a run and its stats cards, its branches, the method arena, the
beam tree's list of beams, transformers' second opinion, and the notes shown while a run waits.

>>> stats_cards({"tokens": 3}, title="done <eos>")  # doctest: +ELLIPSIS
'<div class="rs-stats"><div class="rs-stats-title">done &lt;eos&gt;</div><div class="rs-card"><b>3</b>...</div></div>'
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..decoding import METHODS, asks_random_seed
from ..generation import GenerationResult, token_segments
from ..insight.second_opinion import SecondOpinion
from .beam_tree import render_beam_tree
from .generation import render_generation
from .insight import render_arena_table

__all__ = [
    "GEN_STALE",
    "METHOD_LABELS",
    "SEEDED",
    "STAGES_STALE",
    "TREE_STALE",
    "arena_views",
    "beam_tree_view",
    "branch_views",
    "drawn_seed",
    "generation_stats",
    "preparing",
    "render_run",
    "run_notes",
    "run_title",
    "second_summary",
    "stats_cards",
    "waiting",
]

SEEDED = frozenset(k for k, m in METHODS.items() if m.samples)  # methods whose output depends on the seed
METHOD_LABELS = {key: spec.label for key, spec in METHODS.items()}

GEN_STALE = '<div class="rs-stale">No run for these settings: see the message beside the input it is about.</div>'
TREE_STALE = '<div class="rs-stale">No tree for these settings: see the message above.</div>'
STAGES_STALE = (
    '<div class="rs-stale">No distribution for these settings: see the message beside the input it is about.</div>'
)


def generation_stats(result: GenerationResult) -> dict[str, Any]:
    """The stats cards of a run: tokens, log-prob and perplexity, timings, the seed of a sampling method, engine."""
    stats: dict[str, Any] = {"tokens": len(result.tokens)}
    if result.logprob is not None:
        stats["log-prob (raw)"] = round(result.logprob, 3)
        stats["perplexity"] = round(result.perplexity or 0.0, 3)
    if result.load_s is not None:
        stats["model load s"] = round(result.load_s, 2)
    if result.ttft_s is not None:
        stats["first token s"] = round(result.ttft_s, 3)
    if result.tokens_per_s is not None:
        stats["tokens / s"] = round(result.tokens_per_s, 1)
    if result.method in SEEDED:
        stats["seed"] = result.seed
    if result.engine:
        stats["engine"] = result.engine
    if result.served:
        stats["probabilities from"] = result.served
    return stats


def stats_cards(stats: Mapping[str, Any], *, title: str) -> str:
    """A run's stats as cards under a title (escaped)."""
    cards = "".join(
        f'<div class="rs-card"><b>{html.escape(str(v))}</b><span>{html.escape(k)}</span></div>'
        for k, v in stats.items()
    )
    return f'<div class="rs-stats"><div class="rs-stats-title">{html.escape(title)}</div>{cards}</div>'


def waiting(ahead: int) -> str:
    """The stats area while a run waits for a generation slot: how many runs are ahead of it."""
    return stats_cards(
        {"waiting": f"{ahead} ahead of you" if ahead else "you are next"}, title="waiting for a generation slot"
    )


def preparing(stage: str) -> str:
    """The Generate tab while a run waits for the start-up warm-up to get its model ready.

    >>> "checking llama.cpp" in preparing("Loading the model and checking llama.cpp…")
    True
    """
    return (
        '<div class="rs-stats"><div class="rs-stats-title">getting the model ready</div>'
        f'<div class="rs-legend" role="status">The app gets the model ready once after a start: '
        f"{html.escape(stage)} Your run starts as soon as it is ready.</div></div>"
    )


def drawn_seed(params: Mapping[str, Any], result: GenerationResult) -> str:
    """Beside the settings, when Seed is -1 and the method samples: the seed this run drew (it is in the stats too),
    so the visitor can type it to run the same again; Seed keeps -1, so the next run draws a new one."""
    if result.method not in SEEDED or not asks_random_seed(params):
        return ""
    return (
        f'<div class="rs-notice" role="status">Seed -1: this run drew seed {result.seed}. Type {result.seed} in '
        "Seed to run it again.</div>"
    )


def run_title(result: GenerationResult) -> str:
    """The stats cards' title: done and why, a beam search's leader so far, or generating."""
    if result.done:
        return "done · " + result.finish_reason
    if not METHODS[result.method].streams:  # a beam method: its leader so far, which may still change
        return "searching… · the leading beam so far"
    return "generating…"


def run_notes(result: GenerationResult) -> str:
    """Under the templated prompt (Markdown): why this engine, and the run's notes, one paragraph each (so the
    page's language script finds each as one sentence of the catalog)."""
    return "\n\n".join(
        [
            f"Engine: {result.engine_reason}",
            *(("ℹ️ " if n.startswith("Served by") else "⚠️ ") + n for n in result.notes),
        ]
    )


def render_run(result: GenerationResult, dist: str, second: SecondOpinion | None = None) -> str:
    """A run's tokens coloured by ``dist`` (``filtered`` or ``raw``); a beam method's every beam with its score."""
    if len(result.beams) > 1:
        blocks = []
        for n, beam in enumerate(result.beams):
            title = f"Beam {n + 1}" + (f" · score {beam.score:.3f}" if beam.score is not None else "")
            blocks.append(render_generation(token_segments(beam.tokens), beam.tokens, distribution=dist, title=title))
        return "".join(blocks)
    return render_generation(token_segments(result.tokens), result.tokens, distribution=dist, run=0, second=second)


def second_summary(engine: str, second: SecondOpinion) -> str:
    """Beside the second-opinion box: at how many tokens transformers ranks first the token ``engine`` took."""
    differing = len(second.differing)
    summary = (
        f"transformers ranks the same token first as {html.escape(engine)} at "
        f"{len(second.opinions) - differing} of {len(second.opinions)} tokens"
        + (
            f"; the {differing} where it does not are underlined (click one for both probabilities)."
            if differing
            else "."
        )
    )
    return f'<div class="rs-legend" role="status">{summary}</div>'


def branch_views(done: Sequence[Mapping[str, Any]], dist: str) -> str:
    """Every branch of the run, the newest first, each marked at the token it changed."""
    views = [
        render_generation(
            token_segments(b["tokens"]),
            b["tokens"],
            distribution=dist,
            title=b["title"],
            mark_token=b["at"] - 1,
            run=i + 1,
        )
        for i, b in enumerate(done)
    ]
    return "".join(reversed(views))


def arena_views(step: Any) -> tuple[str, str]:
    """The method arena so far (an ``ArenaResult``): its table (with a line while more runs follow) and each run's
    tokens, marked where it parts from the first run."""
    labels = METHOD_LABELS
    shown = {
        key: labels.get(key.split("@")[0], key) + (f" · {key.split('@')[1]}" if "@" in key else "")
        for key in step.methods
    }
    views = []
    for run, row in zip(step.runs, step.rows):
        title = f"{labels.get(run.method, run.method)} · {run.engine} · {run.finish_reason}"
        if row.same_as is not None:
            title += f" · same text as {shown.get(row.same_as, row.same_as)}"
        views.append(
            render_generation(
                token_segments(run.tokens),
                run.tokens,
                distribution="raw",
                title=title,
                mark_token=None if row.same_as is not None or row.start_of is not None else row.diverges_at,
            )
        )
    busy = "" if step.done else '<div class="rs-legend">running the next one…</div>'
    return render_arena_table(step.rows, labels=shown, scored_by=step.scored_by) + busy, "".join(views)


def beam_tree_view(result: Any) -> tuple[str, str]:
    """A recorded beam search (a ``BeamTreeResult``): the tree and its returned beams, best first; and its notes."""
    beams = "".join(
        f'<li><span class="rs-keep">{html.escape(text)}</span> <small>score {score:.3f}</small></li>'
        for text, score in zip(result.texts, result.scores)
    )
    said = "".join(f'<div class="rs-notice" role="status">{html.escape(n)}</div>' for n in result.notes)
    return (
        render_beam_tree(result.tree, pieces=result.pieces)
        + f'<div class="rs-legend">Returned beams, best first:</div><ol class="rs-surprising">{beams}</ol>',
        said,
    )
