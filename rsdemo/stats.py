"""Pure: counts for a tokenised text.

Words are whitespace-separated runs (``str.split()``), the cheapest honest count for 1 MB inputs.

>>> s = text_stats(text="Hello world, 你好", n_tokens=8, vocab_size=50257)
>>> (s.chars, s.bytes, s.words, s.chars_per_token, s.bytes_per_token, s.tokens_per_word)
(15, 19, 3, 1.88, 2.38, 2.67)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Stats", "text_stats"]


@dataclass(frozen=True, slots=True)
class Stats:
    tokens: int
    chars: int
    bytes: int
    words: int
    chars_per_token: float
    bytes_per_token: float
    tokens_per_word: float
    vocab_size: int

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 2) if b else 0.0


def text_stats(*, text: str, n_tokens: int, vocab_size: int, n_bytes: int | None = None) -> Stats:
    """Counts for ``text`` split into ``n_tokens`` tokens (``n_bytes`` if already known)."""
    n_bytes = len(text.encode("utf-8")) if n_bytes is None else n_bytes
    words = len(text.split())
    return Stats(
        tokens=n_tokens,
        chars=len(text),
        bytes=n_bytes,
        words=words,
        chars_per_token=_ratio(len(text), n_tokens),
        bytes_per_token=_ratio(n_bytes, n_tokens),
        tokens_per_word=_ratio(n_tokens, words),
        vocab_size=vocab_size,
    )
