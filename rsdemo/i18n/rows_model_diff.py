"""Two models on one text (``rsdemo.render.model_diff``, ``rsdemo.insight.model_diff_pass``): the renderer's words
and the view's name in its messages.

>>> from rsdemo.i18n import text
>>> text("md.col_bpc", lang="zh")
'比特 / 字符'
"""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["MODEL_DIFF_ROWS"]

# fmt: off
MODEL_DIFF_ROWS: tuple[tuple[str, str, str], ...] = (
    ("md.what", "Two models on one text", "两个模型读同一段文本"),
    ("md.legend",
     "Each model reads the text in its own tokens, each coloured by how probable that model found it (red: surprising, "
     "green: expected, grey: not scored). Hover a token for its log-probability and both models' numbers over the same characters.",
     "每个模型用自己的词元读这段文本，每个词元按该模型给它的概率着色（红：意外，绿：意料之中，灰：未打分）。"
     "把鼠标移到词元上，可以看到它的对数概率，以及两个模型在同样这些字符上的数值。"),
    ("md.segment_title", "Segment {segment}: {a} log-prob {lpa}, {b} log-prob {lpb}; A minus B: {delta} bits",
     "片段 {segment}：{a} 对数概率 {lpa}，{b} 对数概率 {lpb}；A 减 B：{delta} 比特"),
    ("md.unscored_token", "{piece}: not scored (no context before it)", "{piece}：未打分（它前面没有上下文）"),
    ("md.token_title", "{piece}: log-prob {logprob} (probability {prob}%, {bits} bits)",
     "{piece}：对数概率 {logprob}（概率 {prob}%，{bits} 比特）"),
    ("md.surprised", "Where {more} is more surprised than {less}", "{more} 比 {less} 更意外的地方"),
    ("md.none", "No such segment.", "没有这样的片段。"),
    ("md.top_row", "A {a} bits, B {b} bits: {delta} bits apart", "A {a} 比特，B {b} 比特：相差 {delta} 比特"),
    ("md.col_side", "Side", "一方"),
    ("md.col_model", "Model (engine)", "模型（引擎）"),
    ("md.col_tokens", "Tokens", "词元数"),
    ("md.col_bits", "Bits", "比特"),
    ("md.col_bpc", "Bits / char", "比特 / 字符"),
    ("md.col_seconds", "Seconds", "秒"),
    ("md.totals",
     "Bits: the surprisal of the {n} characters both models score, summed (the same text, so the model with fewer bits predicted it better).",
     "比特：两个模型都打了分的 {n} 个字符的意外度之和（同一段文本，比特越少的模型预测得越好）。"),
    ("md.unscored",
     "{n} characters are left out: a model with no start-of-document token cannot score the text's first token.",
     "有 {n} 个字符未计入：没有文档起始词元的模型无法给文本的第一个词元打分。"),
    ("md.strip",
     "The difference over the segments both models cut alike: blue where A ({a}) is more surprised, red where B ({b}) is.",
     "两个模型切分一致的片段上的差异：蓝色表示 A（{a}）更意外，红色表示 B（{b}）更意外。"),
)
# fmt: on
