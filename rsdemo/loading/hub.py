"""The Hugging Face Hub: repo ids, whether the Hub can be used here, its errors in words, sizes from its metadata.

Nothing here downloads a file: a repo's files and a model's parameter count come from the Hub's metadata, and
``check_hub_reachable`` fails within ``hub_timeout_s`` instead of a long retry hang.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from ..core.errors import HubError, HubLoadError, HubUnavailableError, InvalidRepoIdError
from ..core.settings import Settings, get_settings

__all__ = [
    "HubRef",
    "check_hub_reachable",
    "hub_cache_dir",
    "hub_problem",
    "hub_switched_off",
    "parse_hub_ref",
]

log = logging.getLogger(__name__)

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^(?:{_REPO_PART}/)?{_REPO_PART}$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


class HubRef(tuple[str, str | None]):
    """A validated ``(repo_id, revision)``."""

    @property
    def repo_id(self) -> str:
        return self[0]

    @property
    def revision(self) -> str | None:
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}@{self[1]}" if self[1] else self[0]


def parse_hub_ref(text: str) -> HubRef:
    """Parse ``owner/name`` or ``owner/name@revision`` (an ``hf:`` prefix is allowed).

    Local paths, ``..`` and URLs are refused: only Hub repo ids are loaded.

    >>> parse_hub_ref("hf:Qwen/Qwen2.5-0.5B@main")
    ('Qwen/Qwen2.5-0.5B', 'main')
    >>> parse_hub_ref("../../etc/passwd")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InvalidRepoIdError: '../../etc/passwd' is not a Hugging Face Hub repo id (owner/name[@revision]).
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


def hub_cache_dir(settings: Settings) -> Path:
    """Where Hub downloads go: rsdemo's own folder, so the disk budget never touches another cache."""
    return settings.cache_dir / "hub"


def hub_switched_off(*, settings: Settings | None = None) -> str:
    """Why the Hub is off by configuration (``RSDEMO_HUB=0``, ``HF_HUB_OFFLINE=1``), or "" (no network check).

    >>> hub_switched_off(settings=Settings.from_env({"RSDEMO_HUB": "0"}))[:47]
    'Loading from the Hugging Face Hub is switched o'
    >>> hub_switched_off(settings=Settings.from_env({"HF_HUB_OFFLINE": "1"}))[:53]
    'The Hugging Face Hub is switched off here (HF_HUB_OFF'
    """
    settings = settings or get_settings()
    from huggingface_hub import constants

    if not settings.hub:
        return (
            "Loading from the Hugging Face Hub is switched off on this server. "
            "The built-in tokenizers and the embedded model work."
        )
    if settings.hub_offline or constants.HF_HUB_OFFLINE:
        return (
            "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1). "
            "The built-in tokenizers and the embedded model work offline."
        )
    return ""


def hub_problem(*, settings: Settings | None = None, probe: bool = True) -> str:
    """Why Hub tokenizers and models cannot load here, or "" when they can (as far as a quick look tells).

    ``probe``: also try to reach the Hub (at most ``hub_timeout_s``); without it only the configuration counts.

    >>> off = Settings.from_env({"RSDEMO_HUB": "0"})
    >>> hub_problem(settings=off, probe=False).startswith("Loading from the Hugging Face Hub")
    True
    """
    settings = settings or get_settings()
    if not probe:
        return hub_switched_off(settings=settings)
    try:
        check_hub_reachable(settings=settings)
    except HubUnavailableError as err:
        return str(err)
    return ""


def check_hub_reachable(*, settings: Settings | None = None) -> None:
    """Fail within ``hub_timeout_s`` when the Hub cannot be used, instead of a 46-second retry hang.

    Raises:
        HubUnavailableError: the operator switched the Hub off, ``HF_HUB_OFFLINE`` is set, or the Hub endpoint
            does not answer in time.
    """
    settings = settings or get_settings()
    from huggingface_hub import constants

    switched_off = hub_switched_off(settings=settings)
    if switched_off:
        raise HubUnavailableError(switched_off)
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
        reason = "no answer" if not outcome else "connection refused or failed"
        raise HubUnavailableError(
            f"The Hugging Face Hub cannot be reached ({reason} within {settings.hub_timeout_s:g} s). "
            "The built-in tokenizers and the embedded model work offline."
        )


def _hub_error(ref: HubRef, err: BaseException, *, what: str) -> HubError:
    """One clear message for the Hub's and transformers' many error types; the details go to the log."""
    from huggingface_hub import errors as hub_errors

    text = str(err)
    name = str(ref)
    if isinstance(err, HubError):
        return err
    if isinstance(err, hub_errors.GatedRepoError) or "access a gated repo" in text:
        message = f"{name!r} is gated: its owner asks each user to accept terms on the Hub, so rsdemo cannot load it."
    elif isinstance(err, hub_errors.RevisionNotFoundError) or "is not a valid git identifier" in text:
        message = f"{ref.repo_id!r} has no revision {ref.revision!r} on the Hub."
    elif isinstance(err, hub_errors.RepositoryNotFoundError) or "is not a valid model identifier" in text:
        message = f"There is no repository {ref.repo_id!r} on the Hugging Face Hub (or it is private)."
    elif "trust_remote_code" in text or "custom code" in text:
        message = f"{name!r} needs code from its repository to load its {what}; rsdemo never runs code from the Hub."
    elif match := re.search(r"has model type `([^`]{1,80})` but Transformers does not recognize", text):
        message = (
            f"{name!r} is a model of type {match.group(1)!r}, which this version of transformers does not "
            "know (and rsdemo never runs code from the Hub)."
        )
    elif "Couldn't instantiate the backend tokenizer" in text or "does not appear to have a file named" in text:
        message = f"{name!r} has no {what} files rsdemo can read."
    elif isinstance(err, (hub_errors.OfflineModeIsEnabled, ConnectionError, TimeoutError)) or "timed out" in text:
        log.warning("Hub request for %s failed", name, exc_info=err)
        return HubUnavailableError(f"The Hugging Face Hub did not answer while loading {name!r}. Try again later.")
    else:
        message = f"Could not load a {what} from {name!r}."
    log.warning("Hub load of %s (%s) failed: %s", name, what, message, exc_info=err)
    return HubLoadError(message)


def _repo_files(ref: HubRef, settings: Settings) -> dict[str, int]:
    """The repo's files and their sizes, from the Hub's metadata (nothing is downloaded).

    Raises:
        HubUnavailableError, HubLoadError: unreachable, not found, gated.
    """
    from huggingface_hub import HfApi

    check_hub_reachable(settings=settings)
    try:
        info = HfApi().model_info(
            ref.repo_id, revision=ref.revision, files_metadata=True, timeout=settings.hub_timeout_s * 3
        )
    except Exception as err:  # the Hub raises many types
        raise _hub_error(ref, err, what="repository") from err
    return {s.rfilename: int(s.size or 0) for s in (info.siblings or [])}


def _check_hub_model_size(ref: HubRef, *, settings: Settings) -> int:
    """Refuse a Hub model whose safetensors metadata says it is too large, before downloading it.

    Returns:
        Its parameter count.

    Raises:
        HubUnavailableError: the Hub is switched off, offline or unreachable.
        HubLoadError: not found, no safetensors size, or too large.
    """
    from huggingface_hub import HfApi

    check_hub_reachable(settings=settings)
    try:
        info = HfApi().model_info(ref.repo_id, revision=ref.revision, timeout=settings.hub_timeout_s * 3)
    except Exception as err:
        raise _hub_error(ref, err, what="model") from err
    total = getattr(getattr(info, "safetensors", None), "total", None)
    if total is None:
        raise HubLoadError(f"{str(ref)!r} publishes no safetensors weights, so its size cannot be checked first.")
    limit = settings.max_hub_params_m
    if total > limit * 1_000_000:
        raise HubLoadError(
            f"{str(ref)!r} has {total / 1e6:,.0f}M parameters; this server loads models of at most {limit:,}M."
        )
    return int(total)
