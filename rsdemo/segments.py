"""Pure view-model: tokens with char offsets -> display segments that tile the input text.

A segment is the smallest run of text whose tokens do not share characters with any other run.
Under byte-level BPE several tokens can share one character (an emoji split into three tokens),
so one segment may carry several ids; it is never shown as U+FFFD or as duplicated text.
Text that no token covers (the spaces BERT drops) becomes a ``gap`` segment without ids, and a
special token the tokenizer inserted (``[CLS]``, ``<s>``) becomes a ``special`` segment without text.

Three invariants hold for every input (tests/test_segments.py checks them with Hypothesis):
``"".join(s.text for s in segs) == text``, the ids in order equal the encoded ids, and the
token indices in order equal ``range(len(ids))``.

>>> segs = build_segments("a🙂", ids=[64, 9468, 247, 224], offsets=[(0, 1), (1, 2), (1, 2), (1, 2)])
>>> [(s.text, s.ids) for s in segs]
[('a', (64,)), ('🙂', (9468, 247, 224))]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Segment", "SegmentKind", "build_segments"]

SegmentKind = Literal["token", "special", "gap"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the token view.

    Attributes:
        text: the exact slice of the input this segment covers ('' for an inserted special token).
        ids: the token ids in this segment, in order (empty for a gap).
        start: char offset of ``text`` in the input.
        first: index of the segment's first token in the full id list (-1 for a gap).
        kind: ``token``, ``special`` (a special token) or ``gap`` (text no token covers).
    """

    text: str
    ids: tuple[int, ...]
    start: int
    first: int
    kind: SegmentKind

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def build_segments(
    text: str,
    *,
    ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    special_ids: Collection[int] = (),
    limit: int | None = None,
    tail_gap: bool = True,
) -> list[Segment]:
    """Group tokens into segments that tile ``text``.

    Args:
        text: the input text.
        ids: the token ids, in order.
        offsets: one ``(start, end)`` char span per id; zero-width for tokens that cover no text.
        special_ids: ids shown as special tokens.
        limit: stop after this many tokens (the display window); None for all.
        tail_gap: add the uncovered text after the last token as a gap (off when ``limit`` cut the tokens).

    Returns:
        The segments in text order.

    >>> [(s.text, s.kind) for s in build_segments("a b", ids=[1, 7, 2], offsets=[(0, 0), (0, 1), (2, 3)],
    ...                                          special_ids={1})]
    [('', 'special'), ('a', 'token'), (' ', 'gap'), ('b', 'token')]
    """
    n = len(ids) if limit is None else min(limit, len(ids))
    out: list[Segment] = []
    cursor = 0  # text before this char is covered by emitted segments
    group_ids: list[int] = []
    group_first = -1
    group_start = 0
    group_end = 0
    pending: list[int] = []  # zero-width non-special tokens waiting for the next token (byte-fallback lead bytes)
    pending_first = -1
    trailing_specials = 0  # inserted specials after the last text segment ([SEP]): they go after the tail gap
    seen_text = False

    def flush() -> None:
        nonlocal group_ids, cursor, trailing_specials, seen_text
        if group_ids:
            trailing_specials = 0
            seen_text = True
            kind: SegmentKind = "special" if all(i in special_ids for i in group_ids) else "token"
            out.append(Segment(text[group_start:group_end], tuple(group_ids), group_start, group_first, kind))
            cursor = group_end
            group_ids = []

    for index in range(n):
        token_id = ids[index]
        start, end = offsets[index]
        if start == end:
            if token_id in special_ids and not pending:
                flush()
                out.append(Segment("", (token_id,), cursor, index, "special"))
                if seen_text:
                    trailing_specials += 1
            else:
                if not pending:
                    pending_first = index
                pending.append(token_id)
            continue
        start = max(start, cursor)
        if group_ids and start < group_end:  # shares characters with the open group: join it
            group_ids.extend(pending)
            group_ids.append(token_id)
            group_end = max(group_end, end)
        else:
            flush()
            if start > cursor:
                out.append(Segment(text[cursor:start], (), cursor, -1, "gap"))
                trailing_specials = 0
                seen_text = True
            group_ids = [*pending, token_id]
            group_first = pending_first if pending else index
            group_start, group_end = start, max(end, start)
        pending = []
    flush()
    if pending:  # trailing zero-width tokens: keep them visible, without text
        kind: SegmentKind = "special" if all(i in special_ids for i in pending) else "token"
        out.append(Segment("", tuple(pending), cursor, pending_first, kind))
        trailing_specials = 0
    if tail_gap and n == len(ids) and cursor < len(text):
        cut = len(out) - trailing_specials
        closing = [Segment("", seg.ids, len(text), seg.first, seg.kind) for seg in out[cut:]]
        out[cut:] = [Segment(text[cursor:], (), cursor, -1, "gap"), *closing]
    return out

