"""The prompt as the model sees it: the chat template applied, the ids, and a doubled-BOS warning."""

from __future__ import annotations

from typing import Any

from .results import PromptInfo

__all__ = ["build_prompt"]


def build_prompt(*, tokenizer: Any, prompt: str, chat: bool) -> PromptInfo:
    """The ids the model gets, and the text they stand for (chat template applied when ``chat``).

    The templated text already holds the special tokens the template writes (BOS included), so it is
    tokenised with ``add_special_tokens=False``; tokenising it again *with* special tokens would
    double the BOS, and the info says so when that would happen.
    """
    warnings: list[str] = []
    if chat and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(text, add_special_tokens=False).input_ids
        again = tokenizer(text).input_ids
        bos = getattr(tokenizer, "bos_token_id", None)
        if bos is not None and len(again) > 1 and again[0] == again[1] == bos:
            warnings.append(
                "Tokenising this templated text again with special tokens would put two BOS tokens in front; "
                "rsdemo tokenises it with add_special_tokens=False."
            )
        return PromptInfo(text, tuple(ids), True, tuple(warnings))
    if chat:
        warnings.append("This model has no chat template: the prompt is used as plain text.")
    ids = tokenizer(prompt).input_ids
    return PromptInfo(tokenizer.decode(ids, skip_special_tokens=False), tuple(ids), False, tuple(warnings))
