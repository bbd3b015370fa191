"""The logit lens and attention renderers: structure (cells counted) and hostile token text escaped everywhere.

Built from hand-made results (no model): the numerics are checked in ``test_lens.py`` / ``test_attention.py``.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from rsdemo.insight.attention import AttentionResult
from rsdemo.insight.lens import LensResult, probe
from rsdemo.render.attention import NOTE, render_attended_to, render_head, render_heads
from rsdemo.render.lens import render_lens_cell, render_lens_grid, render_probe_chart

HOSTILE = ["<script>alert(1)</script>", '" onmouseover="alert(2)', "\u202eevil", "&amp;", "<svg onload=x>", "'"]


class _Tags(HTMLParser):
    """Every tag and attribute name the markup really opens."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.update(name for name, _ in attrs)


def _parsed(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    return parser


def _assert_safe(markup: str) -> None:
    parsed = _parsed(markup)
    assert "script" not in parsed.tags and parsed.tags.count("svg") == markup.count(
        'xmlns="http://www.w3.org/2000/svg"'
    )
    assert not {a for a in parsed.attrs if a.startswith("on")}, parsed.attrs
    assert "\u202e" not in markup.replace('<bdi class="rs-bidi">\u202e</bdi>', "")


@pytest.fixture()
def lens() -> LensResult:
    positions, rows, vocab = 5, 4, len(HOSTILE) + 2
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(positions, rows, vocab))
    logprobs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    order = np.argsort(-logprobs, axis=-1)[..., :3].astype(np.int32)
    top = np.take_along_axis(logprobs, order, -1).astype(np.float32)
    final = order[:, -1, 0]
    chosen = np.take_along_axis(logprobs, final[:, None, None].repeat(rows, 1), -1)[..., 0]
    ranks = (logprobs > chosen[..., None]).sum(-1) + 1
    pieces = {i: HOSTILE[i % len(HOSTILE)] for i in range(vocab)}
    return LensResult(
        "m", tuple(range(positions)), ("emb", "1", "2", "3"), order, top, final,
        ranks.astype(np.int32), chosen.astype(np.float32), logprobs[-1].astype(np.float32), pieces,
    )  # fmt: skip


@pytest.fixture()
def attention() -> AttentionResult:
    n, heads = 6, 4
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(2, heads, n, n))
    scores[..., np.triu(np.ones((n, n), dtype=bool), k=1)] = -np.inf
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    pieces = {i: HOSTILE[i % len(HOSTILE)] for i in range(n)}
    return AttentionResult("m", tuple(range(n)), (3, 4), weights.astype(np.float16), (0, 0, 1, 1), 2, pieces)


@pytest.mark.parametrize("colour", ["prob", "rank"])
def test_the_lens_grid_has_a_cell_per_position_and_row_and_escapes_tokens(lens: LensResult, colour: str) -> None:
    grid = render_lens_grid(lens, colour=colour)
    assert grid.count('class="rs-lens-cell"') == 5 * 4
    assert grid.count("<tr>") == 1 + 5 and grid.count('<th scope="col">') == 1 + 4
    assert "&lt;script&gt;" in grid and "onmouseover=&quot;" in grid
    _assert_safe(grid)
    part = render_lens_grid(lens, colour=colour, count=2)
    assert part.count('class="rs-lens-cell"') == 2 * 4 and "Positions 3 to 4 of 5" in part
    assert render_lens_grid(lens, colour=colour, start=0, count=2).count('data-pos="0"') == 1 + 4


def test_the_two_colourings_differ_and_a_bad_colouring_is_refused(lens: LensResult) -> None:
    assert render_lens_grid(lens, colour="prob") != render_lens_grid(lens, colour="rank")
    with pytest.raises(ValueError, match="colour"):
        render_lens_grid(lens, colour="loud")


def test_a_cell_lists_its_kept_top_tokens(lens: LensResult) -> None:
    out = render_lens_cell(lens, position=2, layer=1)
    assert out.count("<tr>") == 3 and "row 1" in out
    _assert_safe(out)


def test_the_probe_chart_draws_a_line_per_probe_and_gaps_where_unknown(lens: LensResult) -> None:
    exact = probe(lens, text="<b>", token_id=int(lens.final_ids[-1]), piece=HOSTILE[0])
    partial = probe(lens, text="x", token_id=int(lens.top_ids[1, 0, 0]), piece=HOSTILE[1], position=1)
    chart = render_probe_chart([exact, partial], layers=lens.layers)
    assert exact.exact and not partial.exact and None in partial.probs
    assert chart.count('class="rs-probe-line"') >= 2 and chart.count("<li>") == 2
    _assert_safe(chart)
    assert "Type a word" in render_probe_chart([], layers=lens.layers)


def test_small_multiples_draw_every_head_of_a_layer(attention: AttentionResult) -> None:
    out = render_heads(attention, layer=4)
    assert out.count('class="rs-attn-head"') == 4 and "kv 1" in out and NOTE in out
    assert out.count('class="rs-attn-small"') <= 4 * 21  # lower triangle only
    _assert_safe(out)


def test_one_head_draws_its_lower_triangle_with_tokens_on_both_edges(attention: AttentionResult) -> None:
    out = render_head(attention, layer=3, head=2)
    matrix = attention.weights[0, 2].astype(np.float32)
    drawn = int((np.tril(matrix) >= 0.005).sum())
    assert out.count('class="rs-attn-cell"') == drawn and NOTE in out
    assert out.count("&lt;script&gt;") >= 2  # a row label and a column label
    _assert_safe(out)


def test_attended_to_lists_a_bar_per_earlier_token(attention: AttentionResult) -> None:
    out = render_attended_to(attention, position=3, layer=3)
    assert out.count('class="rs-attn-row"') == 4 and NOTE in out and "averaged over its heads" in out
    _assert_safe(out)
    assert "head 1" in render_attended_to(attention, position=0, layer=4, head=1)


def test_results_pickle_for_zerogpu(lens: LensResult, attention: AttentionResult) -> None:
    import pickle

    again = pickle.loads(pickle.dumps(lens))
    np.testing.assert_array_equal(again.top_ids, lens.top_ids)
    assert again.pieces == lens.pieces and again.layers == lens.layers
    back = pickle.loads(pickle.dumps(attention))
    np.testing.assert_array_equal(back.weights, attention.weights)
    assert back.kv_head == attention.kv_head


# --- the same views in Chinese --------------------------------------------------------------------------------------

ZH_PIECES = ["词", " 元", "🙂", "<>", "。", "&"]  # token text with no Latin letters (a repr of "\\n" has one)


class _Words(HTMLParser):
    """The text a reader sees or hears: text nodes, ``title`` and ``aria-label`` values."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.chunks += [value or "" for name, value in attrs if name in {"title", "aria-label"}]

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def _latin_words(markup: str) -> list[str]:
    parser = _Words()
    parser.feed(markup)
    return [w for chunk in parser.chunks for w in re.findall(r"[A-Za-z]+", chunk) if w != "ID"]


def _chinese(result):
    """The same result with token text that has no Latin letters: any left in a view are the renderer's."""
    pieces = {token: ZH_PIECES[token % len(ZH_PIECES)] for token in result.pieces}
    return dataclasses.replace(result, pieces=pieces)


def test_the_lens_in_chinese_has_no_english_left(lens: LensResult) -> None:
    zh = _chinese(lens)
    exact = probe(zh, text="词", token_id=int(zh.final_ids[-1]), piece="词")
    partial = probe(zh, text="元", token_id=int(zh.top_ids[1, 0, 0]), piece=" 元", position=1)
    views = {
        "grid prob": render_lens_grid(zh, colour="prob", count=2, lang="zh"),
        "grid rank": render_lens_grid(zh, colour="rank", lang="zh"),
        "cell": render_lens_cell(zh, position=2, layer=0, lang="zh"),
        "chart": render_probe_chart([exact, partial], layers=zh.layers, lang="zh"),
        "no probe": render_probe_chart([], layers=zh.layers, lang="zh"),
    }
    for name, markup in views.items():
        assert _latin_words(markup) == [], name
        assert re.search(r"[\u4e00-\u9fff]{2}", markup), name
        _assert_safe(markup)
    assert '<th scope="col">嵌入</th>' in views["grid rank"] and "层 嵌入" in views["cell"]
    assert "显示第 3 到 4 个位置，共 5 个" in views["grid prob"] and "仅在它位于单元格前 10 名时" in views["chart"]
    assert render_lens_grid(lens) == render_lens_grid(lens, lang="en")  # English stays the default


def test_attention_in_chinese_has_no_english_left(attention: AttentionResult) -> None:
    zh = _chinese(attention)
    views = {
        "heads": render_heads(zh, layer=4, lang="zh"),
        "head": render_head(zh, layer=3, head=2, lang="zh"),
        "mean": render_attended_to(zh, position=3, layer=3, lang="zh"),
        "one head": render_attended_to(zh, position=3, layer=3, head=1, lang="zh"),
    }
    for name, markup in views.items():
        assert _latin_words(markup) == [], name
        assert "它们不是解释" in markup and NOTE not in markup, name
        _assert_safe(markup)
    assert "4 个查询注意力头共享 2 个键值头" in views["heads"] and "头 3 · 键值头 1" in views["heads"]
    assert "对所有注意力头取平均" in views["mean"] and "注意力头 1）" in views["one head"]
    assert render_heads(attention, layer=4) == render_heads(attention, layer=4, lang="en")
