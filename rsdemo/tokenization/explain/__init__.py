"""Why this split: a replay of how a tokenizer arrives at one token (pure functions over a loaded adapter).

bpe.py      the merge loop (heap + linked list) with a log of every merge
chunks.py   each library's pre-tokenisation, replayed (the only place that reads the libraries' own objects)
replay.py   one chunk through BPE (tiktoken, Hugging Face, SentencePiece), Unigram (n-best) or WordPiece
results.py  the frozen result types

>>> from rsdemo.loading import load_tokenizer
>>> why = explain_token(adapter=load_tokenizer(key="gpt2"), key="gpt2", family="byte-level BPE",
...                     text="Hello world", index=1)
>>> why.chunk, why.piece, why.steps[-1].parts
(' world', 'Ġworld', ('Ġworld',))
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from ...core.errors import EmptyInputError, InputError
from ..adapters import TokenizerAdapter
from .chunks import (
    Chunk,
    Library,
    hf_chunks,
    library_of,
    sentencepiece_chunks,
    sentencepiece_normalise,
    tiktoken_chunks,
)
from .replay import MAX_CHUNK_BYTES, NBEST, ChunkReplay, replay_chunk, token_steps
from .results import ExplainKind, Explanation, MergeStep, Segmentation, WordPieceStep

__all__ = [
    "MAX_CHUNK_BYTES",
    "NBEST",
    "ExplainKind",
    "Explanation",
    "MergeStep",
    "Segmentation",
    "WordPieceStep",
    "explain_token",
    "replay_ids",
]

_KINDS: dict[str, ExplainKind] = {
    "tiktoken": "bpe",
    "hf-bpe": "bpe",
    "sp-bpe": "sentencepiece-bpe",
    "sp-unigram": "unigram",
    "hf-wordpiece": "wordpiece",
}


def _prepared(text: str, library: Library) -> tuple[str, Iterator[Chunk]]:
    """The text as the model sees it (NFC for Qwen, ``▁`` for SentencePiece) and its chunks."""
    if library.nfc:
        text = unicodedata.normalize("NFC", text)
    if library.kind == "tiktoken":
        return text, tiktoken_chunks(text, library)
    if library.kind.startswith("sp-"):
        if not library.tables["identity"]:
            raise InputError("This SentencePiece model normalises its text; there is no replay for it.")
        return text, sentencepiece_chunks(sentencepiece_normalise(text, library))
    return text, hf_chunks(text, library)


def replay_ids(*, adapter: TokenizerAdapter, text: str) -> list[int]:
    """Every id of ``text`` (no special tokens added), from the replay alone: chunk by chunk, merge by merge.

    >>> from rsdemo.loading import load_tokenizer
    >>> replay_ids(adapter=load_tokenizer(key="gpt2"), text="Hello world")
    [15496, 995]
    """
    library = library_of(adapter)
    if library.kind not in _KINDS:
        raise InputError("This tokenizer's algorithm has no step-by-step replay here.", field="tokenizer")
    _, chunks = _prepared(text, library)
    out: list[int] = []
    for _, _, chunk, special in chunks:
        out.extend(replay_chunk(chunk, library, special=special).ids)
    return out


def _plain_index(adapter: TokenizerAdapter, text: str, index: int, add_special_tokens: bool) -> tuple[list[int], int]:
    """The ids without added special tokens, and ``index`` among them (-1: a token the tokenizer added)."""
    plain = adapter.encode(text, add_special_tokens=False)
    full = adapter.encode(text, add_special_tokens=True) if add_special_tokens else plain
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(full):
        last = f"0 to {len(full) - 1:,}" if full else "none"
        raise InputError(f"Token index {index!r} is out of range: the text has {len(full):,} tokens ({last}).",
                         field="index")  # fmt: skip
    lead = next((k for k in range(len(full) - len(plain) + 1) if full[k : k + len(plain)] == plain), 0)
    inside = lead <= index < lead + len(plain)
    return plain, index - lead if inside else -1


def explain_token(
    *,
    adapter: TokenizerAdapter,
    key: str,
    family: str,
    text: str,
    index: int,
    add_special_tokens: bool = False,
) -> Explanation:
    """Why token ``index`` of ``text`` is what it is (``index`` counts the added special tokens when
    ``add_special_tokens``, as the token view does).

    Raises:
        EmptyInputError: empty text.
        InputError: ``index`` out of range, or a chunk over ``MAX_CHUNK_BYTES``.
    """
    if not text:
        raise EmptyInputError("Type some text to explain.", field="text")
    plain, at = _plain_index(adapter, text, index, add_special_tokens)
    library = library_of(adapter)
    full_id = adapter.encode(text, add_special_tokens=add_special_tokens)[index] if at < 0 else plain[at]
    base = dict(tokenizer=key, family=family, index=index, token_id=full_id, piece=adapter.piece(full_id))
    if at < 0:
        return Explanation(**base, kind="special", chunk="", chunk_start=-1, chunk_tokens=(base["piece"],),
                           position=0, sentence="The tokenizer adds this special token around the sequence; "
                           "it stands for no text.")  # fmt: skip
    if library.kind not in _KINDS:
        return _plain(library.kind, base, text)
    prepared, chunks = _prepared(text, library)
    if library.kind == "hf-wordpiece":
        return _by_count(base, library, chunks, plain, at)
    return _by_offsets(base, library, adapter, prepared, chunks, plain, at)


def _plain(kind: str, base: dict, text: str) -> Explanation:
    piece = base["piece"]
    sentence = {
        "char": f"One token per Unicode code point: this is U+{base['token_id']:04X}, and its id is the code point.",
        "byte": f"One token per UTF-8 byte: this is byte 0x{base['token_id']:02X}, and its id is the byte's value.",
        "hf-wordlevel": "The text is cut at spaces and punctuation, and each word is looked up whole: a word the "
        "vocabulary lacks becomes [UNK].",
    }.get(kind, "This tokenizer's algorithm has no step-by-step replay here; the token is shown as it is.")
    return Explanation(**base, kind="plain", chunk=piece, chunk_start=-1, chunk_tokens=(piece,), position=0,
                       sentence=sentence)  # fmt: skip


def _by_count(base: dict, library: Library, chunks: Iterator[Chunk], plain: list[int], at: int) -> Explanation:
    """WordPiece: words replayed from the start, counted until the one holding token ``at``."""
    count = 0
    for start, _, chunk, special in chunks:
        replay = replay_chunk(chunk, library, special=special)
        if count + len(replay.ids) > at:
            agrees = plain[count : count + len(replay.ids)] == replay.ids
            return _result(base, "special" if special else "wordpiece", chunk, start, replay, at - count, agrees)
        count += len(replay.ids)
    raise InputError("The replay found fewer tokens than the tokenizer did.", field="index")


def _by_offsets(
    base: dict, library: Library, adapter: TokenizerAdapter, text: str, chunks: Iterator[Chunk], plain: list[int],
    at: int,
) -> Explanation:  # fmt: skip
    """BPE and Unigram: the chunk that holds the token's first character, found from the tokenizer's offsets."""
    inner = getattr(adapter, "inner", adapter)
    _, offsets = inner.encode_with_offsets(text, add_special_tokens=False, limit=at + 1)
    char = int(offsets[at][0]) + (1 if library.kind.startswith("sp-") and library.tables["dummy_prefix"] else 0)
    found = next((c for c in chunks if c[0] <= char < c[1] or (c[3] and c[0] == char)), None)
    if found is None:
        raise InputError("No chunk of the text holds this token.", field="index")
    start, _, chunk, special = found
    replay = replay_chunk(chunk, library, special=special)
    n = len(replay.ids)
    first = next((f for f in range(max(0, at - n + 1), at + 1) if plain[f : f + n] == replay.ids), None)
    if first is None:
        position = sum(1 for j in range(at + 1) if int(offsets[j][0]) >= start) - 1
        return _result(base, _KINDS[library.kind], chunk, start, replay, max(0, min(position, n - 1)), False)
    return _result(base, "special" if special else _KINDS[library.kind], chunk, start, replay, at - first, True)


def _result(
    base: dict, kind: ExplainKind, chunk: str, start: int, replay: ChunkReplay, position: int, agrees: bool
) -> Explanation:
    first, steps = token_steps(replay, position)
    notes = []
    if replay.shortcut:
        notes.append("The whole chunk is a vocabulary entry, so tiktoken takes it at once; the merges are BPE's.")
    if not agrees:
        notes.append("The replay's pieces here differ from the tokenizer's own: the replay is shown as it ran.")
    work = len(replay.run.log) if replay.run is not None else sum(s.tried + 1 for s in replay.wordpiece)
    return Explanation(
        **base,
        kind=kind,
        chunk=chunk,
        chunk_start=start,
        chunk_tokens=tuple(replay.pieces),
        position=position,
        start=first,
        steps=steps,
        segmentations=tuple(replay.segmentations),
        wordpiece=tuple(replay.wordpiece),
        byte_fallback=replay.byte_fallback,
        agrees=agrees,
        sentence=_sentence(kind, base["piece"], len(steps), len(replay.pieces), replay.byte_fallback),
        work=work,
        notes=tuple(notes),
    )


def _sentence(kind: ExplainKind, piece: str, steps: int, pieces: int, fallback: bool) -> str:
    if kind == "special":
        return f"{piece} is a special token: it is matched whole in the text, before any other splitting."
    if kind == "bpe":
        return (f"The pre-tokenizer cut this chunk; BPE then merged its bytes, the lowest-ranked pair first, "
                f"{steps} merge(s) making this token, {pieces} token(s) in the chunk.")  # fmt: skip
    if kind == "sentencepiece-bpe":
        fall = " Characters the vocabulary lacks fall back to their UTF-8 bytes (<0xNN>)." if fallback else ""
        return f"SentencePiece BPE merged the chunk's characters, the best-scoring pair first: {steps} merge(s).{fall}"
    if kind == "unigram":
        return ("Unigram keeps the segmentation with the highest total log-probability (Viterbi); "
                "the next best ones are shown against it.")  # fmt: skip
    return ("WordPiece takes the longest vocabulary entry from the start of the word, then again from where it "
            "ended (## marks a continuation); a word it cannot cover becomes [UNK].")  # fmt: skip
