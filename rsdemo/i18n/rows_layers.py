"""The Layers tab: the logit lens, attention and two models on one text (the page's own words; the renderers'
sentences are in their area's rows).

>>> from rsdemo.i18n import text
>>> text("tab.layers", lang="zh")
'逐层'
"""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["LAYER_ROWS"]

# fmt: off
LAYER_ROWS: tuple[tuple[str, str, str], ...] = (
    ("tab.layers", "Layers", "逐层"),
    ("ly.intro",
     "**Inside the layers.** What the model would predict after each layer (the logit lens), where each attention "
     "head looked, and how two models see the same text. Each view is one forward pass of the model's own numbers.",
     "**逐层看模型。** 模型在每一层之后会预测什么（logit lens），每个注意力头看向了哪里，以及两个模型如何看同一段文本。"
     "每个视图都是模型自身数值的一次前向计算。"),
    ("ly.prompt", "Prompt", "提示词"),
    ("ly.lens", "### Logit lens", "### Logit lens（逐层预测）"),
    ("ly.lens_go", "Run the logit lens", "运行 logit lens"),
    ("ly.colour", "Colour the cells by", "单元格颜色表示"),
    ("ly.colour_prob", "the top token's probability", "首选词元的概率"),
    ("ly.colour_rank", "the rank of the final choice", "最终选择的排名"),
    ("ly.probes", "Follow words through the layers (one per line)", "跟踪词语穿过各层（每行一个）"),
    ("ly.probes_info", "Their probability at every layer, after the position below", "它们在每一层的概率（在下面的位置之后）"),
    ("ly.cell_pos", "Cell: position", "单元格：位置"),
    ("ly.cell_pos_info", "Click a cell of the grid, or type its position (-1: the last token)",
     "点击网格中的单元格，或输入位置（-1：最后一个词元）"),
    ("ly.cell_layer", "Cell: row", "单元格：行"),
    ("ly.cell_layer_info", "0: the embeddings; -1: the last layer", "0：嵌入；-1：最后一层"),
    ("ly.cell_go", "Show the cell", "显示单元格"),
    ("ly.attention", "### Attention", "### 注意力"),
    ("ly.attn_go", "Show the attention", "显示注意力"),
    ("ly.layer", "Layer", "层"),
    ("ly.layer_info", "From 1", "从 1 开始"),
    ("ly.head", "Head", "注意力头"),
    ("ly.head_info", "-1: the mean of all heads; click a head in the overview to focus it",
     "-1：所有注意力头的平均；点击概览中的某个注意力头即可聚焦"),
    ("ly.attn_pos", "Token (position)", "词元（位置）"),
    ("ly.attn_pos_info", "Whose attention to list (-1: the last token)", "列出哪个词元的注意力（-1：最后一个词元）"),
    ("ly.diff", "### Two models on one text", "### 两个模型看同一段文本"),
    ("ly.diff_go", "Compare the two models", "比较两个模型"),
    ("ly.diff_text", "Text both models read", "两个模型读取的文本"),
    ("ly.model_a", "Model A", "模型 A"),
    ("ly.model_b", "Model B", "模型 B"),
    ("ly.engine_a", "Engine of A", "A 的推理引擎"),
    ("ly.engine_b", "Engine of B", "B 的推理引擎"),
    ("share.nothing_layers", "Nothing to export yet: run the logit lens or the attention view first.",
     "还没有可导出的内容：请先运行 logit lens 或注意力视图。"),
    ("ly.max_tokens", "The lens reads at most {n} tokens; attention at most {m}.",
     "logit lens 最多读取 {n} 个词元；注意力最多 {m} 个。"),
)
# fmt: on
