"""The backend's messages (matched by pattern in the page; the API and the CLI keep them in English)."""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["ERROR_ROWS"]

# fmt: off
ERROR_ROWS: tuple[tuple[str, str, str], ...] = (
    # errors (the backend's messages, matched by pattern in the page; the API keeps them in English)
    ("err.internal",
     "Something went wrong on the server (reference {ref}); the details are in its log. Try again, or try other "
     "input.",
     "服务器出错了（编号 {ref}）；详情见服务器日志。请重试，或换一个输入。"),
    ("err.empty_text", "The text is empty: type or paste some text to tokenize (whitespace counts).",
     "文本为空：请输入或粘贴要分词的文本（空白也算）。"),
    ("err.too_large", "The text has {n} characters; the limit is {limit}. Paste a shorter text.",
     "文本有 {n} 个字符；上限是 {limit} 个。请粘贴更短的文本。"),
    ("err.blank", "{name} is empty or only whitespace: {blank}.", "{name} 为空或只有空白：{blank}。"),
    ("err.unknown", "Unknown {kind} '{key}'. Known: {known}.", "未知的{kind} '{key}'。已知的有：{known}。"),
    ("err.ids_list", "Expected a list of token ids such as [15496, 995].", "需要一个词元 ID 列表，例如 [15496, 995]。"),
    ("err.ids_type", "Type some token ids to decode, for example [15496, 995].",
     "请输入要解码的词元 ID，例如 [15496, 995]。"),
    ("err.ids_many", "{n} ids is too many to decode at once; the limit is {limit}.",
     "{n} 个 ID 太多，无法一次解码；上限是 {limit} 个。"),
    ("err.ids_whole", "Ids must be whole numbers, as a list or as text such as [15496, 995].",
     "ID 必须是整数，可以是列表，也可以是 [15496, 995] 这样的文本。"),
    ("err.ids_negative", "Ids are never negative.", "ID 不能是负数。"),
    ("err.not_id",
     "{shown} is not a token id: ids are whole numbers such as 15496, separated by commas or spaces.",
     "{shown} 不是词元 ID：ID 是 15496 这样的整数，用逗号或空格分隔。"),
    ("err.negative_id", "{value} is not a token id: ids are never negative.", "{value} 不是词元 ID：ID 不能是负数。"),
    ("err.not_in_vocab", "{token_id} is not an id of the {tokenizer} vocabulary (ids run from 0 to {top}).",
     "{token_id} 不是 {tokenizer} 词表中的 ID（ID 范围为 0 到 {top}）。"),
    ("kind.tokenizer", "tokenizer", "分词器"),
    ("kind.model", "model", "模型"),
    ("kind.method", "method", "解码方法"),
    ("kind.engine", "engine", "推理引擎"),
    ("err.title", "Error", "错误"),
)
# fmt: on
