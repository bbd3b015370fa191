"""Check a fast engine before trusting it: a few tokens of a fixed prompt against the model's own top candidates.

llama.cpp runs native code chosen for the CPU it meets, and on some CPUs that code is broken (on Intel CPUs
with AMX, llama.cpp's AMX weight buffer segfaults at the first decode). So before the first run on a machine,
the engine reads a fixed prompt and steps along the model's own greedy answer (``EngineCheck``, catalog data
that a test recomputes with transformers, fp32 on the de-quantised weights) and must rank the tokens as the
model does: its top choice among the model's top five at every step, the model's top choice among its own
top five, the same top choice wherever the model is sure (over 90 %), and finite numbers. A crash (a signal)
or a failed check sets the engine aside for the process; the verdict is remembered in the cache directory
for this library build and this CPU (``remember`` / ``remembered``), so the CLI's next call and the app's
next start know at once. Where a crash would take the caller down (llama.cpp in the app's own process),
``probe`` runs the check in a child process first (``rsdemo.generation.child.probe``). A crash is told apart
from a plain failure by ``crash`` (``rsdemo.generation.crashes``).

>>> check = EngineCheck(text="x", ids=(1,), steps=(((5, 6, 7, 8, 9), 0.97),))
>>> import numpy as np
>>> logits = np.zeros(10, dtype=np.float32); logits[5] = 9.0
>>> disagreement(check, [logits]) is None
True
>>> logits[5], logits[3] = 0.0, 9.0
>>> disagreement(check, [logits])
'step 1: it ranks id 3 first; the model ranks 5 first (97 %)'
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..catalog import EngineCheck
from ..core.children import python_module
from ..core.errors import EngineFailedError
from .crashes import crash, fault, signal_name

__all__ = ["crash", "disagreement", "probe", "remember", "remembered", "run_check", "signal_name", "verdict_key"]

log = logging.getLogger(__name__)

CHECK_VERSION = 1  # bump when the check itself changes: remembered verdicts are then asked again
_SURE = 0.9


def disagreement(check: EngineCheck, rows: Sequence[Any]) -> str | None:
    """Where an engine's logits (``rows[k]``: after the prompt and ``k`` forced ids) disagree with the check.

    Returns None when they agree, else the first disagreement in words.
    """
    import numpy as np

    if len(rows) < len(check.steps):
        return f"it gave {len(rows)} rows of logits for {len(check.steps)} steps"
    for k, ((top, p1), row) in enumerate(zip(check.steps, rows), start=1):
        row = np.asarray(row, dtype=np.float64)
        if not np.isfinite(row).all():
            return f"step {k}: its logits are not finite numbers"
        mine = np.argsort(-row)[:5].tolist()
        if mine[0] not in top or top[0] not in mine or (p1 > _SURE and mine[0] != top[0]):
            return f"step {k}: it ranks id {mine[0]} first; the model ranks {top[0]} first ({p1 * 100:.0f} %)"
    return None


def verdict_key(*, engine: str, options: dict[str, Any]) -> str:
    """What a remembered verdict is about: the engine's library files, this CPU and the load options, hashed.

    A rebuilt library, another CPU (a moved cache) or other options ask again.
    """
    from .llamacpp_native import cpu_flags, cpu_model, library_dir

    digest = hashlib.sha256(f"{engine}\0{CHECK_VERSION}\0{cpu_model()}\0{sorted(cpu_flags())}".encode())
    digest.update(json.dumps(options, sort_keys=True).encode())
    lib = library_dir()
    for path in sorted(lib.iterdir()) if lib is not None else ():
        stat = path.stat()
        digest.update(f"\0{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _verdict_path(cache_dir: str | os.PathLike, engine: str, key: str) -> Path:
    return Path(cache_dir) / "engine-checks" / f"{engine.replace('.', '')}-{key}.json"


def remembered(cache_dir: str | os.PathLike, *, engine: str, key: str) -> dict[str, Any] | None:
    """The verdict remembered for this key: ``{"ok": bool, "why": str, "when": str, "path": str}``, or None."""
    path = _verdict_path(cache_dir, engine, key)
    try:
        verdict = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("ok"), bool):
        return None
    verdict["path"] = str(path)
    return verdict


def remember(cache_dir: str | os.PathLike, *, engine: str, key: str, ok: bool, why: str = "") -> None:
    """Write a verdict for this key (atomically; a read-only cache only loses the memory)."""
    from .llamacpp_native import cpu_model

    path = _verdict_path(cache_dir, engine, key)
    verdict = {
        "ok": ok,
        "why": why,
        "cpu": cpu_model(),
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(verdict))
        os.replace(tmp, path)
    except OSError as err:
        log.debug("could not remember the %s verdict: %s", engine, err)


def probe(*, path: Path, check: EngineCheck, extra: bool, timeout_s: float = 120.0) -> None:
    """Load the GGUF model with llama.cpp and run ``check`` in a child process; raise if it fails or crashes.

    For llama.cpp in the app's own process (``generation_process`` off, and Windows): a crash there would take
    the app down, so the first load on a machine is tried where a crash costs nothing.

    Raises:
        EngineFailedError: the child crashed, or the engine disagreed with the check (the message says how).
    """
    request = json.dumps({"path": str(path), "extra": extra, "check": dataclasses.asdict(check)})
    env = dict(os.environ)
    try:
        done = subprocess.run(
            python_module("rsdemo.generation.child.probe"),
            input=request,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EngineFailedError(f"did not finish its self-check within {timeout_s:g} s", machine=False) from None
    if done.returncode < 0:
        raise crash(returncode=done.returncode, when="in its self-check")
    lines = done.stdout.strip().splitlines()
    answer = json.loads(lines[-1]) if lines else {}
    if answer.get("ok"):
        return
    raise EngineFailedError(
        answer.get("why") or f"stopped in its self-check (exit status {done.returncode}: {done.stderr.strip()[-300:]})",
        machine=bool(answer.get("machine", False)),
    )


def run_check(loaded: Any, check: EngineCheck) -> None:
    """Run ``check`` on a loaded llama.cpp model (``LlamaCppModel.logits``); raise if it disagrees.

    Raises:
        EngineFailedError: the first disagreement, in words.
    """
    import threading

    ids = [*check.ids, *check.forced()]
    rows: list[Any] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            fault("self-check")
            rows.extend(loaded.logits(ids, start=len(check.ids)))
        except BaseException as err:  # noqa: BLE001 - raised in the caller
            failed.append(err)

    # on a thread that ends: an OpenMP team started here goes with it. A team kept by a long-lived thread (the
    # worker's main thread) makes later runs' teams throttle their waits, as if asleep (1.6x slower, measured)
    thread = threading.Thread(target=read, name="rsdemo-engine-check")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    why = disagreement(check, rows)
    if why is not None:
        raise EngineFailedError(f"gave other numbers than the model's own in its self-check ({why})")
