"""One chunk through each model, replayed in Python: the ids it becomes and the steps that made them.

Bounded work: a chunk of at most ``MAX_CHUNK_BYTES`` UTF-8 bytes is replayed (a heap merge, O(n log n)); a longer
one is refused with a clear message. Unigram asks SentencePiece for its ``NBEST`` best segmentations of the chunk.

>>> from rsdemo.loading import load_tokenizer
>>> from .chunks import library_of
>>> replay = replay_chunk("Hello", library_of(load_tokenizer(key="gpt2")), special=False)
>>> replay.ids, replay.pieces
([15496], ['Hello'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...core.errors import InputError
from ..adapters import byte_to_unicode
from .bpe import MergeRun, merge, steps_within
from .chunks import Library
from .results import MergeStep, Segmentation, WordPieceStep

__all__ = ["MAX_CHUNK_BYTES", "NBEST", "ChunkReplay", "replay_chunk", "token_steps"]

MAX_CHUNK_BYTES = 32_768
NBEST = 5


@dataclass
class ChunkReplay:
    """A chunk's replay: its ids and display pieces, and what the steps of one of its tokens are read from."""

    ids: list[int]
    pieces: list[str]
    symbols: list[Any] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # each final part's symbols (BPE)
    run: MergeRun | None = None
    segmentations: list[Segmentation] = field(default_factory=list)
    wordpiece: list[WordPieceStep] = field(default_factory=list)
    byte_fallback: bool = False
    shortcut: bool = False  # tiktoken took the whole chunk at once (it is a vocabulary entry)
    piece_ids: dict[str, int] | None = None  # SentencePiece: a merge's rank is its piece's id


def _shown(part: Any) -> str:
    """A part as the vocabulary writes it: bytes as GPT-2's printable characters, str as is."""
    if isinstance(part, bytes):
        table = byte_to_unicode()
        return "".join(table[b] for b in part)
    return str(part)


def _check_size(chunk: str) -> None:
    size = len(chunk.encode("utf-8", errors="surrogatepass"))
    if size > MAX_CHUNK_BYTES:
        raise InputError(
            f"This token's chunk (the stretch the pre-tokenizer cut) is {size:,} bytes long; the replay covers "
            f"chunks of up to {MAX_CHUNK_BYTES:,} bytes.",
            field="index",
        )


def replay_chunk(chunk: str, library: Library, *, special: bool) -> ChunkReplay:
    """Replay one chunk through the library's model (``special``: a special token matched whole)."""
    kind = library.kind
    if special:
        table = library.tables.get("specials") or {}
        token_id = table[chunk] if chunk in table else library.engine.token_to_id(chunk)
        return ChunkReplay([token_id], [chunk])
    _check_size(chunk)
    if kind == "tiktoken":
        return _tiktoken(chunk, library.tables["ranks"])
    if kind == "hf-bpe":
        return _hf_bpe(chunk, library.tables)
    if kind == "sp-bpe":
        return _sp_bpe(chunk, library.tables)
    if kind == "sp-unigram":
        return _unigram(chunk, library)
    if kind == "hf-wordpiece":
        return _wordpiece(chunk, library.tables)
    raise InputError("This tokenizer's algorithm has no step-by-step replay here.", field="tokenizer")


def _from_run(run: MergeRun, symbols: Sequence[Any], ids: list[int], pieces: list[str]) -> ChunkReplay:
    ends = run.starts[1:] + [len(symbols)]
    return ChunkReplay(ids, pieces, list(symbols), list(zip(run.starts, ends)), run)


def _tiktoken(chunk: str, ranks: dict[bytes, int]) -> ChunkReplay:
    data = chunk.encode("utf-8")
    symbols = [data[i : i + 1] for i in range(len(data))]
    run = merge(symbols=symbols, priority=lambda left, right: ranks.get(left + right))
    if data in ranks and len(run.parts) != 1:  # tiktoken takes a whole-chunk vocabulary entry at once
        replay = ChunkReplay([ranks[data]], [_shown(data)], symbols, [(0, len(symbols))], run, shortcut=True)
        return replay
    return _from_run(run, symbols, [ranks[p] for p in run.parts], [_shown(p) for p in run.parts])


def _hf_bpe(chunk: str, tables: dict[str, Any]) -> ChunkReplay:
    """Hugging Face BPE: pairs merge by their rank in the merges list; a part outside the vocabulary is dropped,
    or with ``byte_fallback`` (Gemma 3) becomes its UTF-8 bytes as ``<0xNN>`` pieces (of the text as normalised)."""
    merges, vocab = tables["merges"], tables["vocab"]
    symbols = list(chunk)
    run = merge(symbols=symbols, priority=lambda left, right: merges.get((left, right)))
    ends = run.starts[1:] + [len(symbols)]
    replay = ChunkReplay([], [], symbols, [], run)
    for part, start, end in zip(run.parts, run.starts, ends):
        if part in vocab:
            pieces = [part]
        elif tables.get("byte_fallback"):
            pieces = [f"<0x{b:02X}>" for b in part.encode("utf-8", errors="surrogatepass")]
            replay.byte_fallback = True
        else:
            continue  # dropped (SmolLM2's vocabulary lacks a few bytes)
        for piece in pieces:
            replay.ids.append(vocab[piece])
            replay.pieces.append(piece)
            replay.spans.append((start, end))
    return replay


def _sp_bpe(chunk: str, tables: dict[str, Any]) -> ChunkReplay:
    ids, scores, byte_ids = tables["ids"], tables["scores"], tables["bytes"]

    def priority(left: str, right: str) -> float | None:
        pid = ids.get(left + right)
        return None if pid is None else -scores[pid]

    symbols = list(chunk)
    run = merge(symbols=symbols, priority=priority)
    out_ids: list[int] = []
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    fallback = False
    ends = run.starts[1:] + [len(symbols)]
    for part, s, e in zip(run.parts, run.starts, ends):
        if part in ids:
            out_ids.append(ids[part])
            pieces.append(part)
            spans.append((s, e))
            continue
        fallback = True
        for b in part.replace("\u2581", " ").encode("utf-8"):
            out_ids.append(byte_ids[b])
            pieces.append(f"<0x{b:02X}>")
            spans.append((s, e))
    return ChunkReplay(out_ids, pieces, symbols, spans, run, byte_fallback=fallback, piece_ids=ids)


def _unigram(chunk: str, library: Library) -> ChunkReplay:
    sp = library.engine
    text = chunk.replace("\u2581", " ")
    if library.tables["dummy_prefix"] and text.startswith(" "):
        text = text[1:]  # SentencePiece puts the ▁ back in front
    if not text:  # a lone trailing ▁: nothing left to encode, SentencePiece's piece for it is the answer
        return _lone_space(sp)
    best = sp.nbest_encode(text, nbest_size=NBEST, return_type="proto").nbests
    options = [
        Segmentation(tuple(p.piece for p in n.pieces), tuple(p.id for p in n.pieces), float(n.score), k == 0)
        for k, n in enumerate(best)
    ]
    chosen = options[0] if options else Segmentation((), (), 0.0, True)
    fallback = any(sp.is_byte(i) for i in chosen.ids)
    return ChunkReplay(list(chosen.ids), list(chosen.pieces), segmentations=options, byte_fallback=fallback)


def _lone_space(sp: Any) -> ChunkReplay:
    """The chunk ``▁`` alone (a text's trailing space): its own piece, or its bytes where the vocabulary lacks it."""
    piece_id = sp.piece_to_id("\u2581")
    if piece_id != sp.unk_id() or sp.id_to_piece(piece_id) == "\u2581":
        ids = [piece_id]
    else:
        ids = [sp.piece_to_id(f"<0x{b:02X}>") for b in "\u2581".encode()]
    pieces = tuple(sp.id_to_piece(i) for i in ids)
    option = Segmentation(pieces, tuple(ids), float(sum(sp.get_score(i) for i in ids)), True)
    fallback = any(sp.is_byte(i) for i in ids)
    return ChunkReplay(list(ids), list(pieces), segmentations=[option], byte_fallback=fallback)


def _wordpiece(word: str, tables: dict[str, Any]) -> ChunkReplay:
    """Greedy longest-match-first, as ``tokenizers``' WordPiece: a word it cannot cover is one ``[UNK]``."""
    model, vocab = tables["model"], tables["vocab"]
    prefix, unk = model.get("continuing_subword_prefix", "##"), model.get("unk_token", "[UNK]")
    limit = int(model.get("max_input_chars_per_word", 100))
    steps: list[WordPieceStep] = []
    if len(word) > limit:
        steps.append(WordPieceStep(0, unk, vocab[unk], 0))
        return ChunkReplay([vocab[unk]], [unk], wordpiece=steps)
    start = 0
    while start < len(word):
        end, tried, found = len(word), 0, None
        while end > start:
            piece = (prefix if start else "") + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
            tried += 1
        if found is None:
            steps.append(WordPieceStep(start, unk, vocab[unk], tried))
            return ChunkReplay([vocab[unk]], [unk], wordpiece=steps)
        steps.append(WordPieceStep(start, found, vocab[found], tried))
        start = end
    return ChunkReplay([s.token_id for s in steps], [s.piece for s in steps], wordpiece=steps)


def token_steps(replay: ChunkReplay, position: int) -> tuple[tuple[str, ...], tuple[MergeStep, ...]]:
    """A BPE token's starting pieces and the merges that built it (in the order they ran)."""
    if replay.run is None or position >= len(replay.spans):
        return (), ()
    start, end = replay.spans[position]
    first = tuple(_shown(s) for s in replay.symbols[start:end])
    steps = []
    for m, parts, left, right in steps_within(replay.run, replay.symbols, start=start, end=end):
        merged = left + right
        if replay.piece_ids is not None:  # SentencePiece: the highest score merges first
            rank, score = replay.piece_ids[merged], -float(m.priority)
        else:
            rank, score = int(m.priority), None
        steps.append(MergeStep(rank, _shown(left), _shown(right), _shown(merged), tuple(map(_shown, parts)), score))
    return first, tuple(steps)
