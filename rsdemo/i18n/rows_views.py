"""The Languages tab, Why this split, the vocabulary browser, and the share / export panel."""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["VIEW_ROWS"]

# fmt: off
VIEW_ROWS: tuple[tuple[str, str, str], ...] = (
)
# fmt: on
