"""Pure validation of what users type: text and lists of token ids.

>>> parse_ids("[15496, 995]", max_ids=10), parse_ids("15496 995", max_ids=10), parse_ids("15496,995", max_ids=10)
([15496, 995], [15496, 995], [15496, 995])
>>> parse_ids("12, x", max_ids=10)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
rsdemo.core.errors.InvalidIdsError: 'x' is not a token id: ids are whole numbers such as 15496, ...
"""

from __future__ import annotations

import re

from .errors import EmptyInputError, InputTooLargeError, InvalidIdsError, InvalidTextError

__all__ = ["check_text", "parse_ids", "utf8"]

_SEPARATORS = re.compile(r"[\s,;]+")


def check_text(text: object, *, max_chars: int, allow_blank: bool = False) -> bytes:
    """Check user text and return its UTF-8 bytes.

    Raises:
        InvalidTextError: not a string, or not encodable as UTF-8 (a lone surrogate).
        EmptyInputError: empty: no characters at all (unless ``allow_blank``). Whitespace-only text is text:
            tokenizers split it too, and the views can show it.
        InputTooLargeError: longer than ``max_chars``.

    >>> len(check_text("\\n\\n\\t  ", max_chars=10))
    5
    """
    if not isinstance(text, str):
        raise InvalidTextError(f"Expected text, got {type(text).__name__}.")
    if len(text) > max_chars:
        raise InputTooLargeError(
            f"The text has {len(text):,} characters; the limit is {max_chars:,}. Paste a shorter text."
        )
    if not allow_blank and not text:
        raise EmptyInputError("The text is empty: type or paste some text to tokenize (whitespace counts).")
    return utf8(text)


def utf8(text: str, *, what: str = "text", field: str = "") -> bytes:
    """``text`` as UTF-8, or a clear error naming the lone surrogate that makes it invalid Unicode.

    >>> utf8("ok \\ud800", what="prompt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InvalidTextError: The prompt is not valid Unicode: a lone surrogate U+D800 at character 3. ...
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start]
        raise InvalidTextError(
            f"The {what} is not valid Unicode: a lone surrogate U+{ord(bad):04X} at character {err.start}. "
            f"Remove it or paste the {what} again.",
            field=field,
        ) from None


def parse_ids(raw: str, *, max_ids: int) -> list[int]:
    """Parse a list of token ids: ``[1, 2, 3]``, ``1 2 3`` or ``1,2,3``.

    Raises:
        InvalidIdsError: empty, not integers, negative, or too many.
    """
    if not isinstance(raw, str):
        raise InvalidIdsError("Expected a list of token ids such as [15496, 995].")
    body = raw.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    parts = [p for p in _SEPARATORS.split(body) if p]
    if not parts:
        raise InvalidIdsError("Type some token ids to decode, for example [15496, 995].")
    if len(parts) > max_ids:
        raise InvalidIdsError(f"{len(parts):,} ids is too many to decode at once; the limit is {max_ids:,}.")
    ids: list[int] = []
    for part in parts:
        if not re.fullmatch(r"[+-]?\d{1,12}", part):
            shown = part if len(part) <= 20 else part[:20] + "…"
            raise InvalidIdsError(
                f"{shown!r} is not a token id: ids are whole numbers such as 15496, separated by commas or spaces."
            )
        value = int(part)
        if value < 0:
            raise InvalidIdsError(f"{value} is not a token id: ids are never negative.")
        ids.append(value)
    return ids
