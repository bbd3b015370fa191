"""GGUF files: the tokenizer and the model they carry, converted once into cache entries (in memory if not).

A catalog tokenizer read out of a GGUF file is saved as a ``tokenizer.json`` entry; an embedded model is dequantised
into a plain fp32 checkpoint (``converted_model_dir``); its transformers tokenizer is kept apart
(``gguf_tokenizer_dir``) for the processes that read only the GGUF file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..catalog import TokenizerSpec
from ..core.disk import DiskBudget, build_entry, verify_entry
from ..core.errors import AssetMissingError, InputError
from ..core.settings import Settings, get_settings
from .assembled import model_file
from .files import Progress, _entry, _source_path

__all__ = ["converted_checkpoint", "converted_model_dir", "gguf_tokenizer", "gguf_tokenizer_dir"]

log = logging.getLogger(__name__)


def _gguf_tokenizer(
    spec: TokenizerSpec, settings: Settings, progress: Progress | None, budget: DiskBudget | None
) -> object:
    """The ``tokenizers.Tokenizer`` inside a GGUF file, built once into the cache (in memory if it cannot be)."""
    import tokenizers

    entry = _entry(spec, settings)
    assert entry is not None
    if verify_entry(entry):
        if budget is not None:
            budget.touch(entry)
        return tokenizers.Tokenizer.from_file(str(entry / "tokenizer.json"))
    source = _source_path(spec)
    if progress is not None:
        progress(f"Building the {spec.key} tokenizer from {source.name} (first time only)…")
    backend = _read_gguf_tokenizer(source)
    try:
        if budget is not None:
            budget.make_room(4 * 1024 * 1024, keep=[entry])
        build_entry(entry, lambda folder: backend.save(str(folder / "tokenizer.json")))
    except OSError as err:  # a read-only or full cache directory: keep it in memory for this process
        log.warning("cannot cache the %s tokenizer in %s (%s); using it from memory", spec.key, entry, err)
    return backend


def _read_gguf_tokenizer(source: Path) -> object:
    """The tokenizer a GGUF file carries, as a ``tokenizers.Tokenizer`` (about 10 s on 2 cores)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name).backend_tokenizer


def converted_model_dir(*, key: str, settings: Settings | None = None) -> Path:
    """Where the converted (fp32 safetensors) checkpoint of a GGUF catalog model is cached."""
    return (settings or get_settings()).cache_dir / "models" / key


def converted_checkpoint(*, key: str, settings: Settings | None = None, progress: Progress | None = None) -> Path:
    """An embedded model as a plain Hugging Face checkpoint folder (converted once): what a serving engine loads.

    ``bash scripts/serve.sh vllm`` serves this folder.

    Raises:
        UnknownKeyError: not a catalog key; InputError: not an embedded (GGUF) model.
        AssetMissingError: its package is missing, or the cache directory cannot take the checkpoint.
    """
    from ..catalog import get_model_spec

    settings = settings or get_settings()
    spec = get_model_spec(key)
    if spec.source != "gguf" or spec.package is None or spec.path is None:
        raise InputError(f"{key} is not an embedded model; a server loads it from the Hub itself.", field="model")
    source = model_file(spec, settings=settings, progress=progress)
    folder = converted_model_dir(key=key, settings=settings)
    if not verify_entry(folder) and _convert_gguf(source, folder, progress, None, spec.params_m) is not None:
        raise AssetMissingError(f"The cache directory cannot take the converted {key} checkpoint.")
    return folder


def _load_gguf(source: Path) -> tuple[object, object]:
    """The model (fp32, plain weights: no quantization config) and tokenizer read out of a GGUF file."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(source.parent), source.name
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # the loaded model's own config: reading it from the file again parses every metadata field (17.6 s for
    # Gemma's 262k-token vocabulary on 2 busy cores)
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    plain.generation_config = gguf_model.generation_config
    return plain, tokenizer


def _convert_gguf(
    source: Path, target: Path, progress: Progress | None, budget: DiskBudget | None, params_m: int
) -> tuple[object, object] | None:
    """Dequantise a GGUF file once into a plain fp32 checkpoint (reloads in about a second).

    ``save_pretrained`` refuses a GGUF-loaded model in transformers 5, so the weights are copied into a
    model built from the same config without its quantization config, then saved.

    Returns:
        None when the checkpoint was saved; the model and tokenizer in memory when the cache directory
        cannot take it (read-only or full).
    """
    if progress is not None:
        progress(f"Converting {source.name} into a local checkpoint (first time only, about 30 s)…")
    plain, tokenizer = _load_gguf(source)
    try:
        if budget is not None:
            budget.make_room(params_m * 4_000_000, keep=[target])

        def save(folder: Path) -> None:
            plain.save_pretrained(str(folder))  # type: ignore[attr-defined]
            tokenizer.save_pretrained(str(folder))  # type: ignore[attr-defined]

        build_entry(target, save)
    except OSError as err:
        log.warning("cannot cache the converted model in %s (%s); using it from memory", target, err)
        return plain, tokenizer
    return None


_GGUF_TOKENIZERS: dict[tuple[str, str], object] = {}


def gguf_tokenizer(*, key: str, settings: Settings | None = None, progress: Progress | None = None) -> object:
    """The transformers tokenizer (chat template included) of an embedded GGUF model, read once per process.

    From the converted checkpoint or this tokenizer's own cache entry (``gguf_tokenizer_dir``) when one is there
    (a fraction of a second), else from the GGUF file (5.5 s on the 2-core machine measured), then saved into
    that entry: llama.cpp's worker process reads the GGUF file, the app's process then loads the saved copy.
    """
    from transformers import AutoTokenizer

    from ..catalog import get_model_spec

    settings = settings or get_settings()
    cached = _GGUF_TOKENIZERS.get((key, str(settings.cache_dir)))
    if cached is not None:
        return cached
    folder = converted_model_dir(key=key, settings=settings)
    saved = gguf_tokenizer_dir(key=key, settings=settings)
    if verify_entry(folder):
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    elif verify_entry(saved):
        tokenizer = AutoTokenizer.from_pretrained(str(saved))
    else:
        source = model_file(get_model_spec(key), settings=settings, progress=progress)
        if progress is not None:
            progress(f"Reading the {key} tokenizer from {source.name} (first time only)…")
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        try:
            build_entry(saved, lambda into: tokenizer.save_pretrained(str(into)))  # type: ignore[attr-defined]
        except OSError as err:  # a read-only or full cache directory: the next process reads the GGUF file again
            log.warning("cannot cache the %s tokenizer in %s (%s)", key, saved, err)
    _GGUF_TOKENIZERS[(key, str(settings.cache_dir))] = tokenizer
    return tokenizer


def gguf_tokenizer_dir(*, key: str, settings: Settings | None = None) -> Path:
    """Where ``gguf_tokenizer`` keeps an embedded model's transformers tokenizer (a few MB)."""
    return (settings or get_settings()).cache_dir / "tokenizers" / f"{key}.transformers"
