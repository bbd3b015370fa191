"""What a replay returns: frozen dataclasses, each with ``as_dict()`` (the API's and the CLI's JSON).

>>> step = MergeStep(rank=72, left="Ġ", right="w", merged="Ġw", parts=("Ġw", "o"))
>>> step.as_dict()["merged"]
'Ġw'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Explanation", "ExplainKind", "MergeStep", "Segmentation", "WordPieceStep"]

ExplainKind = Literal["bpe", "sentencepiece-bpe", "unigram", "wordpiece", "special", "plain"]


@dataclass(frozen=True, slots=True)
class MergeStep:
    """One BPE merge inside the token: ``left`` + ``right`` became ``merged``; ``parts`` is the token after it.

    ``rank``: the merge's priority (tiktoken: the merged token's rank; Hugging Face: the merge's line in the merges
    list; SentencePiece: the merged piece's id, its score being ``score``). Lower ranks merge first; SentencePiece
    merges the highest score first.
    """

    rank: int
    left: str
    right: str
    merged: str
    parts: tuple[str, ...]
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Segmentation:
    """One way to cut a word into pieces (Unigram), with its log-probability; ``chosen``: the tokenizer's own."""

    pieces: tuple[str, ...]
    ids: tuple[int, ...]
    log_prob: float
    chosen: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class WordPieceStep:
    """Greedy longest-match-first at ``position`` (chars into the word): ``tried`` longer candidates were not in
    the vocabulary before ``piece`` (``##`` marks a continuation) matched; ``[UNK]`` when nothing did."""

    position: int
    piece: str
    token_id: int
    tried: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why token ``index`` of ``text`` is what it is.

    Attributes:
        tokenizer: the key; family: its algorithm family; kind: which replay ran.
        index: the token's position in the ids (special tokens not added); token_id, piece: the token.
        chunk: the pre-tokenizer's chunk (or word) holding the token, as its display pieces join it.
        chunk_start: char offset of the chunk in the (normalised) text, -1 when not known.
        chunk_tokens: the pieces the whole chunk became; position: the token's place among them.
        start: the token's starting pieces (its bytes, or its characters) before any merge.
        steps: the merges that built the token, in the order they ran; the last ``parts`` is the token.
        segmentations: Unigram: the chosen segmentation of the chunk and the next best ones.
        wordpiece: WordPiece: the greedy steps over the word.
        byte_fallback: a piece of the chunk is a ``<0xNN>`` byte.
        agrees: the replay's pieces for the chunk equal the tokenizer's own ids there.
        sentence: one plain sentence saying what happened.
        work: merges (or candidates) the replay went through: the bound is ``MAX_CHUNK_BYTES`` of chunk.
    """

    tokenizer: str
    family: str
    kind: ExplainKind
    index: int
    token_id: int
    piece: str
    chunk: str
    chunk_start: int
    chunk_tokens: tuple[str, ...]
    position: int
    start: tuple[str, ...] = ()
    steps: tuple[MergeStep, ...] = ()
    segmentations: tuple[Segmentation, ...] = ()
    wordpiece: tuple[WordPieceStep, ...] = ()
    byte_fallback: bool = False
    agrees: bool = True
    sentence: str = ""
    work: int = 0
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists, not tuples).

        >>> Explanation("char", "character", "plain", 0, 104, "h", "h", 0, ("h",), 0).as_dict()["chunk_tokens"]
        ['h']
        """
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data
