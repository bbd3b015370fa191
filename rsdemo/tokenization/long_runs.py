"""tiktoken on texts with very long whitespace runs, with the ids tiktoken itself gives where it works.

tiktoken splits text with a backtracking regex (fancy-regex) whose stack runs out on a whitespace run of a
few hundred thousand characters: ``encode("a" + " " * 1_000_000 + "b")`` raises "Max stack size exceeded
for backtracking". Its byte-pair merge is fine at that size; only the split fails.

So the text is cut into parts at *safe cuts* and only the parts around long runs are split by Python's
``regex`` module (the engine tiktoken's own educational implementation uses, same pattern, no stack limit);
each of their pieces goes through tiktoken's own merge (``_encode_single_piece``); every other part goes to
tiktoken unchanged. A safe cut is a position ``p`` where ``text[p - 1]`` is an ASCII letter and ``text[p]``
an ASCII space, tab or newline. Every pattern rsdemo uses (GPT-2, cl100k, o200k, Llama 3, Qwen) ends a piece
there — no alternative matches a letter followed by whitespace — and no alternative looks further ahead
than the character after a letter run, so ``encode(text) == encode(text[:p]) + encode(text[p:])``.
Special tokens are found first, as tiktoken does (they hold no whitespace, so no special token spans a cut).
``tests/test_long_runs.py`` checks the result id for id against tiktoken on runs of every whitespace kind
up to the lengths tiktoken still handles.

>>> import tiktoken
>>> ranks = {bytes([b]): b for b in range(256)}
>>> enc = tiktoken.Encoding("demo", pat_str=r"\\s+(?!\\S)|\\s|\\S+", mergeable_ranks=ranks, special_tokens={})
>>> ids = encode_long_runs(enc, "a" + " " * 10 + "b", long_run=4)
>>> ids.tolist() == enc.encode("a" + " " * 10 + "b")
True
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tiktoken

__all__ = ["LONG_RUN", "encode_long_runs", "has_long_run"]

# tiktoken handles runs of 300,000 spaces and fails at 1,000,000; runs from this length on take the safe path.
LONG_RUN = 50_000
_SAFE_CUT = re.compile(r"[A-Za-z](?=[ \t\n\r])")
_WINDOW = 4096


@lru_cache(maxsize=8)
def _run_finder(long_run: int) -> re.Pattern[str]:
    # (?<!\s) lets only the first character of a run start a match, so the search stays linear
    return re.compile(r"(?<!\s)\s{" + str(long_run) + ",}")


def has_long_run(text: str, *, long_run: int = LONG_RUN) -> bool:
    """Whether ``text`` holds a whitespace run of at least ``long_run`` characters.

    >>> has_long_run("a" + " " * 5 + "b", long_run=5), has_long_run("a    b", long_run=5)
    (True, False)
    """
    return len(text) >= long_run and _run_finder(long_run).search(text) is not None


def _cut_before(text: str, pos: int, floor: int) -> int:
    """The last safe cut at or before ``pos`` and not before ``floor`` (``floor`` if there is none)."""
    window = _WINDOW
    while True:
        start = max(floor, pos - window)
        cuts = [m.end() for m in _SAFE_CUT.finditer(text, start, pos)]
        if cuts:
            return cuts[-1]
        if start == floor:
            return floor
        window *= 4


def _cut_after(text: str, pos: int) -> int:
    """The first safe cut at or after ``pos`` (the end of the text if there is none)."""
    match = _SAFE_CUT.search(text, pos)
    return match.end() if match is not None else len(text)


def _regions(text: str, long_run: int) -> list[tuple[int, int]]:
    """Spans around the long runs, from a safe cut to a safe cut, merged where they meet."""
    regions: list[tuple[int, int]] = []
    for run in _run_finder(long_run).finditer(text):
        if regions and run.start() < regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], _cut_after(text, run.end())))
            continue
        floor = regions[-1][1] if regions else 0
        regions.append((_cut_before(text, run.start(), floor), _cut_after(text, run.end())))
    return regions


@lru_cache(maxsize=16)
def _patterns(pat_str: str, specials: tuple[str, ...]) -> tuple[object, object | None]:
    import regex

    pieces = regex.compile(pat_str)
    longest_first = sorted(specials, key=len, reverse=True)
    special = regex.compile("|".join(regex.escape(s) for s in longest_first)) if specials else None
    return pieces, special


def _encode_region(enc: tiktoken.Encoding, text: str) -> list[int]:
    """Split ``text`` with Python's ``regex`` (special tokens first) and merge each piece with tiktoken."""
    pieces, special = _patterns(enc._pat_str, tuple(enc._special_tokens))
    ids: list[int] = []

    def ordinary(part: str) -> None:
        for match in pieces.finditer(part):  # type: ignore[attr-defined]
            ids.extend(enc._encode_single_piece(match.group().encode("utf-8")))

    pos = 0
    if special is not None:
        for match in special.finditer(text):  # type: ignore[attr-defined]
            ordinary(text[pos : match.start()])
            ids.append(enc._special_tokens[match.group()])
            pos = match.end()
    ordinary(text[pos:])
    return ids


def encode_long_runs(enc: tiktoken.Encoding, text: str, *, long_run: int = LONG_RUN) -> np.ndarray:
    """tiktoken's ids for ``text`` (special-token strings read as special tokens), long whitespace runs included.

    Args:
        enc: the tiktoken encoding.
        text: valid Unicode (lone surrogates are replaced first, as tiktoken does).
        long_run: runs from this length on are split by Python's ``regex`` (tests pass small values).

    Returns:
        The ids as a ``uint32`` array, equal to ``enc.encode_to_numpy(text, allowed_special="all")``.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # what tiktoken's encode does with lone surrogates
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if any(c.isspace() for s in enc._special_tokens for c in s):  # no safe cuts: one region for all
        regions = [(0, len(text))] if has_long_run(text, long_run=long_run) else []
    else:
        regions = _regions(text, long_run)
    parts: list[np.ndarray] = []
    pos = 0
    for start, end in regions:
        if start > pos:
            parts.append(enc.encode_to_numpy(text[pos:start], allowed_special="all"))
        parts.append(np.asarray(_encode_region(enc, text[start:end]), dtype=np.uint32))
        pos = end
    if pos < len(text) or not parts:
        parts.append(enc.encode_to_numpy(text[pos:], allowed_special="all"))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
