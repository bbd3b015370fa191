"""Decoder models: a catalog model (embedded GGUF, converted once) or a Hub causal LM, with its tokenizer."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from ..core.disk import DiskBudget, verify_entry
from ..core.settings import Settings, get_settings
from ..tokenization.adapters import (
    HFAdapter,
)
from .assembled import assembled_dir, model_file, require_installed
from .files import Progress, _entry
from .gguf import _convert_gguf, converted_model_dir, gguf_tokenizer_dir
from .hub import _check_hub_model_size, _hub_error, hub_cache_dir, parse_hub_ref

__all__ = ["ModelBundle", "cache_entries", "load_model_bundle", "model_size_bytes"]

log = logging.getLogger(__name__)


class ModelBundle:
    """A loaded decoder model with its tokenizer, on its device.

    Attributes:
        key: the catalog key or Hub ref it was loaded for.
        model: the ``PreTrainedModel`` (eval mode).
        tokenizer: its ``PreTrainedTokenizerBase``.
        spec: the catalog entry (None for an arbitrary Hub repo).
        device, dtype: where it lives.
        nbytes: parameter memory, for the cache's memory bound.
    """

    def __init__(
        self, *, key: str, model: object, tokenizer: object, spec: object | None, device: str, dtype: object
    ) -> None:
        self.key = key
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.nbytes = sum(p.numel() * p.element_size() for p in model.parameters())  # type: ignore[attr-defined]

    @functools.cached_property
    def adapter(self) -> HFAdapter:
        """The tokenizer as an rsdemo adapter (pieces, bytes), made once per loaded model."""
        return HFAdapter(self.tokenizer.backend_tokenizer, lossless=False)  # type: ignore[attr-defined]

    def release(self) -> None:
        """Free the model's memory (called when the cache evicts it)."""
        import gc

        worker = self.__dict__.pop("worker", None)  # transformers' generation worker process, on a CPU
        if worker is not None:
            worker.release()
        self.model = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is a dependency
            pass


def _load_converted(folder: Path, dtype: object) -> tuple[object, object]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype), AutoTokenizer.from_pretrained(str(folder))


def _dtype_bytes(runtime: object) -> int:
    name = getattr(runtime, "dtype_name", "float32")
    return 4 if name == "float32" else 2


def model_size_bytes(*, key: str, runtime: object, settings: Settings | None = None) -> int:
    """The parameter memory a model will take on ``runtime``, known before loading it.

    Catalog models state their size; a Hub repo's comes from its safetensors metadata (one small request,
    nothing downloaded).

    Raises:
        HubUnavailableError, HubLoadError: a Hub model whose size cannot be read, or that is too large.
    """
    from ..catalog import MODELS

    settings = settings or get_settings()
    spec = MODELS.get(key, None)
    if spec is not None:
        return spec.params_m * 1_000_000 * _dtype_bytes(runtime)
    ref = parse_hub_ref(key)
    return _check_hub_model_size(ref, settings=settings) * _dtype_bytes(runtime)


def cache_entries(*, key: str, settings: Settings) -> list[Path]:
    """The cache entries a loaded tokenizer or model key uses (kept by the disk budget while loaded)."""
    from ..catalog import MODELS, TOKENIZERS

    if key in TOKENIZERS:
        entry = _entry(TOKENIZERS[key], settings)
        return [entry] if entry is not None else []
    if key in MODELS and MODELS[key].source == "gguf":  # the converted checkpoint, its tokenizer, llama.cpp's weights
        return [
            converted_model_dir(key=key, settings=settings),
            gguf_tokenizer_dir(key=key, settings=settings),
            Path(settings.cache_dir) / "models" / f"{key}.{settings.llamacpp_weights}.gguf",
            assembled_dir(key=key, settings=settings),  # a model shipped in chunks: the joined file
        ]
    repo = (MODELS[key].repo_id or key) if key in MODELS else key
    return [hub_cache_dir(settings) / ("models--" + repo.partition("@")[0].replace("/", "--"))]


def load_model_bundle(
    *,
    key: str,
    runtime: object,
    settings: Settings | None = None,
    progress: Progress | None = None,
    budget: DiskBudget | None = None,
) -> ModelBundle:
    """Load a catalog model (or a Hub causal LM by repo id) onto the runtime's device.

    Args:
        key: a key of ``rsdemo.catalog.MODELS`` or a Hub ref ``owner/name[@revision]``.
        runtime: ``rsdemo.core.runtime.Runtime`` (device and dtype policy).
        settings: the cache directory and the Hub bounds.
        progress: told in words about slow first-time steps.
        budget: the cache directory's disk budget (room is made before a conversion or a download).

    Raises:
        UnknownKeyError, InvalidRepoIdError: not a catalog key or a valid repo id.
        HubUnavailableError, HubLoadError: the Hub cannot serve the model, or it is too large.
        AssetMissingError: the package that carries an embedded model is not installed.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..catalog import MODELS

    settings = settings or get_settings()
    device = getattr(runtime, "device", "cpu")
    dtype = runtime.torch_dtype()  # type: ignore[attr-defined]
    spec = MODELS.get(key, None)
    if spec is not None and spec.source == "gguf":
        require_installed(spec)
        folder = converted_model_dir(key=key, settings=settings)
        loaded = None
        if verify_entry(folder):
            if budget is not None:
                budget.touch(folder)
            try:
                loaded = _load_converted(folder, dtype)
            except Exception:  # damaged in a way the manifest's sizes do not show: converted again below
                log.exception("the converted checkpoint in %s does not load; converting it again", folder)
        if loaded is None:
            source = model_file(spec, settings=settings, progress=progress, budget=budget)
            in_memory = _convert_gguf(source, folder, progress, budget, spec.params_m)
            loaded = _load_converted(folder, dtype) if in_memory is None else in_memory
        model, tokenizer = loaded
        model = model.to(dtype)  # type: ignore[attr-defined]
    else:
        ref = parse_hub_ref(spec.repo_id if spec is not None and spec.repo_id else key)
        params = _check_hub_model_size(ref, settings=settings)
        if budget is not None:
            budget.make_room(params * 4, keep=cache_entries(key=key, settings=settings))
        if progress is not None:
            progress(f"Downloading {ref.repo_id} from the Hub…")
        try:
            model = AutoModelForCausalLM.from_pretrained(
                ref.repo_id,
                revision=ref.revision,
                dtype=dtype,
                trust_remote_code=False,
                use_safetensors=True,
                cache_dir=hub_cache_dir(settings),
            )
            tokenizer = AutoTokenizer.from_pretrained(
                ref.repo_id, revision=ref.revision, trust_remote_code=False, cache_dir=hub_cache_dir(settings)
            )
        except Exception as err:  # one clear message for the Hub's many error types
            raise _hub_error(ref, err, what="causal language model") from err
    model.eval()  # type: ignore[attr-defined]
    model.to(device)  # type: ignore[attr-defined]
    return ModelBundle(key=key, model=model, tokenizer=tokenizer, spec=spec, device=device, dtype=dtype)
