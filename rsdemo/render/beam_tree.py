"""The beam search tree as an SVG (no gradio): steps left to right, one lane per hypothesis; every label escaped.

The tree itself (``BeamTree``, built from the recorded steps by ``rsdemo.insight.beam_tree.build_tree``) is numbers
only; this module draws it.

>>> from rsdemo.insight.beam_tree import build_tree
>>> steps = [[((), {5: -0.1, 6: -2.5})], [((5,), {7: -0.2, 2: -1.0}), ((6,), {8: -0.1})]]
>>> tree = build_tree(steps=steps, returned=[(5, 7)], eos={2})
>>> svg = render_beam_tree(tree, pieces={5: "<b>", 6: "'s", 7: " x"})
>>> "&lt;b&gt;" in svg and "&#x27;s" in svg and "&amp;#x27;" not in svg and "<b>" not in svg
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from ..insight.beam_tree import BeamTree
from .common import plain_label

__all__ = ["render_beam_tree"]


def render_beam_tree(tree: BeamTree, *, pieces: Mapping[int, str]) -> str:
    """The tree as an SVG: steps left to right, one lane per hypothesis, the chosen sequence highlighted along the top.

    >>> from rsdemo.insight.beam_tree import TreeNode
    >>> tree = BeamTree(nodes=(TreeNode((5,), 5, -0.1, -0.1, "pruned"), TreeNode((7,), 7, -0.2, -0.2, "best"),
    ...                        TreeNode((7, 9), 9, -0.3, -0.5, "best")), returned=((7, 9),))
    >>> svg = render_beam_tree(tree, pieces={5: "a", 7: "b", 9: "c"})
    >>> [box.split('y="')[1].split('"')[0] for box in svg.split("<rect")[1:]]  # a below; b, c on the top lane
    ['42.0', '8.0', '8.0']
    """
    leaves: list[tuple[int, ...]] = []
    children: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    rank = {"best": 0, "returned": 1, "finished": 2, "pruned": 3}
    # the chosen sequence first, then the other returned beams, finished and pruned ones, each by path score
    for node in sorted(tree.nodes, key=lambda n: (rank[n.status], -n.cumulative)):
        children.setdefault(node.path[:-1], []).append(node.path)
    lane: dict[tuple[int, ...], float] = {}

    def place(path: tuple[int, ...]) -> float:
        """A node shares its first child's lane: the chosen sequence is one straight line along the top, and
        every other hypothesis branches off below where it parts (no empty band above the start on a phone)."""
        kids = children.get(path, [])
        if not kids:
            leaves.append(path)
            lane[path] = float(len(leaves) - 1)
            return lane[path]
        ys = [place(k) for k in kids]
        lane[path] = ys[0]
        return lane[path]

    for root in children.get((), []):
        place(root)
    width, height, pad = 112, 34, 8
    depth = max((n.step for n in tree.nodes), default=0) + 1
    svg_w, svg_h = depth * width + 2 * pad, max(1, len(leaves)) * height + 2 * pad
    colours = {"best": "#7c3aed", "returned": "#2563eb", "finished": "#059669", "pruned": "#9ca3af"}
    parts = []
    for node in tree.nodes:
        x, y = pad + node.step * width, pad + lane[node.path] * height
        if len(node.path) > 1:
            px, py = pad + (node.step - 1) * width, pad + lane[node.path[:-1]] * height
            parts.append(
                f'<line x1="{px + width - 14}" y1="{py + 12}" x2="{x}" y2="{y + 12}" '
                f'stroke="{colours[node.status]}" stroke-width="{2.5 if node.status == "best" else 1}"/>'
            )
    for node in tree.nodes:
        x, y = pad + node.step * width, pad + lane[node.path] * height
        text = plain_label(pieces.get(node.token, f"#{node.token}")[:10])  # escaped; no markup inside SVG text
        score = f"{node.logprob:.2f}" if node.logprob is not None else "?"
        tip = html.escape(
            f"{pieces.get(node.token, '')!r} log-prob {score}, path score {node.cumulative:.2f}, {node.status}"
        )
        parts.append(
            f'<g class="rs-node rs-node-{node.status}"><title>{tip}</title>'
            f'<rect x="{x}" y="{y}" width="{width - 16}" height="24" rx="4" fill="white" '
            f'stroke="{colours[node.status]}" stroke-width="{2.5 if node.status == "best" else 1}"/>'
            f'<text x="{x + 4}" y="{y + 11}" font-size="11">{text}</text>'
            f'<text x="{x + 4}" y="{y + 21}" font-size="9" fill="#555">{score} · Σ {node.cumulative:.1f}</text></g>'
        )
    legend = (
        '<div class="rs-legend">Purple: the chosen sequence; blue: the other returned beams; green: finished '
        "(end of sequence) and not returned; grey: pruned. Each box: the token, its log-probability, and its "
        "path's summed log-probability (Σ; the returned score divides it by the length).</div>"
    )
    return (
        f'{legend}<div class="rs-beam-tree"><svg xmlns="http://www.w3.org/2000/svg" width="{svg_w}" '
        f'height="{svg_h}" role="img" aria-label="beam search tree">{"".join(parts)}</svg></div>'
    )
