"""Generation: engines behind one seam, and the plain results every view reads.

    engine.py               the seam: an engine's capabilities and how a run is asked for and streamed
    transformers_engine.py  ``model.generate`` (every decoding method, on any device)
    llamacpp_engine.py      llama.cpp on the embedded GGUF files, CPU: greedy and sampling, five times as fast
    processors.py           the decoding stages, transformers' own processors in transformers' order
    results.py              what a run yields: tokens with their distributions, beams, the prompt
    prompts.py              the chat template applied, the ids, the doubled-BOS warning
    requests.py             a request checked before anything is loaded
    reproduce.py            the transformers code that reproduces a run
"""

from .prompts import build_prompt
from .requests import check_request
from .results import (
    Alternative,
    Beam,
    GeneratedToken,
    GenerationResult,
    PromptInfo,
    StreamText,
    TokenSegment,
    make_token,
    token_segments,
)
from .engine import Capabilities, GenerationEngine
from .llamacpp_engine import LlamaCppEngine
from .transformers_engine import TOP_K_ALTERNATIVES, TransformersEngine, generate_stream


def default_engines() -> list[GenerationEngine]:
    """Every generation engine rsdemo has, fastest first where they can run a request."""
    return [LlamaCppEngine(), TransformersEngine()]


__all__ = [
    "TOP_K_ALTERNATIVES",
    "Alternative",
    "Beam",
    "Capabilities",
    "GenerationEngine",
    "LlamaCppEngine",
    "TransformersEngine",
    "default_engines",
    "GeneratedToken",
    "GenerationResult",
    "PromptInfo",
    "StreamText",
    "TokenSegment",
    "build_prompt",
    "check_request",
    "generate_stream",
    "make_token",
    "token_segments",
]
