"""One frozen, ordered map of keys to specs, for every registry (tokenizers, models, decoding methods, server kinds).

>>> colours = Registry("colour", [("red", 1), ("blue", 2)])
>>> colours.get("blue"), list(colours), colours.get("green", None)
(2, ['red', 'blue'], None)
>>> colours.get("green")
Traceback (most recent call last):
...
rsdemo.core.errors.UnknownKeyError: Unknown colour 'green'. Known: red, blue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, overload

from .errors import UnknownKeyError

__all__ = ["Registry"]

T = TypeVar("T")
D = TypeVar("D")

_NO_DEFAULT: Any = object()


class Registry(Mapping[str, T]):
    """A read-only mapping whose ``get(key)`` raises ``UnknownKeyError`` (listing the known keys) for an unknown key.

    ``get(key, default)`` keeps ``Mapping.get``'s meaning: the default instead of an error.
    """

    def __init__(self, kind: str, items: Iterable[tuple[str, T]]) -> None:
        self.kind = kind
        self._items: Mapping[str, T] = MappingProxyType(dict(items))

    def __getitem__(self, key: str) -> T:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)})"

    @overload
    def get(self, key: str) -> T: ...
    @overload
    def get(self, key: str, default: D) -> T | D: ...
    def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        """The entry for ``key``; without a default an unknown key raises ``UnknownKeyError``."""
        try:
            return self._items[key]
        except (KeyError, TypeError):  # TypeError: an unhashable key from the API
            if default is not _NO_DEFAULT:
                return default
            raise UnknownKeyError(kind=self.kind, key=str(key), known=self._items) from None
