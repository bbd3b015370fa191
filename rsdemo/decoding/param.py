"""One decoding parameter as data: its name, label, range, default and how a value is checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..arguments import flag, number, takes_number, takes_whole, text, whole
from ..core.errors import InputError

__all__ = ["Param"]


@dataclass(frozen=True, slots=True)
class Param:
    """One decoding parameter: its ``GenerationConfig`` field, UI label, range and default.

    ``random``: a value outside the range that asks for a random one, drawn for each run (the seed's -1).

    ``kind="text"``: a string (at most 200 characters), read by ``parse`` (which raises ``InputError``) into the
    value kept.

    ``group``: where the UI puts it among the common parameters: ``""`` with the others, ``"samplers"`` in the
    closed "More samplers" box (rsdemo's own stages: DRY, XTC, Mirostat ...).

    >>> from rsdemo.decoding import COMMON_PARAMS, SEED
    >>> SEED.check("7"), SEED.check(-1), SEED.title, COMMON_PARAMS[0].title
    (7, -1, 'Seed', 'Max new tokens (max_new_tokens)')
    >>> SEED.check(1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: Seed must be a whole number between 0 and 2,147,483,647, or -1 for ...; got 1.5.
    """

    name: str
    label: str
    default: float | int | bool | str
    minimum: float | int | None = None
    maximum: float | int | None = None
    step: float | int | None = None
    kind: Literal["float", "int", "bool", "text"] = "float"
    info: str = ""
    random: int | None = None
    parse: Callable[[str], str] | None = None
    group: str = ""

    @property
    def title(self) -> str:
        """How a message names it: the label, and the API's name where that differs beyond case."""
        return self.label if self.label.lower() == self.name else f"{self.label} ({self.name})"

    @property
    def takes(self) -> str:
        """What it takes, in words: ``a whole number between 1 and 512``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return "text"
        if self.kind == "int":
            return takes_whole(self.minimum, self.maximum, self._also)  # type: ignore[arg-type]
        return takes_number(self.minimum, self.maximum)

    @property
    def _also(self) -> str:
        return f", or {self.random} for a random {self.label.lower()}" if self.random is not None else ""

    @property
    def help(self) -> str:
        """The field's help text: what it does and what it takes (so a page needs no range of its own)."""
        takes = self.takes[0].upper() + self.takes[1:]
        return f"{self.info[0].upper() + self.info[1:]}. {takes}." if self.info else f"{takes}."

    def check(self, value: Any) -> float | int | bool | str:
        """Coerce and range-check a value (``rsdemo.arguments``: text that spells a number counts, never rounded).

        Raises:
            InputError: not a value of the right kind, or out of range; the message names the parameter.
        """
        if self.kind == "bool":
            return flag(value, name=self.title, field="params")
        if self.kind == "text":
            given = text(value, name=self.title, field="params")
            if len(given) > 200:
                raise InputError(f"{self.title} must be at most 200 characters; got {len(given):,}.", field="params")
            return self.parse(given) if self.parse is not None else given
        if self.kind == "int":
            return whole(
                value,
                name=self.title,
                minimum=self.minimum,
                maximum=self.maximum,  # type: ignore[arg-type]
                special=() if self.random is None else (self.random,),
                also=self._also,
                field="params",
            )
        return number(value, name=self.title, minimum=self.minimum, maximum=self.maximum, field="params")
