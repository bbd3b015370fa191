"""The notes a run writes beside its output: Generate, the arena, the beam tree, Inside, the queue."""

# ruff: noqa: E501  (a table of strings: one row a line where it fits)
from __future__ import annotations

__all__ = ["RUN_ROWS"]

# fmt: off
RUN_ROWS: tuple[tuple[str, str, str], ...] = (
)
# fmt: on
