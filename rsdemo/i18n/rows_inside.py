"""The logit lens and attention renderers' own words (``rsdemo.render.lens``, ``rsdemo.render.attention``).

The renderers take ``lang`` and look these up with ``text``; their English is also what the page's script matches
when a view was rendered in English. Placeholders that hold a number are named from ``lookup.NUMBERS`` (``n``,
``total`` ...) so that a short pattern ("head {n}") cannot swallow another sentence; an optional sentence is a
row (and an element) of its own, as a placeholder the page's script matches is never empty.

>>> from rsdemo.i18n import text
>>> text("lens.emb", lang="zh"), text("attn.head", lang="zh", n=3)
('嵌入', '注意力头 3')
"""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["INSIDE_ROWS"]

# fmt: off
INSIDE_ROWS: tuple[tuple[str, str, str], ...] = (
    # the logit lens (rsdemo.render.lens)
    ("lens.emb", "emb", "嵌入"),
    ("lens.token", "token", "词元"),
    ("lens.legend",
     "Each column: what the model would predict after that token if it stopped after a layer (emb: the embeddings; "
     "the last column is its real output). Colour: {what}.",
     "每一列：如果模型在某一层之后就停下，它在该词元之后会预测什么（嵌入：词嵌入；最后一列是模型真正的输出）。颜色：{what}。"),
    ("lens.colour_prob", "the top token's probability (red: low, green: high)", "首选词元的概率（红：低，绿：高）"),
    ("lens.colour_rank",
     "the rank of the model's final choice at that row (green: already first; yellow: about 100th)",
     "模型最终选择的词元在该层的排名（绿：已排第一；黄：约第 100 名）"),
    ("lens.positions", "Positions {lo} to {hi} of {total}.", "显示第 {lo} 到 {hi} 个位置，共 {total} 个。"),
    ("lens.tip",
     "position {n}, row {row}: {token} {p}%; the final choice {final} has rank {rank} ({chosen}%)",
     "位置 {n}，层 {row}：{token} {p}%；最终选择的 {final} 排名 {rank}（{chosen}%）"),
    ("lens.cell",
     "After {token} (position {n}), row {row}: the {total} most probable next tokens.",
     "在 {token}（位置 {n}）之后，层 {row}：概率最高的 {total} 个下一个词元。"),
    ("lens.probe_empty", "Type a word to follow it through the layers.", "输入一个词，跟踪它穿过各层。"),
    ("lens.never_leads", "never leads", "从未排第一"),
    ("lens.leads_from", "leads from row {row}", "从层 {row} 起排第一"),
    ("lens.top10_only", " (only where it is in a cell's top 10)", "（仅在它位于单元格前 10 名时可知）"),
    ("lens.probe_item",
     "{piece} (typed {typed}, id {n}): {rises}; last row {p}%{known}",
     "{piece}（输入的是 {typed}，ID {n}）：{rises}；最后一层 {p}%{known}"),
    ("lens.chart_label", "probability at each layer", "每一层的概率"),
    # attention (rsdemo.render.attention)
    ("attn.note",
     "Attention weights show where a head looked, not why the model answered as it did; they are not explanations.",
     "注意力权重显示的是注意力头看向了哪里，而不是模型为什么这样回答；它们不是解释。"),
    ("attn.aria", "layer {n} head {total}", "层 {n} 注意力头 {total}"),
    ("attn.caption", "H{n} · kv {total}", "头 {n} · 键值头 {total}"),
    ("attn.pooled", "Each square averages a block of {n}×{n} weights.", "每个方块是 {n}×{n} 个权重的平均。"),
    ("attn.heads_legend",
     "Layer {n}: each query head's weights (a row: a token; its dark squares: the earlier tokens it attended to). "
     "{total} query heads share {kept} key/value heads (kv).",
     "层 {n}：每个查询注意力头的权重（一行：一个词元；深色方块：它关注的前面的词元）。"
     "{total} 个查询注意力头共享 {kept} 个键值头（键值）。"),
    ("attn.head_legend",
     "Layer {n}, head {total} (key/value head {kept}): a row is a token (query), a column an earlier token (key); "
     "darker: more weight.",
     "层 {n}，注意力头 {total}（键值头 {kept}）：一行是一个词元（查询），一列是前面的一个词元（键）；颜色越深，权重越大。"),
    ("attn.averaged", "averaged over its heads", "对所有注意力头取平均"),
    ("attn.head", "head {n}", "注意力头 {n}"),
    ("attn.attended",
     "What {token} (position {n}) attended to in layer {total}, {who}.",
     "{token}（位置 {n}）在层 {total} 中关注了什么（{who}）。"),
)
# fmt: on
