"""Environment flags and limits, parsed once.

Every tunable number rsdemo uses lives here, so the UI, the CLI and the tests agree.

>>> Settings.from_env({"RSDEMO_CACHE_DIR": "/tmp/x", "HF_HUB_OFFLINE": "1"}).hub_offline
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "get_settings"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits and locations.

    Attributes:
        cache_dir: where converted artefacts (tokenizer files built from package data) are written.
        hub_offline: ``HF_HUB_OFFLINE`` is set: Hub requests fail at once with a clear message.
        max_text_chars: texts longer than this are refused (1 MiB of text must pass).
        display_tokens: the token view renders at most this many tokens; stats always cover the whole text.
        max_compare: the most tokenizers the Compare tab takes at once.
        max_decode_ids: the most ids the decode box takes.
        hub_timeout_s: how long a Hub reachability check may take before it is called unreachable.
        max_models, max_model_bytes: the model cache's bounds (count and parameter memory).
        max_hub_params_m: Hub models larger than this (million parameters) are refused before download.
    """

    cache_dir: Path
    hub_offline: bool
    max_text_chars: int = 2 * 1024 * 1024
    display_tokens: int = 2000
    min_compare: int = 2
    max_compare: int = 6
    max_decode_ids: int = 100_000
    hub_timeout_s: float = 3.0
    max_models: int = 2
    max_model_bytes: int = 8 * 1024**3
    max_hub_params_m: int = 1600

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from an environment mapping (``os.environ`` in the app)."""
        default_cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rsdemo"
        return cls(
            cache_dir=Path(environ.get("RSDEMO_CACHE_DIR") or default_cache).expanduser(),
            hub_offline=environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE,
        )


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from ``os.environ`` on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env(os.environ)
    return _settings
