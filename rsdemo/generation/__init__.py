"""Generation: engines behind one seam, and the plain results every view reads.

engine.py               the seam: an engine's capabilities, every question the backend asks it, with defaults
run_clock.py            the end of a run, as every engine reports it: first-token time, tokens/s, finish reason
transformers_engine.py  ``model.generate`` (every decoding method, on any device)
transformers_run.py     its parts: the checked request, what generate's thread hands over, the final beams
llamacpp_engine.py      llama.cpp on the embedded GGUF files, CPU: greedy and sampling, five times as fast
llamacpp_model.py       a GGUF model loaded by llama.cpp, and the decode loop (llama.cpp's logits, our stages)
llamacpp_native.py      llama.cpp's library: bindings, the CPU variant for this CPU, load options
llamacpp_weights.py     the GGUF file llama.cpp runs (F16 built once from the shipped Q4_1)
llamacpp_server.py      llama.cpp's own server, loaded as rsdemo loads llama.cpp (scripts/serve.sh)
engine_check.py         the self-check before a fast engine is trusted; verdicts remembered
crashes.py              a native engine's child that died, as a typed error; the test seam that makes one die
thread_count.py         llama.cpp's threads per token: every core while free, one while contended
light_signal.py         the app's light requests in flight, shared with the generation workers
worker/                 generation worker processes, the app's side (llama.cpp's decode loop, transformers' runs)
child/                  the entry points of generation's child processes (the worker, the probe, the quantizer)
remote_engine.py        a serving engine the operator runs (vLLM, llama.cpp's server, TGI, OpenAI-compatible)
remote_config.py        where that server is, and a model on it
remote_stream.py        talking to it: requests, clear errors, the streamed tokens
servers.py              those servers as data: methods, request fields, what their log-probabilities mean
processors.py           the decoding stages, transformers' own processors in transformers' order
results.py              what a run yields: tokens with their distributions, beams, the prompt
prompts.py              the chat template applied, the ids, the doubled-BOS warning
requests.py             a request checked before anything is loaded
reproduce.py            the transformers code that reproduces a run
"""

from .engine import Capabilities, GenerationEngine, ServingEngine
from .llamacpp_engine import LlamaCppEngine
from .prompts import build_prompt
from .remote_engine import RemoteConfig, RemoteEngine
from .requests import check_request
from .results import (
    TOP_K_ALTERNATIVES,
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
from .transformers_engine import TransformersEngine, generate_stream


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
    "ServingEngine",
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
