"""Pure: the shapes the public API returns (``/tokenize``, ``/compare``, ``/decode``, ``/generate``).

Typed dicts, so Gradio's "Use via API" page and ``/gradio_api/info`` name every field and its type instead of
"Any"; the UI layer builds them from the backend's results. The examples are the API's defaults: the page
shows them as the call to copy, and ``tests/test_api.py`` runs every snippet the page generates.

>>> sorted(TokenizeReply.__annotations__)
['ids', 'segments', 'stats', 'tokenizer', 'truncated']
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "CompareReply",
    "CompareRow",
    "DecodeReply",
    "ArenaReply",
    "BeamTreeReply",
    "EXAMPLE_TREE_PARAMS",
    "EXAMPLE_ARENA_METHODS",
    "EXAMPLE_IDS",
    "EXAMPLE_PARAMS",
    "EXAMPLE_PREFIX",
    "EXAMPLE_LANGUAGE_TOKENIZERS",
    "EXAMPLE_LENS_PROMPT",
    "EXAMPLE_STAGE_PARAMS",
    "NextTokenReply",
    "SurprisalReply",
    "EXAMPLE_TEXT",
    "EXAMPLE_TOKENIZERS",
    "ExplainReply",
    "MergeStepReply",
    "SegmentationReply",
    "VocabEntryReply",
    "VocabReply",
    "WordPieceStepReply",
    "GenerateReply",
    "GeneratedTokenReply",
    "BeamReply",
    "SegmentReply",
    "StatsReply",
    "TokenReply",
    "TokenizeReply",
    "LanguageCostReply",
    "LanguageCostRow",
    "AttentionReply",
    "LensCellReply",
    "LensProbeReply",
    "LensProbeResult",
    "LensReply",
    "LensTopReply",
]

EXAMPLE_TEXT = "Hello world! Tokenizers split text differently: unbelievable, 東京, 🙂."
EXAMPLE_TOKENIZERS = ("gpt2", "llama3")
EXAMPLE_IDS = "[15496, 995]"
EXAMPLE_TREE_PARAMS = {"num_beams": 4, "max_new_tokens": 16}  # the /beam_tree example
EXAMPLE_ARENA_METHODS = ("greedy", "top_p")  # the /arena example
EXAMPLE_PARAMS = {"max_new_tokens": 32}  # the /generate example: a short run
EXAMPLE_PREFIX = (504, 3575)  # the /branch example: the embedded model's "The capital" after the prompt
EXAMPLE_STAGE_PARAMS = {"top_p": 0.9, "temperature": 0.8}  # the /next_token example
EXAMPLE_LANGUAGE_TOKENIZERS = ("gpt2", "o200k_base")  # the /language_cost example
EXAMPLE_LENS_PROMPT = "The capital of France is"  # the /logit_lens, /lens_probe and /attention example


class StatsReply(TypedDict):
    """Counts over the whole text."""

    tokens: int
    chars: int
    bytes: int
    words: int
    chars_per_token: float
    bytes_per_token: float
    tokens_per_word: float
    vocab_size: int


class SegmentReply(TypedDict):
    """A run of text and the ids that cover it (several ids when tokens share a character)."""

    text: str
    ids: list[int]
    start: int
    kind: str  # token, special (inserted or [UNK]) or gap (text no token covers)


class TokenizeReply(TypedDict):
    """``/tokenize``: every id, the segments of the first tokens, stats over the whole text."""

    tokenizer: str
    ids: list[int]
    segments: list[SegmentReply]
    truncated: bool
    stats: StatsReply


class CompareRow(TypedDict):
    """One tokenizer of a comparison."""

    tokenizer: str
    stats: StatsReply
    differing: int | None  # segments on boundaries not every tokenizer has; None until done


class CompareReply(TypedDict):
    """``/compare``, streamed one tokenizer at a time; the last message has ``done`` true."""

    done: bool
    results: list[CompareRow]


class TokenReply(TypedDict):
    """A vocabulary entry."""

    id: int
    piece: str
    bytes: str | None  # hex, e.g. "77 6f 72 6c 64"; None for a special token without bytes
    special: bool


class DecodeReply(TypedDict):
    """``/decode``: the text the ids make, and each id's vocabulary entry."""

    text: str
    tokens: list[TokenReply]


class GeneratedTokenReply(TypedDict):
    """A generated token and how likely it was."""

    id: int
    text: str
    piece: str
    prob: float | None  # after the decoding filters (the raw probability where no filter applies)
    raw_prob: float | None  # under the model's own distribution


class BeamReply(TypedDict):
    """A returned beam (beam search methods)."""

    text: str
    score: float | None


class GenerateReply(TypedDict):
    """``/generate``, streamed: each message is the run so far; the last has ``done`` true."""

    model: str
    method: str
    seed: int | None
    done: bool
    text: str
    tokens: list[GeneratedTokenReply]
    beams: list[BeamReply]
    finish_reason: str
    logprob: float | None
    perplexity: float | None
    engine: str
    engine_reason: str
    notes: list[str]  # what the run should tell its reader (a fallback to transformers, a doubled BOS, ...)
    waiting: int | None
    preparing: str  # while the app's start-up warm-up gets the model ready: what it is doing; "" otherwise
    load_s: float | None
    ttft_s: float | None


class ScoredTokenReply(TypedDict):
    """A prompt token and its log-probability given what precedes it (None for the first)."""

    id: int
    text: str
    logprob: float | None


class SurprisingReply(TypedDict):
    """One of the most surprising prompt tokens."""

    position: int
    text: str
    logprob: float | None


class SurprisalReply(TypedDict):
    """``/surprisal``: the prompt scored token by token."""

    model: str
    prompt: str
    tokens: list[ScoredTokenReply]
    mean_logprob: float | None
    perplexity: float | None
    most_surprising: list[SurprisingReply]


class CandidateReply(TypedDict):
    """A candidate next token and its probability at one stage."""

    id: int
    text: str
    prob: float


class ProbeReply(TypedDict):
    """A probed token at one stage: its probability and rank (None: the stage removed it)."""

    typed: str
    id: int
    prob: float
    rank: int | None


class StageReply(TypedDict):
    """The distribution after one stage."""

    name: str
    survivors: int
    entropy_bits: float
    top: list[CandidateReply]
    probes: list[ProbeReply]
    note: str  # what a random or stateful stage did here (XTC's draw with the seed, Mirostat's bound), else ""


class NextTokenReply(TypedDict):
    """``/next_token``: the next-token distribution through each stage, raw first."""

    model: str
    method: str
    samples: bool
    stages: list[StageReply]


class ArenaOutputReply(TypedDict):
    """One method's output in the arena, with its figures."""

    method: str
    text: str
    engine: str
    tokens: list[int]
    length: int
    logprob: float | None
    perplexity: float | None
    distinct_1: float
    distinct_2: float
    distinct_3: float
    repeated_3: float
    diverges_at: int
    same_as: str | None
    start_of: str | None
    seconds: float


class ArenaReply(TypedDict):
    """``/arena``, streamed as each method finishes; the last message has ``done`` true."""

    done: bool
    scored_by: str
    outputs: list[ArenaOutputReply]


class TreeBeamReply(TypedDict):
    """A returned beam: its text, its score and its tokens."""

    text: str
    score: float
    tokens: list[int]


class TreeNodeReply(TypedDict):
    """A hypothesis in the tree: its generated tokens (path), the last token and its log-probability."""

    path: list[int]
    token: int
    text: str
    logprob: float | None
    cumulative: float
    status: str  # best, returned, finished or pruned


class BeamTreeReply(TypedDict):
    """``/beam_tree``: the returned beams (best first) and every node of the search tree."""

    model: str
    notes: list[str]
    beams: list[TreeBeamReply]
    nodes: list[TreeNodeReply]


class LanguageCostRow(TypedDict):
    """One tokenizer on one language's passage (``language`` "own": the caller's own text)."""

    tokenizer: str
    language: str
    name: str
    script: str
    chars: int
    bytes: int
    tokens: int
    relative_to_english: float | None  # None for the own text (not a translation)
    chars_per_token: float | None
    bytes_per_token: float | None
    byte_fallback: int  # tokens that are <0xNN> byte pieces
    unknown: int  # tokens that are the unknown token ([UNK], <unk>)
    byte_fallback_share: float
    unknown_share: float


class LanguageCostReply(TypedDict):
    """``/language_cost``: the same passage in many languages through each tokenizer."""

    source: str
    tokenizers: list[str]
    rows: list[LanguageCostRow]


class MergeStepReply(TypedDict):
    """One BPE merge inside the token: left + right became merged; parts is the token after it."""

    rank: int  # tiktoken: the merged token's rank; Hugging Face: the merge's line; SentencePiece: the piece's id
    left: str
    right: str
    merged: str
    parts: list[str]
    score: float | None  # SentencePiece: the merged piece's score (the highest merges first)


class SegmentationReply(TypedDict):
    """Unigram: one segmentation of the chunk and its log-probability; chosen is the tokenizer's own."""

    pieces: list[str]
    ids: list[int]
    log_prob: float
    chosen: bool


class WordPieceStepReply(TypedDict):
    """WordPiece: the longest vocabulary entry at position (chars into the word), after tried longer ones."""

    position: int
    piece: str
    token_id: int
    tried: int


class ExplainReply(TypedDict):
    """``/explain``: why token index of the text is what it is (the replay of its tokenizer's algorithm)."""

    tokenizer: str
    family: str
    kind: str  # bpe, sentencepiece-bpe, unigram, wordpiece, special or plain
    index: int
    token_id: int
    piece: str
    chunk: str
    chunk_start: int
    chunk_tokens: list[str]
    position: int
    start: list[str]
    steps: list[MergeStepReply]
    segmentations: list[SegmentationReply]
    wordpiece: list[WordPieceStepReply]
    byte_fallback: bool
    agrees: bool
    sentence: str
    work: int
    notes: list[str]


class VocabEntryReply(TypedDict):
    """One vocabulary entry: bytes as hex ("special" without bytes), text as the bytes spell it."""

    id: int
    piece: str
    bytes: str
    special: bool
    text: str


class VocabReply(TypedDict):
    """``/vocab``: the entries found (at most the limit), how many matched in all, and a note."""

    tokenizer: str
    mode: str
    query: str
    vocab_size: int
    entries: list[VocabEntryReply]
    total: int
    truncated: bool
    note: str


class LensCellReply(TypedDict):
    """One logit-lens cell: the top token there, its probability, and the final choice's rank and probability."""

    id: int
    text: str
    prob: float
    final_rank: int
    final_prob: float


class LensProbeReply(TypedDict):
    """A probed token's probability and rank at each lens row (``None``: outside a cell's kept top 10)."""

    text: str
    id: int
    piece: str
    position: int
    exact: bool
    probs: list[float | None]
    ranks: list[int | None]
    rises_at: int | None


class LensTopReply(TypedDict):
    """One of a cell's kept top 10."""

    id: int
    text: str
    prob: float


class LensReply(TypedDict):
    """``/logit_lens``: ``cells[position][row]``; rows are ``layers`` (``emb``, then each layer's output)."""

    model: str
    ids: list[int]
    tokens: list[str]
    layers: list[str]
    final: list[LensTopReply]  # the model's own next-token choice after each position
    cells: list[list[LensCellReply]]
    probes: list[LensProbeReply]


class LensProbeResult(TypedDict):
    """``/lens_probe``: the probes at a position, and one cell's top 10 (no new forward pass for a kept prompt)."""

    model: str
    position: int
    layer: str
    top: list[LensTopReply]
    probes: list[LensProbeReply]


class AttentionReply(TypedDict):
    """``/attention``: one layer's weights per query head (``weights[head][query][key]``), what one token attended
    to, and each query head's key/value head."""

    model: str
    ids: list[int]
    tokens: list[str]
    layer: int
    kv_head: list[int]
    weights: dict[str, list[list[float]]]
    position: int
    attended_to: list[float]
    head: int | None
    note: str
