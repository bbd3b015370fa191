"""Generation: engines behind one seam, and the plain results every view reads.

engine.py               the seam: an engine's capabilities and how a run is asked for and streamed
transformers_engine.py  ``model.generate`` (every decoding method, on any device)
llamacpp_engine.py      llama.cpp on the embedded GGUF files, CPU: greedy and sampling, five times as fast
llamacpp_native.py      llama.cpp's library: bindings, the CPU variant for this CPU, load options
llamacpp_weights.py     the GGUF file llama.cpp runs (F16 built once from the shipped Q4_1)
llamacpp_server.py      llama.cpp's own server, loaded as rsdemo loads llama.cpp (scripts/serve.sh)
engine_check.py         the self-check before a fast engine is trusted; crashes as typed errors; verdicts
thread_count.py         llama.cpp's threads per token: every core while free, one while contended
light_signal.py         the app's light requests in flight, shared with the generation workers
decode_worker.py        generation worker processes (llama.cpp's decode loop, transformers' runs)
remote_engine.py        a serving engine the operator runs (vLLM, llama.cpp's server, TGI, OpenAI-compatible)
servers.py              those servers as data: methods, request fields, what their log-probabilities mean
processors.py           the decoding stages, transformers' own processors in transformers' order
results.py              what a run yields: tokens with their distributions, beams, the prompt
prompts.py              the chat template applied, the ids, the doubled-BOS warning
requests.py             a request checked before anything is loaded
reproduce.py            the transformers code that reproduces a run
"""

from .engine import Capabilities, GenerationEngine
from .llamacpp_engine import LlamaCppEngine
from .prompts import build_prompt
from .remote_engine import RemoteConfig, RemoteEngine
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
from .transformers_engine import TOP_K_ALTERNATIVES, TransformersEngine, generate_stream


def default_engines(settings: object = None) -> list[GenerationEngine]:
    """Every generation engine rsdemo has, fastest first where they can run a request.

    The remote engine is there when the operator configured a server (``settings.remote_url``).
    """
    engines: list[GenerationEngine] = [LlamaCppEngine(settings=settings), TransformersEngine()]
    if settings is not None and getattr(settings, "remote_url", ""):
        engines.insert(0, RemoteEngine(RemoteConfig.from_settings(settings)))  # type: ignore[arg-type]
    return engines


__all__ = [
    "TOP_K_ALTERNATIVES",
    "Alternative",
    "Beam",
    "Capabilities",
    "GenerationEngine",
    "LlamaCppEngine",
    "RemoteConfig",
    "RemoteEngine",
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
