"""Decoding insight: views computed from a model's real logits, each a pure function of recorded numbers.

``stages`` shows one next-token distribution through each stage of the decoding pipeline; ``surprisal`` scores
a prompt token by token. The backend records the logits once (``Backend.next_token``, ``Backend.surprisal``);
moving a slider re-runs only these pure functions.
"""

from .stages import StageRow, StageView, stage_view
from .surprisal import Surprisal, surprisal_from_logits

__all__ = ["StageRow", "StageView", "Surprisal", "stage_view", "surprisal_from_logits"]
