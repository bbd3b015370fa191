"""rsdemo: look inside language models — tokenizers offline, byte-exact token views.

The public surface (everything else is an implementation detail):

>>> from rsdemo import Backend
>>> Backend().tokenize(text="Hi!", tokenizer="char").ids
[72, 105, 33]
"""

from .backend import Backend, CompareResult, DecodeResult, TokenInfo, TokenizeResult, TokenizerInfo
from .catalog import TOKENIZERS, TokenizerSpec, get_tokenizer_spec
from .core.errors import (
    AssetMissingError,
    EmptyInputError,
    HubError,
    HubUnavailableError,
    InputError,
    InputTooLargeError,
    InvalidIdsError,
    InvalidRepoIdError,
    InvalidTextError,
    RsdemoError,
    UnknownKeyError,
)
from .tokenization.segments import Segment

__all__ = [
    "TOKENIZERS",
    "AssetMissingError",
    "Backend",
    "CompareResult",
    "DecodeResult",
    "EmptyInputError",
    "HubError",
    "HubUnavailableError",
    "InputError",
    "InputTooLargeError",
    "InvalidIdsError",
    "InvalidRepoIdError",
    "InvalidTextError",
    "RsdemoError",
    "Segment",
    "TokenInfo",
    "TokenizeResult",
    "TokenizerInfo",
    "TokenizerSpec",
    "UnknownKeyError",
    "get_tokenizer_spec",
]
