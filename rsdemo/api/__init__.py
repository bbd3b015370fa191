"""The public API's replies: the one function that builds each (``replies``); their shapes are ``rsdemo.api_schema``.

The page's named endpoints (``rsdemo.ui.endpoints``) and the CLI's ``--json`` both answer with these, so a reply
has one definition and one builder; ``tests/test_api_replies.py`` checks that every builder's keys are its
TypedDict's keys, nested ones included.
"""

from .replies import (
    arena_reply,
    beam_tree_reply,
    compare_reply,
    decode_reply,
    explain_reply,
    generate_reply,
    language_cost_reply,
    next_token_reply,
    surprisal_reply,
    token_reply,
    tokenize_reply,
    vocab_reply,
)

__all__ = [
    "arena_reply",
    "beam_tree_reply",
    "compare_reply",
    "decode_reply",
    "explain_reply",
    "generate_reply",
    "language_cost_reply",
    "next_token_reply",
    "surprisal_reply",
    "token_reply",
    "tokenize_reply",
    "vocab_reply",
]
