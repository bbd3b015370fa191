"""The Hugging Face Hub as the page says it: the help of the tokenizer and model boxes, and the page load's check.

>>> _model_info("")
'Or type a Hub causal-LM repo id (needs the Hub)'
>>> _model_info("offline", scored=True)
"Scored with transformers (the model's own logits); built-in models only: the Hugging Face Hub is off here"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ..backend import Backend
from ..render.page import hub_header
from .lang import tr

__all__ = ["_hub_state", "_model_info", "_tokenizer_info"]


def _tokenizer_info(problem: str) -> str:
    """The tokenizer box's help: a Hub repo id may be typed, or not (the Hub is off or unreachable)."""
    return (
        "Built-in tokenizers only: the Hugging Face Hub is off here"
        if problem
        else ("Or type a Hub repo id, e.g. Qwen/Qwen2.5-0.5B")
    )


def _model_info(problem: str, *, scored: bool = False) -> str:
    """The model box's help; with the Hub off, the Hub's models are left out of the list and it says so."""
    first = "Scored with transformers (the model's own logits)" if scored else ""
    if problem:
        hub = "built-in models only: the Hugging Face Hub is off here"
    else:
        hub = "or a Hub causal-LM repo id" if scored else "Or type a Hub causal-LM repo id (needs the Hub)"
    return f"{first}; {hub}" if first else hub[0].upper() + hub[1:]


def _hub_state(backend: Backend) -> Callable[[], tuple[Any, ...]]:
    """The page load's callback: the Hub line, the tokenizer box, the Generate and the Inside model boxes."""

    def hub_state() -> tuple[Any, ...]:
        """The Hub as this page load finds it (a probe at most every few minutes): said where the choice is made."""
        problem = backend.hub_problem()
        return (
            hub_header(problem),
            gr.update(info=tr(_tokenizer_info(problem))),
            gr.update(choices=backend.model_choices_here(hub_problem=problem), info=tr(_model_info(problem))),
            gr.update(
                choices=backend.model_choices_here(hub_problem=problem), info=tr(_model_info(problem, scored=True))
            ),
        )

    return hub_state
