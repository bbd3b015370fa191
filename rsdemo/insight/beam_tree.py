"""The beam search tree: every hypothesis transformers' beam search kept at each step, as a tree.

``BeamRecorder`` is a logits processor placed last in ``generate``'s pipeline: at every step it sees the running
beams' sequences and their log-probabilities after the other processors, and keeps the top candidates of
each. ``build_tree`` (pure) turns those steps and the returned sequences into nodes: each with its token,
its log-probability, the cumulative score of its path, and whether it lies on a returned sequence, on the
chosen (best) one, ends a finished hypothesis (end of sequence), or was pruned. ``rsdemo.render.beam_tree`` draws
the tree.

>>> steps = [[((), {5: -0.1, 6: -2.5})], [((5,), {7: -0.2, 2: -1.0}), ((6,), {8: -0.1})]]
>>> tree = build_tree(steps=steps, returned=[(5, 7)], eos={2})
>>> [(n.path, round(n.cumulative, 2), n.status) for n in tree.nodes]
[((5,), -0.1, 'best'), ((6,), -2.5, 'pruned'), ((5, 7), -0.3, 'best')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TREE_BEAMS",
    "TREE_STEPS",
    "BeamRecorder",
    "BeamTree",
    "TreeNode",
    "build_tree",
    "tree_steps",
]

TREE_BEAMS = 8  # more beams than this and the tree is no longer readable: refused, beside the settings
TREE_STEPS = 32  # a longer Max new tokens draws a search of this many steps, and says so


def tree_steps(max_new_tokens: int) -> tuple[int, tuple[str, ...]]:
    """The steps the tree's beam search runs for a Max new tokens, and a note when that is fewer.

    >>> tree_steps(12)
    (12, ())
    >>> tree_steps(64)[0], tree_steps(64)[1][0][:58]
    (32, 'The tree shows a beam search of 32 new tokens (Max new tok')
    """
    if max_new_tokens <= TREE_STEPS:
        return max_new_tokens, ()
    return TREE_STEPS, (
        f"The tree shows a beam search of {TREE_STEPS} new tokens (Max new tokens is "
        f"{max_new_tokens}; the tree draws at most {TREE_STEPS} so it stays readable).",
    )


class BeamRecorder:
    """A pass-through logits processor that records each step's running beams and their best candidates."""

    def __init__(self, *, prompt_len: int, keep: int) -> None:
        self.prompt_len = prompt_len
        self.keep = keep
        self.steps: list[list[tuple[tuple[int, ...], dict[int, float]]]] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        values, ids = torch.topk(scores.float(), min(self.keep, scores.shape[-1]), dim=-1)
        rows: dict[tuple[int, ...], dict[int, float]] = {}
        for seq, row_ids, row_values in zip(input_ids.tolist(), ids.tolist(), values.tolist()):
            path = tuple(seq[self.prompt_len :])
            if path not in rows:  # at the first step every beam is the prompt
                rows[path] = {i: v for i, v in zip(row_ids, row_values) if v > -1e8}
        self.steps.append(list(rows.items()))
        return scores


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A hypothesis: ``path`` is its generated tokens; ``token`` the last of them.

    ``status``: ``best`` (on the chosen sequence), ``returned`` (on another returned sequence), ``finished``
    (ended with end of sequence, not returned) or ``pruned``.
    """

    path: tuple[int, ...]
    token: int
    logprob: float | None
    cumulative: float
    status: str

    @property
    def step(self) -> int:
        return len(self.path) - 1


@dataclass(frozen=True, slots=True)
class BeamTree:
    nodes: tuple[TreeNode, ...]
    returned: tuple[tuple[int, ...], ...]


def build_tree(
    *,
    steps: Sequence[Sequence[tuple[tuple[int, ...], Mapping[int, float]]]],
    returned: Sequence[Sequence[int]],
    eos: set[int],
) -> BeamTree:
    """Nodes for every running hypothesis at every step, plus the returned sequences' last tokens."""
    dist: dict[tuple[int, ...], Mapping[int, float]] = {}
    paths: list[tuple[int, ...]] = []
    for step in steps:
        for path, candidates in step:
            dist[path] = candidates
            if path:
                paths.append(path)
    for seq in returned:
        for k in range(1, len(seq) + 1):
            paths.append(tuple(seq[:k]))
    unique = sorted(set(paths), key=lambda p: (len(p), paths.index(p)))
    on_returned = {tuple(seq[:k]) for seq in returned for k in range(1, len(seq) + 1)}
    best = {tuple(returned[0][:k]) for k in range(1, len(returned[0]) + 1)} if returned else set()
    cumulative: dict[tuple[int, ...], float] = {(): 0.0}
    nodes = []
    for path in unique:
        parent = path[:-1]
        logprob = dist.get(parent, {}).get(path[-1])
        total = cumulative.get(parent, 0.0) + (logprob if logprob is not None else 0.0)
        cumulative[path] = total
        status = (
            "best"
            if path in best
            else "returned"
            if path in on_returned
            else "finished"
            if path[-1] in eos
            else "pruned"
        )
        nodes.append(TreeNode(path, path[-1], logprob, total, status))
    return BeamTree(tuple(nodes), tuple(tuple(s) for s in returned))
