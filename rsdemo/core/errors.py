"""Every error rsdemo raises on purpose, in one place.

The UI turns these into ``gr.Error`` at its edge; the CLI prints ``str(err)`` and exits 2.
Nothing below the UI imports gradio.

    RsdemoError                     base class: a clear, user-facing message
    ├── InputError                  the user's input cannot be processed
    │   ├── EmptyInputError         empty or whitespace-only text
    │   ├── InputTooLargeError      text over the size limit
    │   ├── InvalidTextError        lone surrogates or other text that is not valid Unicode
    │   └── InvalidIdsError         a malformed or out-of-range list of token ids
    ├── UnknownKeyError             a registry key that does not exist (lists the known keys)
    ├── AssetMissingError           a package that carries a tokenizer's files is not installed
    ├── CapacityError               a bound of this server: too large for its memory, or too busy right now
    ├── ServerError                 a serving engine (vLLM, TGI, ...) failed, timed out or stopped answering
    ├── EngineFailedError           a local engine crashed or failed its self-check on this machine (before a
    │                               run's first token: the run goes on on transformers, and says so)
    └── HubError                    a Hugging Face Hub request that cannot be served
        ├── InvalidRepoIdError      not a valid ``owner/name`` repo id (local paths, traversal)
        ├── HubUnavailableError     the Hub is offline, unreachable, or switched off by the operator
        └── HubLoadError            the repo exists but cannot be used: not found, too large, remote code
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AssetIntegrityError",
    "AssetMissingError",
    "CapacityError",
    "EmptyInputError",
    "EngineFailedError",
    "HubError",
    "HubLoadError",
    "HubUnavailableError",
    "InputError",
    "InputTooLargeError",
    "InvalidIdsError",
    "InvalidRepoIdError",
    "InvalidTextError",
    "RsdemoError",
    "ServerError",
    "UnknownKeyError",
]


class RsdemoError(Exception):
    """Base class: ``str(err)`` is a complete sentence fit to show to a user.

    ``field`` names the input the error is about, where one is (``prompt``, ``stop``, ``params``, ``method``,
    ``model``, ``engine``, ``tokenizer``, ``text``, ``ids``), so a page can show the message beside it.

    >>> InputError("Type a prompt.", field="prompt").field
    'prompt'
    """

    field: str = ""

    def __init__(self, *args: object, field: str = "") -> None:
        super().__init__(*args)
        if field:
            self.field = field


class InputError(RsdemoError, ValueError):
    """The user's input cannot be processed."""


class EmptyInputError(InputError):
    """Empty or whitespace-only text."""


class InputTooLargeError(InputError):
    """Text over the size limit."""


class InvalidTextError(InputError):
    """Text that is not valid Unicode (for example a lone surrogate)."""


class InvalidIdsError(InputError):
    """A malformed or out-of-range list of token ids."""


class UnknownKeyError(RsdemoError, KeyError):
    """A registry key that does not exist.

    >>> str(UnknownKeyError(kind="tokenizer", key="gpt5", known=["gpt2", "llama3"]))
    "Unknown tokenizer 'gpt5'. Known: gpt2, llama3."
    """

    def __init__(self, *, kind: str, key: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.key = key
        self.known = tuple(known)
        shown = key if len(key) <= 60 else key[:60] + "…"
        super().__init__(
            f"Unknown {kind} {shown!r}. Known: {', '.join(self.known)}.",
            field={"decoding method": "method"}.get(kind, kind),
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class AssetMissingError(RsdemoError):
    """A package that carries a tokenizer's or model's files is not installed."""


class AssetIntegrityError(AssetMissingError):
    """A model file joined from its packages' chunks is incomplete or does not match its published sha256."""


class CapacityError(RsdemoError):
    """A bound of this server: a model too large for its memory, or every slot busy right now."""


class ServerError(RsdemoError):
    """A serving engine the operator configured failed, timed out or stopped answering (no secrets in the text)."""


class EngineFailedError(RsdemoError):
    """A local engine crashed (a signal, a lost worker) or gave wrong numbers in its self-check on this machine.

    ``str(err)`` says what happened in a clause fit to follow the engine's name ("crashed on this CPU (SIGSEGV)
    in its self-check"); ``signal`` names the signal, if one killed it; ``machine`` is True when the cause is this
    machine (a crash, wrong numbers), so the engine is set aside for the process and the verdict remembered.

    >>> err = EngineFailedError("crashed on this CPU (SIGSEGV) at its first token", signal="SIGSEGV")
    >>> str(err), err.machine
    ('crashed on this CPU (SIGSEGV) at its first token', True)
    """

    def __init__(self, *args: object, signal: str = "", machine: bool = True, field: str = "") -> None:
        super().__init__(*args, field=field)
        self.signal = signal
        self.machine = machine


class HubError(RsdemoError):
    """A Hugging Face Hub request that cannot be served."""


class InvalidRepoIdError(HubError, InputError):
    """Not a valid ``owner/name`` repo id."""


class HubUnavailableError(HubError):
    """The Hub is offline (``HF_HUB_OFFLINE=1``) or unreachable."""


class HubLoadError(HubError):
    """The repo exists but its tokenizer or model cannot be loaded safely."""
