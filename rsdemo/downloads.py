"""Files a visitor downloads: every token id of a text, as a JSON list (no gradio here).

The Token ids box holds the first ids only (a list ``Decode`` takes as it is); the whole list of a long text
is a file. Files go to a folder of their own under the system temp folder (a place Gradio serves from), named
by their content so the same ids are written once; the oldest are removed beyond ``keep``.

>>> import json, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> path = write_ids_file(ids=[15496, 995], tokenizer="Qwen/Qwen2.5-0.5B", directory=folder)
>>> path.name, json.loads(path.read_text())
('token-ids-Qwen_Qwen2.5-0.5B-2.json', [15496, 995])
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["DOWNLOADS", "write_ids_file"]

DOWNLOADS = Path(tempfile.gettempdir()) / "rsdemo-downloads"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_ids_file(
    *, ids: Sequence[int] | np.ndarray, tokenizer: str, directory: Path | None = None, keep: int = 16
) -> Path:
    """Write ``ids`` as a JSON list (``[15496, 995]``, the form the Decode box takes) and return the file.

    Args:
        ids: the token ids, in order.
        tokenizer: its key or Hub repo id: part of the file name (``token-ids-gpt2-1000000.json``).
        directory: where to write; ``DOWNLOADS`` (under the system temp folder) by default.
        keep: how many files to keep there: older ones are removed, the newest never.

    Raises:
        OSError: the folder cannot be written.
    """
    array = np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
    folder = directory if directory is not None else DOWNLOADS
    digest = hashlib.sha256(tokenizer.encode("utf-8") + b"\0" + array.tobytes()).hexdigest()[:20]
    name = f"token-ids-{_UNSAFE.sub('_', tokenizer).strip('._') or 'tokenizer'}-{len(array)}.json"
    path = folder / digest / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".part", delete=False) as f:
            f.write("[" + ", ".join(map(str, array.tolist())) + "]")
        Path(f.name).replace(path)  # whole or absent: a visitor never downloads half a list
    path.parent.touch()
    _prune(folder, keep=keep, current=path.parent)
    return path


def _prune(folder: Path, *, keep: int, current: Path) -> None:
    """Remove the oldest files beyond ``keep`` (a concurrent request's removal is not an error)."""
    try:
        entries = sorted(
            (p for p in folder.iterdir() if p.is_dir() and p != current), key=lambda p: p.stat().st_mtime, reverse=True
        )
    except OSError:
        return
    for old in entries[max(0, keep - 1) :]:
        shutil.rmtree(old, ignore_errors=True)
