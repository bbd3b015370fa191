"""How rsdemo starts a Python child of its own (the decode worker, the engine self-check, the quantizer).

The child runs ``python -c <bootstrap> args...``: the bootstrap puts the folder that holds *this* copy of the
``rsdemo`` package first on the child's ``sys.path`` and runs the module as ``__main__``, so the child imports the
same code as the app whether rsdemo is installed (``pip install -e .``), run from a checkout (a Space runs
``python app.py``) or started from another folder — with no ``PYTHONPATH`` edited for anyone else.

>>> argv = python_module("rsdemo.generation.engine_check", "x")
>>> argv[1], argv[-1], "rsdemo.generation.engine_check" in argv[2]
('-c', 'x', True)
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["python_module"]

_ROOT = str(Path(__file__).resolve().parents[2])

_BOOTSTRAP = "import runpy, sys; sys.path.insert(0, {root!r}); runpy.run_module({module!r}, run_name='__main__')"


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs ``module`` as ``python -m module args...`` would, from this copy of rsdemo."""
    return [sys.executable, "-c", _BOOTSTRAP.format(root=_ROOT, module=module), *args]
