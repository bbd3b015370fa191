"""What machine and which code a benchmark measured: shared by the benchmark scripts."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def machine_info(*, dists: Sequence[str]) -> dict[str, object]:
    """CPU, cores, Python, the versions of ``dists``, the rsdemo commit and a hash of its source."""
    versions: dict[str, str | None] = {}
    for dist in dists:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "rsdemo").glob("*.py")):  # the exact rsdemo source measured
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
        "rsdemo_commit": commit,
        "rsdemo_source_sha256": digest.hexdigest()[:12],
        "load_average_at_start": load,
    }
