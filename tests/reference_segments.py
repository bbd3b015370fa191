"""The slow reference for ``rsdemo.tokenization.segments``: the same rules as a plain Python loop over the tokens.

``tests/test_segments_property.py`` checks the vectorised ``segment_table`` against it on random inputs
(tiktoken keeps a slow reference implementation for the same reason).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rsdemo.tokenization.segments import Segment, SegmentKind


def reference_segments(
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
        if seen_text:
            trailing_specials += 1
    if tail_gap and n == len(ids) and cursor < len(text):
        cut = len(out) - trailing_specials
        closing = [Segment("", seg.ids, len(text), seg.first, seg.kind) for seg in out[cut:]]
        out[cut:] = [Segment(text[cursor:], (), cursor, -1, "gap"), *closing]
    return out
