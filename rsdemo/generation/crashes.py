"""A native engine's child process that died, as a typed error; and the test seam that makes one die.

llama.cpp runs native code in child processes of rsdemo's (the decode worker, the self-check probe, the
quantizer). When one dies by a signal, ``crash`` says so in a clause the app shows, and whether the machine is
the cause (a segfault, an illegal instruction: the engine is set aside) or something outside (the out-of-memory
killer, an operator). ``fault`` is the seam the tests use to cause a real crash in a child process.

>>> crash(returncode=-11, when="in its self-check")
EngineFailedError('crashed on this CPU (SIGSEGV) in its self-check')
>>> crash(returncode=-9, when="before its first token").machine
False
"""

from __future__ import annotations

import os
import signal

from ..core.errors import EngineFailedError

__all__ = ["IN_CHILD", "crash", "fault", "signal_name"]

IN_CHILD = False  # set in the worker and probe processes: only there is the fault seam honoured
_MACHINE_SIGNALS = frozenset({"SIGSEGV", "SIGILL", "SIGBUS", "SIGFPE", "SIGABRT", "SIGSYS", "SIGTRAP"})


def fault(point: str) -> None:
    """The test seam for a native crash: ``RSDEMO_FAULT=self-check`` or ``first-decode`` makes a worker or probe
    process segfault there (a real SIGSEGV, as llama.cpp's own crash; never in the app's own process)."""
    if IN_CHILD and os.environ.get("RSDEMO_FAULT") == point:
        import ctypes

        ctypes.string_at(0)


def signal_name(returncode: int | None) -> str:
    """``SIGSEGV`` for a process killed by signal 11 (a negative return code); "" otherwise.

    >>> signal_name(-11), signal_name(1), signal_name(None)
    ('SIGSEGV', '', '')
    """
    if returncode is None or returncode >= 0:
        return ""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def crash(*, returncode: int | None, when: str) -> EngineFailedError:
    """The error for a process that died, as a clause: ``crashed on this CPU (SIGSEGV) {when}``.

    A signal that is the machine's doing (a segfault, an illegal instruction) sets the engine aside; a kill from
    outside (SIGKILL: the out-of-memory killer, an operator) or a plain exit does not.
    """
    name = signal_name(returncode)
    if name:
        machine = name in _MACHINE_SIGNALS
        cause = f"crashed on this CPU ({name})" if machine else f"was killed ({name})"
        return EngineFailedError(f"{cause} {when}", signal=name, machine=machine)
    return EngineFailedError(f"stopped (exit status {returncode}) {when}", machine=False)
