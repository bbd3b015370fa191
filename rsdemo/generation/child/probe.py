"""The self-check's child process (``engine_check.probe``): load the GGUF model with llama.cpp, run the check.

It reads ``{"path", "extra", "check"}`` as JSON on stdin and prints one JSON line: ``{"ok": true}`` or
``{"ok": false, "why": ..., "machine": ...}``. A crash here (a signal) costs only this process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...catalog import EngineCheck
from ...core.errors import EngineFailedError
from .. import crashes
from ..engine_check import run_check
from ..llamacpp_model import LlamaCppModel

__all__ = ["main"]


def main() -> int:
    """The probe's child: read the request on stdin, load, check, print one JSON line."""
    crashes.IN_CHILD = True
    request = json.loads(sys.stdin.read())
    data = request["check"]
    check = EngineCheck(
        text=data["text"], ids=tuple(data["ids"]), steps=tuple((tuple(top), float(p)) for top, p in data["steps"])
    )
    try:
        loaded = LlamaCppModel(
            key="probe",
            spec=None,
            path=Path(request["path"]),
            tokenizer=None,
            adapter=None,
            contexts=1,
            extra=bool(request["extra"]),
        )
        run_check(loaded, check)
    except EngineFailedError as err:
        print(json.dumps({"ok": False, "why": str(err), "machine": err.machine}), flush=True)
        return 3
    except Exception as err:  # noqa: BLE001 - reported to the parent
        print(
            json.dumps(
                {"ok": False, "why": f"could not load the model here ({type(err).__name__}: {err})", "machine": True}
            ),
            flush=True,
        )
        return 3
    print(json.dumps({"ok": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
