"""One JSON file per bench script: the figures of its last run, with the command that made them."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its same-run baseline.

    ``ratio`` is how many times better than the baseline (above 1: better), so a reader never
    has to know whether smaller or larger wins; ``met`` compares the figure with ``target``.
    """

    what: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


def machine() -> dict[str, str | int]:
    return {"python": platform.python_version(), "platform": platform.platform(terse=True),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count() or 0,
            "load_average_1min": f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""}


def write(script: str, figures: list[Figure], *, argv: list[str] | None = None, title: str = "",
          directory: Path = RESULTS_DIR) -> Path:
    """Write ``bench/results/SCRIPT.json`` and return its path; the command is rebuilt from argv."""
    argv = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m", f"bench.{script}", *argv])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{script}.json"
    doc = {"script": f"bench.{script}", "title": title, "command": command,
           "measured_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), "machine": machine(),
           "figures": [asdict(f) for f in figures]}
    path.write_text(json.dumps(doc, indent=2, default=_plain) + "\n", encoding="utf-8")
    print(f"figures written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path


def _plain(value):
    """numpy scalars (a float64 ratio, a bool_ comparison) as the Python numbers JSON knows."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def read_all(directory: Path = RESULTS_DIR) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]
