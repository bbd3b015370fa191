"""The cache directory on disk: a budget with least-recently-used eviction, manifests, crash debris.

``cache_dir`` holds three kinds of *entries*, each a folder that is built, used and deleted as a whole:

    tokenizers/<key>/             a built tokenizer file (unpacked rank file, tokenizer.json from a GGUF)
    models/<key>/                 a converted checkpoint (the embedded model, about 540 MB in fp32)
    hub/models--<owner>--<name>/  a Hugging Face Hub download (huggingface_hub's own cache layout)

Every built entry carries a ``manifest.json`` (each file's size and, for files up to 64 MiB, its sha256),
written last, inside a staging folder that is then renamed into place: a reader never sees half an entry,
and an entry whose files no longer match their manifest (truncated, corrupted) is rebuilt. Staging
folders left by a process killed mid-build are deleted when they are an hour old.

:class:`DiskBudget` keeps the whole directory under ``max_bytes``: before a download or a build it deletes
the least recently used entries that are not in use until the new one fits.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> entry = root / "tokenizers" / "demo"
>>> _ = build_entry(entry, lambda folder: (folder / "vocab.txt").write_text("a b c"))
>>> verify_entry(entry), (entry / "vocab.txt").read_text()
(True, 'a b c')
>>> _ = (entry / "vocab.txt").write_text("a b")  # truncated
>>> verify_entry(entry)
False
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DiskBudget", "Entry", "build_entry", "verify_entry"]

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
_HASH_UP_TO = 64 * 1024 * 1024
_STALE_S = 3600.0
_KINDS = ("tokenizers", "models", "hub")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(folder: Path) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            size = path.stat().st_size
            record: dict[str, object] = {"size": size}
            if size <= _HASH_UP_TO:
                record["sha256"] = _sha256(path)
            files[path.relative_to(folder).as_posix()] = record
    return files


def build_entry(target: Path, build: Callable[[Path], object]) -> Path:
    """Build an entry in a staging folder beside ``target``, write its manifest, then rename it into place.

    Raises:
        OSError: the cache directory is read-only or full (nothing is left behind).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".staging"))
    try:
        build(staging)
        (staging / MANIFEST).write_text(json.dumps({"files": _describe(staging)}, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def verify_entry(folder: Path) -> bool:
    """Whether a built entry is complete and unchanged (sizes, and hashes of the files up to 64 MiB)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        for name, record in manifest["files"].items():
            path = folder / name
            if path.stat().st_size != record["size"]:
                return False
            if "sha256" in record and _sha256(path) != record["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += stat.st_size
    return total


@dataclass(frozen=True, slots=True)
class Entry:
    path: Path
    size: int
    last_used: float


class DiskBudget:
    """Keeps ``root`` under ``max_bytes`` by deleting the least recently used entries not in use.

    Args:
        root: the cache directory.
        max_bytes: the budget.
        in_use: the entries that must stay (those of the loaded tokenizers and models).
    """

    def __init__(self, root: Path, *, max_bytes: int, in_use: Callable[[], Iterable[Path]] = tuple) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._in_use = in_use
        self._lock = threading.Lock()

    def touch(self, entry: Path) -> None:
        """Mark an entry as just used (its folder's modification time)."""
        try:
            os.utime(entry)
        except OSError:
            pass

    def entries(self) -> list[Entry]:
        """Every entry, least recently used first."""
        found = []
        for kind in _KINDS:
            base = self.root / kind
            if not base.is_dir():
                continue
            for path in base.iterdir():
                if not path.is_dir() or path.name.startswith("."):
                    continue
                if kind == "hub" and not path.name.startswith(("models--", "datasets--", "spaces--")):
                    continue
                found.append(Entry(path, _size(path), path.stat().st_mtime))
        return sorted(found, key=lambda e: e.last_used)

    def used(self) -> int:
        """Bytes in the cache directory (entries and anything else)."""
        return _size(self.root) if self.root.is_dir() else 0

    def clean_debris(self, *, older_than_s: float = _STALE_S) -> list[Path]:
        """Delete staging folders and temporary files that a killed process left behind."""
        removed = []
        now = time.time()
        for kind in _KINDS:
            base = self.root / kind
            if not base.is_dir():
                continue
            for path in base.iterdir():
                if path.name.startswith(".") and (
                    path.name.endswith((".staging", ".tmp")) or ".incomplete" in path.name
                ):
                    try:
                        if now - path.stat().st_mtime > older_than_s:
                            shutil.rmtree(path) if path.is_dir() else path.unlink()
                            removed.append(path)
                    except OSError:
                        continue
        return removed

    def make_room(self, incoming: int, *, keep: Iterable[Path] = ()) -> list[Path]:
        """Delete least recently used entries (not in use, not in ``keep``) until ``incoming`` more bytes fit.

        Returns:
            The deleted entries. If the budget cannot be met, as much is deleted as may be and the caller
            goes on (a download larger than the budget was already refused by the size guards).
        """
        with self._lock:
            self.clean_debris()
            protected = {Path(p).resolve() for p in (*self._in_use(), *keep)}
            used = self.used()
            removed = []
            for entry in self.entries():
                if used + incoming <= self.max_bytes:
                    break
                if entry.path.resolve() in protected:
                    continue
                shutil.rmtree(entry.path, ignore_errors=True)
                used -= entry.size
                removed.append(entry.path)
                log.info("disk budget: deleted %s (%d bytes)", entry.path, entry.size)
            return removed
